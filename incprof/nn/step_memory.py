"""A training step's memory, measured on the CPU: the bytes autograd saves for backward per row
(``torch.autograd.graph.saved_tensors_hooks``: every tensor packed for backward, parameters and
buffers excepted, each storage once, charged to the row that first saves it) and the step's peak
from the allocator, read from torch.profiler's memory events (each allocation and free, in order;
the peak is the highest running sum, on top of what was alive before the step: parameters, buffers,
optimizer state and the input batch).

The step is what training code runs: gradients set to None, the forward pass in training mode
(aux heads included), the loss (sum of the main output and each aux output times its weight), one
``loss.backward()`` and ``optimizer.step()``. It runs once untimed first, so that the optimizer's
state exists, as it does at every step but the first. This runs real arithmetic at the batch
asked, with zeroed weights (their values never matter to memory).
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from ..count.step_memory import OPTIMIZERS

@dataclass(frozen=True)
class StepMemory:
    """Measured bytes of one training step on the CPU."""

    saved_bytes: dict  # row / aux head name -> bytes first saved for backward there
    state_bytes: int  # alive before the step: parameters, buffers, optimizer state, input batch
    optimizer_bytes: int  # the optimizer's state alone
    peak_bytes: int  # the allocator's highest point during the step, state included


def make_optimizer(name: str, parameters):
    """The optimizer a step uses: sgd, sgd with momentum 0.9, adam or adamw, at torch's defaults
    otherwise (``foreach`` left to torch: off for CPU tensors)."""
    import torch

    if name == "sgd":
        return torch.optim.SGD(parameters, lr=0.01)
    if name == "momentum":
        return torch.optim.SGD(parameters, lr=0.01, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(parameters)
    if name == "adamw":
        return torch.optim.AdamW(parameters)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")


def _bytes(tensors) -> int:
    return sum(t.untyped_storage().nbytes() for t in {t.untyped_storage().data_ptr(): t
                                                      for t in tensors}.values())


def measure_step_memory(spec, input_hw=None, batch_size: int = 2, optimizer: str = "sgd",
                        frozen: frozenset[str] = frozenset()) -> StepMemory:
    """Run a training step of the built network on the CPU and measure its memory (see the
    module's docstring)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from ..count.limits import check_layers
    from ..spec.shapes import place
    from .backward import _aux_weights
    from .build import build

    check_layers([spec])
    model = build(spec, input_hw, weights="zero").train()
    for name in frozen:
        for p in model.row(name).parameters():
            p.requires_grad_(False)
    weights = _aux_weights(spec)
    opt = make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad])
    x = torch.zeros(batch_size, *place(spec, input_hw)[0].in_shape)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        outputs = model(x)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        loss = outputs[0].sum() + sum(w * o.sum() for w, o in zip(weights, outputs[1:]))
        loss.backward()
        opt.step()

    step()
    opt.zero_grad(set_to_none=True)
    state = [t for v in opt.state.values() for t in v.values() if isinstance(t, torch.Tensor)]
    optimizer_bytes = _bytes(state)
    alive = _bytes([*model.parameters(), *model.buffers(), x]) + optimizer_bytes
    saved = _saved_by_row(model, x)
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    running = peak = 0
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    for _, nbytes in events:
        running += nbytes
        peak = max(peak, running)
    return StepMemory(saved, alive, optimizer_bytes, alive + peak)


@contextmanager
def _quiet_stderr():
    """File descriptor 2 sent to the null device: the profiler's C++ side logs its start and stop
    there, past Python's sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _saved_by_row(model, x) -> dict:
    """Bytes autograd saves for backward in a training forward pass, by the row that first saves
    each storage (parameters and buffers excepted)."""
    import torch

    state = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    names = {model.module_name(n): n for n in model.row_names + model.aux_names}
    current: list[str] = []
    seen: set[int] = set()
    saved = {n: 0 for n in names.values()}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state and storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            saved[current[-1]] += storage.nbytes()
        return tensor

    hooks = []
    for key, name in names.items():
        module = model.get_submodule(key)
        hooks.append(module.register_forward_pre_hook(
            lambda _m, _i, name=name: current.append(name)))
        hooks.append(module.register_forward_hook(lambda _m, _i, _o: current.pop() and None))
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            outputs = model(x)
        del outputs
    finally:
        for hook in hooks:
            hook.remove()
    return saved
