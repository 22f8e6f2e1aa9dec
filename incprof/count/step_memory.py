"""A training step's memory, modelled from the spec alone (no torch): parameters, gradients,
optimizer state, buffers, the bytes saved for backward, and the step's peak; beside it, inference
memory for the ratio.

The model (stated in every output that uses it, ``RULES``):
- state before the step: parameters, BatchNorm's running mean and variance (and its int64 batch
  counter), the optimizer's state (sgd none; momentum one buffer per trained parameter; adam and
  adamw two, plus a 4-byte step count per parameter tensor) and the input batch;
- the backward pass runs the rows in reverse order of execution; while row k runs, what is alive
  on top of the state is every byte saved for backward by the rows up to k, the gradients of the
  trained parameters of the rows from k on, and the gradients of row k's output and input;
- the optimizer step holds every gradient, plus (adam, adamw) two temporaries the size of the
  largest parameter tensor (the square root of the second moment, then its quotient);
- the peak is the state plus the largest of these.
Inference memory is the main network's parameters and buffers (no aux head) plus the peak live
activations of the forward pass (incprof.count.geometry), the input included.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.layers import Branches, Conv, Linear, Residual, Separable, leaves
from ..spec.shapes import numel, walk
from .training import RowStep, saved_bytes

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
STATE_COPIES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}  # buffers per trained parameter
STEP_BYTES = 4  # adam's step count: one fp32 scalar per parameter tensor
COUNTER_BYTES = 8  # BatchNorm's num_batches_tracked, int64
RULES = (
    "Training memory (modelled): state = parameters + BatchNorm buffers + optimizer state (sgd: "
    "none; momentum: 1 copy of the trained parameters; adam/adamw: 2 copies and a 4-byte step per "
    "parameter tensor) + the input batch. Peak = state + the largest of: while each row's backward "
    "runs (in reverse order), the bytes saved by the rows up to it, the trained gradients of the "
    "rows from it on, and the gradients of its output and input; at the optimizer step, every "
    "gradient (adam/adamw: plus two temporaries of the largest parameter tensor). Inference "
    "memory: the main network's parameters and buffers (no aux head) and the forward pass's "
    "peak live activations.")


def row_tensors(layers, in_shape) -> list[int]:
    """Elements of each parameter tensor of a placed layer sequence, in order: weight, bias and
    BatchNorm scale and shift; a separable conv's depthwise then pointwise weight."""
    out: list[int] = []
    for layer, i, o in walk(layers, in_shape)[0]:
        if isinstance(layer, Branches):
            for branch in layer.branches:
                out += row_tensors(branch, i)
        elif isinstance(layer, Residual):
            out += row_tensors(layer.body, i) + row_tensors(layer.shortcut, i)
        elif isinstance(layer, (Conv, Separable)):
            if isinstance(layer, Separable):
                mid = i[0] * layer.multiplier
                out += [layer.kernel[0] * layer.kernel[1] * mid, mid * layer.out]
            else:
                out.append(layer.kernel[0] * layer.kernel[1] * (i[0] // layer.groups) * layer.out)
            out += [layer.out] * (layer.bias + 2 * (layer.bn_eps is not None))
        elif isinstance(layer, Linear):
            out += [numel(i) * layer.out] + [layer.out] * layer.bias
    return out


def buffer_bytes(layers) -> int:
    """BatchNorm's running mean and variance (fp32) and batch counter (int64)."""
    return sum(2 * 4 * layer.out + COUNTER_BYTES for layer in leaves(layers)
               if isinstance(layer, (Conv, Separable)) and layer.bn_eps is not None)


@dataclass(frozen=True)
class StepMemoryModel:
    """Modelled bytes of one training step and of inference, for the whole batch."""

    param_bytes: int
    buffer_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    input_bytes: int
    saved_bytes: int  # the whole step's, the input batch included
    peak_bytes: int
    inference_bytes: int

    @property
    def state_bytes(self) -> int:
        return self.param_bytes + self.buffer_bytes + self.optimizer_bytes + self.input_bytes


def model_step_memory(rows: list[RowStep], order: list[str], batch_size: int, optimizer: str,
                      inference_peak_elements: int, value_bytes: int = 4) -> StepMemoryModel:
    """The model (see the module's docstring) for rows counted by ``training.step_spec``;
    ``order`` names them in the order they run (each aux head after its row);
    ``inference_peak_elements`` is the forward pass's peak live elements per image."""
    if optimizer not in STATE_COPIES:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    by_name = {r.placed.name: r for r in rows}
    run = [by_name[name] for name in order]
    sizes = {r.placed.name: row_tensors(r.placed.layers, r.placed.in_shape) for r in rows}
    trained = {name: sum(sizes[name]) * value_bytes if by_name[name].trained else 0 for name in sizes}
    params = sum(sum(s) for s in sizes.values()) * value_bytes
    buffers = sum(buffer_bytes(r.placed.layers) for r in rows)
    grads = sum(trained.values())
    tensor_count = sum(len(sizes[n]) for n in sizes if by_name[n].trained)
    optimizer_bytes = STATE_COPIES[optimizer] * grads + \
        (STEP_BYTES * tensor_count if optimizer.startswith("adam") else 0)
    input_bytes = numel(run[0].placed.in_shape) * batch_size * value_bytes
    saved = [saved_bytes(r.counts, batch_size) for r in run]
    peak = 0
    for k in reversed(range(len(run))):
        p = run[k].placed
        live = sum(saved[:k + 1]) - input_bytes + sum(trained[r.placed.name] for r in run[k:]) + \
            (numel(p.in_shape) + numel(p.out_shape)) * batch_size * value_bytes
        peak = max(peak, live)
    largest = max((max(sizes[n], default=0) for n in sizes if by_name[n].trained), default=0)
    temporaries = 2 * largest * value_bytes if optimizer.startswith("adam") else 0
    peak = max(peak, grads + temporaries)
    state = params + buffers + optimizer_bytes + input_bytes
    main = [r for r in rows if not r.placed.is_aux]  # inference runs no aux head
    inference = sum(sum(sizes[r.placed.name]) * value_bytes + buffer_bytes(r.placed.layers)
                    for r in main) + inference_peak_elements * batch_size * value_bytes
    return StepMemoryModel(params, buffers, grads, optimizer_bytes, input_bytes, sum(saved),
                           state + peak, inference)
