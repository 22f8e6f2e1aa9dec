"""A training step's MACs per row, counted by torch: the built network runs a real forward and
``backward`` in training mode on meta tensors (shapes only, no arithmetic, the user's batch as it
is), and torch's FlopCounterMode formulas price every op. The second count of a training step,
independent of incprof.count.training.

Two runs. The whole step: FlopCounterMode itself around the forward pass and one
``loss.backward()``, for its total. Per row: the same ops, with each row's input detached and its
gradient handed back by ``torch.autograd.backward`` row by row, in reverse, so that every backward
op is known to belong to one row (FlopCounterMode's own module tracker can charge a backward op to
several modules). There each ``convolution_backward`` is priced twice by FlopCounterMode's formula,
once for the input gradient and once for the weight gradient (its output mask), and a backward
matmul is a weight gradient when no operand is a parameter (or a view of one) and its output has a
2-D parameter's shape (or its transpose), else an input gradient. The loss is the sum of the main
output plus each aux head's output times its loss weight (0.3 where the spec gives none); a loss
costs no MACs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

DEFAULT_AUX_WEIGHT = 0.3  # GoogLeNet's, section 5 of the paper


@dataclass(frozen=True)
class StepMeasured:
    """FlopCounterMode's MACs (FLOPs / 2) of one row in a training step, for the whole batch."""

    forward_macs: int
    input_grad_macs: int
    weight_grad_macs: int

    @property
    def backward_macs(self) -> int:
        return self.input_grad_macs + self.weight_grad_macs


class StepMeasurements(dict):
    """StepMeasured keyed by row / aux head name, plus ``flop_counter_flops``: FlopCounterMode's
    total for the undivided step (forward and one loss.backward()), in its FLOPs, and
    ``flop_counter_total``, that in MACs (FLOPs / 2)."""

    flop_counter_flops: int
    flop_counter_total: int


def _network(spec, input_hw, frozen):
    import torch

    from .build import build

    with torch.device("meta"):
        model = build(spec, input_hw, weights="empty").train()
    for name in frozen:
        for p in model.row(name).parameters():
            p.requires_grad_(False)
    return model


def _aux_weights(spec) -> list[float]:
    return [DEFAULT_AUX_WEIGHT if h.loss_weight is None else h.loss_weight for h in spec.aux]


