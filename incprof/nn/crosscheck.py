"""Per-row params, MACs and conv/linear outputs of a built network, counted with torch's own FLOP
formulas (torch.utils.flop_counter, the ones FlopCounterMode applies): the second count,
independent of incprof.count.analytic.

The network is built on the CPU, its weights left as allocated rather than drawn at random, and
runs once on an empty batch (zero images) of the input's
shape: every op runs its real kernel on tensors with no elements, so shapes flow through the
network exactly as torch computes them while no arithmetic is done, and the count takes the same
time at any batch or input size, on a busy machine as on an idle one. (Meta tensors would do the
same, but torch's first meta op imports torch._dynamo and sympy, which takes longer than
``import torch`` itself.) A TorchFunctionMode sees each call with its arguments: conv2d and linear
are priced by FlopCounterMode's own formulas (FLOPs / 2) at the real batch size, the calls it has
no formula for are tallied by name. The main network and every aux head (on the output of the row
it follows) run in that one pass; the parameters are the built modules' own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..count.aten import Free

# Calls that read sizes, reshape, pass values through (dropout in eval mode) or make tensors, the
# free ops of the aten-op vocabulary that move no value, and reading an attribute such as .shape
# (``__get__``, a Python-level call that runs no aten op): no layer's op, so not listed among the
# calls counted as zero.
_NO_COMPUTE = Free("size", "same", "pass", "new")
_ATTRIBUTE = "__get__"


@dataclass(frozen=True)
class Measured:
    """The second count's figures for one row or aux head, for the whole batch."""

    params: int
    macs: int  # FlopCounterMode's formulas: FLOPs / 2
    activations: int  # output elements of the conv and linear calls (fvcore's activation count)


class Measurements(dict):
    """The second count's figures keyed by row / aux head name (``Measured``), plus ``skipped``:
    the calls that ran and that FlopCounterMode has no FLOP formula for (it counts them as zero),
    name -> calls."""

    skipped: dict[str, int]


def measure(spec, input_hw=None, batch_size: int = 1) -> Measurements:
    """Build the network and count each row (eval mode) and each aux head (on the output of the
    row it follows), in one pass on an empty batch, for ``batch_size`` images. Returns figures
    keyed by row / aux head name. Refuses (ResourceError) a network with more layers than the
    max_layers ceiling, or whose weights would not fit in half the available memory, before
    building it."""
    from ..count.limits import check_layers, check_memory

    check_layers([spec])
    check_memory(spec, input_hw, 0)  # the weights only: an empty batch holds no activations
    import torch

    from ..spec.shapes import place
    from .build import build

    model = build(spec, input_hw, weights="empty").eval()  # no arithmetic reads a weight
    placed = place(spec, input_hw)
    keys = {p.name: model.module_name(p.name) for p in placed}
    mode = _pricing_mode(batch_size)
    hooks = [model.get_submodule(key).register_forward_pre_hook(
        lambda _module, _inputs, key=key: mode.rows.append(key)) for key in keys.values()]
    hooks += [model.get_submodule(key).register_forward_hook(
        lambda _module, _inputs, _out: mode.rows.pop() and None)  # None: keep the output
        for key in keys.values()]
    try:
        with torch.no_grad(), mode:
            model(torch.zeros(0, *placed[0].in_shape), with_aux=True)
    finally:
        for hook in hooks:
            hook.remove()
    results = Measurements()
    for name, key in keys.items():
        results[name] = Measured(sum(p.numel() for p in model.get_submodule(key).parameters()),
                                 mode.flops[key] // 2, mode.outputs[key])
    results.skipped = dict(sorted(mode.uncounted.items()))
    return results


def _pricing_mode(batch_size: int):
    """A TorchFunctionMode that prices every conv2d and linear call with FlopCounterMode's
    formulas at ``batch_size`` images (the calls run on an empty batch), per row (``rows``: the
    stack of rows running), and tallies the other calls by name."""
    import math

    from torch.overrides import TorchFunctionMode
    from torch.utils.flop_counter import conv_flop_count, mm_flop

    def batched(shape) -> list:
        return [batch_size, *shape[1:]]

    class Pricing(TorchFunctionMode):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[str] = []
            self.flops: Counter = Counter()
            self.outputs: Counter = Counter()
            self.uncounted: Counter = Counter()

        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            name = getattr(func, "__name__", str(func))
            if name not in ("conv2d", "linear"):
                if name not in _NO_COMPUTE and name != _ATTRIBUTE:
                    self.uncounted[name] += 1
                return out
            row = self.rows[-1] if self.rows else ""
            if name == "conv2d":
                self.flops[row] += conv_flop_count(batched(args[0].shape), list(args[1].shape),
                                                   batched(out.shape))
            else:
                rows = batch_size * math.prod(args[0].shape[1:-1])
                self.flops[row] += mm_flop((rows, args[0].shape[-1]), tuple(args[1].shape[::-1]))
            self.outputs[row] += batch_size * math.prod(out.shape[1:])
            return out

    return Pricing()
