"""A training step's cost per row, from the spec alone (no torch): backward MACs split into input
and weight gradients, backward other ops, and the bytes autograd saves for backward.

Conventions (stated in every output that uses them, ``RULES``):
- A step is one forward pass in training mode (the aux heads run, BatchNorm normalises with the
  batch's statistics, dropout draws a mask), then one backward pass through the main network and
  every aux head.
- A conv's input gradient is a transposed conv with the conv's MACs; its weight gradient is the
  same MACs again. A linear layer's input and weight gradients are each ``in * out`` MACs.
- The first layer computes no input gradient: the network input needs none. A layer computes one
  only when a parameter before it is trained.
- Frozen parameters (``requires_grad=False``) compute no weight gradient.
- Normalisation, pooling, activation and dropout backward are other ops, per element: ReLU 1
  (its mask), max pool 1 per output (routing to the argmax), avg pool one per window element per
  output, adaptive pooling one per input, BatchNorm 4 (two reductions and the input gradient),
  LRN twice its forward, softmax 2, dropout 1, a bias gradient 1 per output (a sum), a residual
  scaling 1; where one tensor feeds several layers (branches, an aux head), one add per element
  for each extra reader. The training forward adds 2 per BatchNorm element (batch mean and
  variance) and 1 per dropout element (its mask) to the inference other ops.
- Saved bytes: the tensors autograd keeps for backward, parameters and buffers excepted, each
  storage once, counted where it is first saved: a conv's input (whenever a gradient flows through
  it, trained or frozen), a linear layer's input (when its weight is trained); BatchNorm's input and
  per-channel mean and inverse std; a ReLU's or softmax's output; a max pool's input and its int64
  indices; an avg or adaptive pool's input (global average pooling saves nothing: it is a mean);
  LRN's input, two intermediates of its size and its padded squares; dropout's mask (a float
  tensor). A layer whose output needs no gradient saves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.fields import Pair
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax)
from ..spec.model import ArchSpec
from ..spec.shapes import Placed, numel, place, rule, walk
from .analytic import layer_counts

RULES = (
    "A training step: a forward pass in training mode (aux heads run) and a backward pass. A "
    "conv's input gradient is a transposed conv of its MACs and its weight gradient the same MACs "
    "again; a linear layer's are in*out each. The first layer computes no input gradient (its "
    "input needs none), nor does any layer with no trained parameter before it; frozen parameters "
    "compute no weight gradient. Normalisation, pooling, activation and dropout backward are "
    "other ops (per element: ReLU 1, max pool 1 per output, avg pool its window, adaptive pool 1 "
    "per input, BatchNorm 4, LRN twice its forward, softmax 2, dropout 1, bias gradient 1, one add "
    "per extra reader of a tensor). Saved bytes: what autograd keeps for backward, parameters "
    "excepted, each storage once, where first saved.")

INDEX_BYTES = 8  # max pooling's indices are int64 whatever the dtype
STAT_BYTES = 4  # BatchNorm's saved mean and inverse std are fp32


@dataclass(frozen=True)
class StepCounts:
    """A training step's counts for one layer, row or network, per image (saved bytes: at fp32
    unless stated)."""

    forward_macs: int = 0
    input_grad_macs: int = 0
    weight_grad_macs: int = 0
    forward_other_ops: int = 0
    backward_other_ops: int = 0
    saved_bytes: int = 0
    # what FlopCounterMode adds over the true weight-gradient MACs of a grouped conv: its formula
    # takes every input channel, so it counts groups x the MACs
    grouped_excess_macs: int = 0
    stat_bytes: int = 0  # BatchNorm's saved mean and inverse std: per channel, not per image

    @property
    def backward_macs(self) -> int:
        """Input- plus weight-gradient MACs."""
        return self.input_grad_macs + self.weight_grad_macs

    @property
    def step_macs(self) -> int:
        """Forward plus backward MACs: one training step."""
        return self.forward_macs + self.backward_macs

    def __add__(self, other: "StepCounts") -> "StepCounts":
        return StepCounts(*(a + b for a, b in zip(_values(self), _values(other))))


def _values(counts: StepCounts) -> tuple[int, ...]:
    return (counts.forward_macs, counts.input_grad_macs, counts.weight_grad_macs,
            counts.forward_other_ops, counts.backward_other_ops, counts.saved_bytes,
            counts.grouped_excess_macs, counts.stat_bytes)


@dataclass
class _Flow:
    """What a walk carries: whether the current tensor needs a gradient, whether this row's
    parameters are trained, the storages saved so far (ids), and the next storage id."""

    needs_grad: bool
    trained: bool
    saved: set
    value_bytes: int
    next_id: int = 0

    def new(self) -> int:
        self.next_id += 1
        return self.next_id

    def save(self, storage: int, elements: int, element_bytes: int | None = None) -> int:
        """Bytes newly saved for ``storage`` (0 when it was saved already)."""
        if storage in self.saved:
            return 0
        self.saved.add(storage)
        return elements * (self.value_bytes if element_bytes is None else element_bytes)


def _conv(layer: Conv | Separable, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    counts = layer_counts(layer, i, o)
    out = numel(o)
    needs_in, trained = flow.needs_grad, flow.trained
    needs_out = needs_in or trained
    saved = 0
    excess = 0
    if isinstance(layer, Separable):
        mid = i[0] * layer.multiplier * o[1] * o[2]
        depthwise = layer.kernel[0] * layer.kernel[1] * mid
        pointwise = counts.macs - depthwise
        input_grad = (depthwise if needs_in else 0) + (pointwise if needs_out else 0)
        if needs_out:  # a conv in the graph keeps its input, trained or not
            saved += flow.save(tensor, numel(i)) + flow.save(flow.new(), mid)
        excess = depthwise * (i[0] - 1)  # the depthwise conv has groups = C_in
    else:
        input_grad = counts.macs if needs_in else 0
        if needs_out:
            saved += flow.save(tensor, numel(i))
        excess = counts.macs * (layer.groups - 1)
    weight_grad = counts.macs if trained else 0
    result = flow.new()
    backward_other = out if layer.bias and trained else 0
    forward_other, stats = counts.other_ops, 0
    if layer.bn_eps is not None:
        if needs_out:
            saved += flow.save(result, out)
            stats = 2 * o[0] * STAT_BYTES
        result = flow.new()
        forward_other += 2 * out
        backward_other += 4 * out if needs_out else 0
    if layer.relu and needs_out:
        saved += flow.save(result, out)
        backward_other += out
    flow.needs_grad = needs_out
    return StepCounts(counts.macs, input_grad, weight_grad, forward_other, backward_other, saved,
                      excess if trained else 0, stats), result


def _linear(layer: Linear, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    counts = layer_counts(layer, i, o)
    needs_out = flow.needs_grad or flow.trained
    saved = flow.save(tensor, numel(i)) if flow.trained else 0
    result = flow.new()
    backward_other = layer.out if layer.bias and flow.trained else 0
    if layer.relu and needs_out:
        saved += flow.save(result, layer.out)
        backward_other += layer.out
    step = StepCounts(counts.macs, counts.macs if flow.needs_grad else 0,
                      counts.macs if flow.trained else 0, counts.other_ops, backward_other, saved)
    flow.needs_grad = needs_out
    return step, result


def _pool(layer: Pool, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    forward = layer_counts(layer, i, o).other_ops
    if not flow.needs_grad:
        return StepCounts(forward_other_ops=forward), flow.new()
    saved = flow.save(tensor, numel(i))
    result = flow.new()
    if layer.kind == "max":
        saved += flow.save(flow.new(), numel(o), INDEX_BYTES)
        return StepCounts(forward_other_ops=forward, backward_other_ops=numel(o),
                          saved_bytes=saved), result
    return StepCounts(forward_other_ops=forward, backward_other_ops=forward,
                      saved_bytes=saved), result


def _adaptive(layer: GlobalAvgPool | AdaptiveAvgPool, i: Shape, o: Shape, flow: _Flow,
              tensor: int) -> tuple[StepCounts, int]:
    forward = layer_counts(layer, i, o).other_ops
    if not flow.needs_grad:
        return StepCounts(forward_other_ops=forward), flow.new()
    # pooling to 1x1 is a mean, which saves nothing; other sizes keep their input
    saved = 0 if o[1:] == (1, 1) else flow.save(tensor, numel(i))
    return StepCounts(forward_other_ops=forward, backward_other_ops=numel(i),
                      saved_bytes=saved), flow.new()


def _lrn(layer: LRN, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    forward = layer_counts(layer, i, o).other_ops
    if not flow.needs_grad:
        return StepCounts(forward_other_ops=forward), flow.new()
    padded = (i[0] + layer.size - 1) * i[1] * i[2]  # the squares, padded across channels
    saved = flow.save(tensor, numel(i)) + flow.save(flow.new(), 2 * numel(i)) + \
        flow.save(flow.new(), padded)
    return StepCounts(forward_other_ops=forward, backward_other_ops=2 * forward,
                      saved_bytes=saved), flow.new()


def _elementwise(per_element: int):
    """ReLU (1), softmax (2): each saves its output."""
    def count(layer, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
        forward = layer_counts(layer, i, o).other_ops
        result = flow.new()
        if not flow.needs_grad:
            return StepCounts(forward_other_ops=forward), result
        return StepCounts(forward_other_ops=forward, backward_other_ops=per_element * numel(o),
                          saved_bytes=flow.save(result, numel(o))), result
    return count


def _dropout(layer: Dropout, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    if layer.p == 0:
        return StepCounts(), tensor
    if not flow.needs_grad:
        return StepCounts(forward_other_ops=numel(o)), flow.new()
    return StepCounts(forward_other_ops=numel(o), backward_other_ops=numel(o),
                      saved_bytes=flow.save(flow.new(), numel(o))), flow.new()


def _branches(layer: Branches, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    needs_in, total, ends = flow.needs_grad, StepCounts(), []
    for branch in layer.branches:
        flow.needs_grad = needs_in
        counts, _ = _sequence(branch, i, flow, tensor)
        total += counts
        ends.append(flow.needs_grad)
    extra = (len(layer.branches) - 1) * numel(i) if needs_in else 0  # gradients summed
    flow.needs_grad = any(ends)
    return total + StepCounts(backward_other_ops=extra), flow.new()


def _residual(layer: Residual, i: Shape, o: Shape, flow: _Flow, tensor: int) -> tuple[StepCounts, int]:
    needs_in = flow.needs_grad
    body, _ = _sequence(layer.body, i, flow, tensor)
    needs_out = flow.needs_grad
    flow.needs_grad = needs_in
    shortcut, _ = _sequence(layer.shortcut, i, flow, tensor)
    needs_out = needs_out or flow.needs_grad
    out = numel(o)
    scaled = layer.scale != 1
    forward = out * (1 + scaled + layer.relu)
    backward = (out * scaled + (out if needs_in else 0)) if needs_out else 0  # scaling; the sum
    result = flow.new()
    saved = 0
    if layer.relu and needs_out:
        saved = flow.save(result, out)
        backward += out
    flow.needs_grad = needs_out
    return body + shortcut + StepCounts(forward_other_ops=forward, backward_other_ops=backward,
                                        saved_bytes=saved), result


# Each layer type's training-step counts, given whether its input needs a gradient and whether its
# row's parameters are trained (see the module's docstring).
STEP_RULES = {
    Conv: _conv, Separable: _conv, Linear: _linear, Pool: _pool,
    GlobalAvgPool: _adaptive, AdaptiveAvgPool: _adaptive, LRN: _lrn,
    ReLU: _elementwise(1), Softmax: _elementwise(2), Dropout: _dropout,
    Branches: _branches, Residual: _residual,
}


def _sequence(layers: tuple[Layer, ...], in_shape: Shape, flow: _Flow,
              tensor: int) -> tuple[StepCounts, int]:
    total = StepCounts()
    for layer, i, o in walk(layers, in_shape)[0]:
        counts, tensor = rule(STEP_RULES, layer)(layer, i, o, flow, tensor)
        total += counts
    return total, tensor


@dataclass(frozen=True)
class RowStep:
    """A placed row (or aux head) with its training-step counts per image."""

    placed: Placed
    counts: StepCounts
    trained: bool


def step_spec(spec: ArchSpec, input_hw: Pair | None = None, frozen: frozenset[str] = frozenset(),
              value_bytes: int = 4) -> list[RowStep]:
    """Training-step counts per image of every row and aux head of a spec, in network order; the
    rows named in ``frozen`` have their parameters frozen. Each aux head reads the output of its
    row, which then feeds two layers (one add per element in the backward, counted on the
    head)."""
    flow = _Flow(needs_grad=False, trained=True, saved=set(), value_bytes=value_bytes)
    tensor = flow.new()  # the network input
    placed = place(spec, input_hw)
    heads = {p.name: p for p in placed if p.is_aux}
    counted: dict[str, RowStep] = {}

    def count(p: Placed, tensor_in: int) -> int:
        flow.trained = p.name not in frozen
        needs_in = flow.needs_grad
        counts, tensor_out = _sequence(p.layers, p.in_shape, flow, tensor_in)
        if p.is_aux and needs_in and flow.needs_grad:  # its gradient joins the trunk's
            counts += StepCounts(backward_other_ops=numel(p.in_shape))
        counted[p.name] = RowStep(p, counts, p.name not in frozen)
        return tensor_out

    for p in placed:  # in the order they run: each aux head right after its row
        if p.is_aux:
            continue
        tensor = count(p, tensor)
        needs_out = flow.needs_grad
        for head in spec.aux:
            if head.after == p.name:
                count(heads[head.name], tensor)
                flow.needs_grad = needs_out
    return [counted[p.name] for p in placed]


def step_total(rows: list[RowStep]) -> StepCounts:
    """The sum of rows' counts."""
    return sum((r.counts for r in rows), StepCounts())


def saved_bytes(counts: StepCounts, batch_size: int) -> int:
    """Bytes saved for backward for ``batch_size`` images: the per-image tensors times the batch,
    BatchNorm's per-channel statistics once."""
    return counts.saved_bytes * batch_size + counts.stat_bytes