def measure_step(spec, input_hw=None, batch_size: int = 2,
                 frozen: frozenset[str] = frozenset()) -> StepMeasurements:
    """Count a training step of the built network row by row with FlopCounterMode's formulas, and
    whole with FlopCounterMode, on meta tensors of ``batch_size`` images (see the module's
    docstring)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..count.limits import check_layers
    from ..spec.shapes import place

    check_layers([spec])
    shape = place(spec, input_hw)[0].in_shape
    weights = _aux_weights(spec)
    model = _network(spec, input_hw, frozen)
    with FlopCounterMode(display=False) as whole:
        outputs = model(torch.empty(batch_size, *shape, device="meta"), with_aux=True)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        loss = outputs[0].sum() + sum(w * o.sum() for w, o in zip(weights, outputs[1:]))
        loss.backward()
    results = _by_row(spec, _network(spec, input_hw, frozen), batch_size, shape, weights)
    results.flop_counter_flops = whole.get_total_flops()
    results.flop_counter_total = results.flop_counter_flops // 2
    return results


def _by_row(spec, model, batch_size: int, shape, weights) -> StepMeasurements:
    """The staged run: each row on a detached input, its gradient handed back row by row."""
    import torch

    pricing = _Pricing({id(p) for p in model.parameters()}, parameter_shapes(model))
    names = model.row_names + model.aux_names
    modules = list(model.rows) + list(model.aux)
    trained_before = [False]
    for row in model.rows:
        trained_before.append(trained_before[-1] or any(p.requires_grad for p in row.parameters()))
    inputs, outputs = [], []
    x = torch.empty(batch_size, *shape, device="meta")
    with pricing:
        for i, row in enumerate(model.rows):
            pricing.row = names[i]
            inputs.append(x.detach().requires_grad_(trained_before[i]))
            x = row(inputs[-1])
            outputs.append(x)
        for j, (head, after) in enumerate(zip(model.aux, model.aux_after)):
            pricing.row = model.aux_names[j]
            inputs.append(outputs[after].detach().requires_grad_(trained_before[after + 1]))
            outputs.append(head(inputs[-1]))
        pricing.backward = True
        n = len(model.rows)
        for j, weight in enumerate(weights):  # each head's loss, then its gradient to the trunk
            pricing.row = model.aux_names[j]
            _backward(outputs[n + j], torch.full_like(outputs[n + j], weight))
        for i in reversed(range(n)):
            pricing.row = names[i]
            grad = torch.ones_like(outputs[i]) if i == n - 1 else inputs[i + 1].grad
            for j, after in enumerate(model.aux_after):
                if after == i and inputs[n + j].grad is not None:
                    grad = inputs[n + j].grad if grad is None else grad + inputs[n + j].grad
            if grad is not None:
                _backward(outputs[i], grad)
    results = StepMeasurements()
    for name, module in zip(names, modules):
        results[name] = StepMeasured(pricing.forward[name] // 2, pricing.input_grad[name] // 2,
                                     pricing.weight_grad[name] // 2)
    return results


def parameter_shapes(model) -> set[tuple]:
    """The shapes of a model's 2-D parameters, each also transposed: a backward matmul with one
    of these outputs, and no parameter operand, is a weight gradient."""
    shapes = {tuple(p.shape) for p in model.parameters() if p.dim() == 2}
    return shapes | {s[::-1] for s in shapes}


def _backward(output, grad) -> None:
    import torch

    if output.requires_grad:
        torch.autograd.backward(output, grad)


def pricing_mode(price):
    """A TorchDispatchMode (not yet entered) that runs every op and then hands
    ``price(func, args, kwargs, out)`` the op and its result."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Pricing(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            price(func, args, kwargs, out)
            return out

    return Pricing()


class _Pricing:
    """A TorchDispatchMode (made on entry) pricing every op that FlopCounterMode has a formula for,
    per row, forward apart from input and weight gradients."""

    def __init__(self, parameter_ids: set[int], parameter_shapes: set[tuple] = frozenset()) -> None:
        self.parameter_ids = parameter_ids
        self.parameter_shapes = parameter_shapes  # a 2-D parameter's shape, and transposed
        self.row = ""
        self.backward = False
        self.forward: Counter = Counter()
        self.input_grad: Counter = Counter()
        self.weight_grad: Counter = Counter()
        self._mode = None

    def _is_parameter(self, value) -> bool:
        return id(value) in self.parameter_ids or id(getattr(value, "_base", None)) in \
            self.parameter_ids

    def price(self, func, args, kwargs, out) -> None:
        import torch
        from torch.utils.flop_counter import flop_registry

        packet = func.overloadpacket
        formula = flop_registry.get(packet)
        if formula is None:
            return
        if not self.backward:
            self.forward[self.row] += formula(*args, **kwargs, out_val=out)
            return
        if packet is torch.ops.aten.convolution_backward:
            mask = list(args[10])
            for part, counter in ((0, self.input_grad), (1, self.weight_grad)):
                if mask[part]:
                    only = [i == part for i in range(3)]
                    counter[self.row] += formula(*args[:10], only, *args[11:], **kwargs,
                                                 out_val=out)
            return
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        weight = not any(map(self._is_parameter, tensors)) and \
            tuple(out.shape) in self.parameter_shapes
        counter = self.weight_grad if weight else self.input_grad
        counter[self.row] += formula(*args, **kwargs, out_val=out)

    def __enter__(self):
        self._mode = pricing_mode(self.price)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
