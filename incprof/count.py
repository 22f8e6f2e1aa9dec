"""Per-row params, MACs and conv/linear outputs of a built network, counted by torch's own
FlopCounterMode on meta tensors: the second count, independent of incprof.analytic.

The network is built under ``torch.device("meta")``, so its weights are never allocated or
initialised, and it runs once on a meta input: every op computes only its output's shape, no
arithmetic is done, and the count takes the same time at any batch or input size and on a busy
machine as on an idle one. The main network and every aux head (on the output of the row it
follows) run in that one pass. FlopCounterMode gives each module's FLOPs (conv and matmul, 2 per
MAC); forward hooks on the Conv2d and Linear modules give their output elements (the activation
count fvcore defines); the parameters are the built modules' own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    """The second count's figures for one row or aux head, for the whole batch."""

    params: int
    macs: int  # FlopCounterMode's FLOPs / 2
    activations: int  # output elements of the Conv2d and Linear modules (fvcore's activation count)


class Measurements(dict):
    """The second count's figures keyed by row / aux head name (``Measured``), plus ``skipped``:
    the ops that ran and that FlopCounterMode has no FLOP formula for (it counts them as zero),
    name -> calls. Views and allocations, which compute nothing, are left out."""

    skipped: dict[str, int]


def measure(spec, input_hw=None, batch_size: int = 1) -> Measurements:
    """Build the network on the meta device and count each row (eval mode) and each aux head (on
    the output of the row it follows) with FlopCounterMode, in one pass. Returns figures keyed by
    row / aux head name. Nothing is allocated, so no memory guard applies; refuses
    (ResourceError) a network with more layers than limits.MAX_LAYERS."""
    from .limits import check_layers

    check_layers([spec])
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from .build import build
    from .spec import place

    with torch.device("meta"):
        model = build(spec, input_hw).eval()
    placed = place(spec, input_hw)
    keys = {p.name: model.module_name(p.name) for p in placed}
    outputs: Counter = Counter()
    hooks = [module.register_forward_hook(
        lambda _module, _inputs, out, key=key: outputs.update({key: out.numel()}))
        for key in keys.values() for module in model.get_submodule(key).modules()
        if isinstance(module, (nn.Conv2d, nn.Linear))]
    x = torch.empty(batch_size, *placed[0].in_shape, device="meta")
    counter = FlopCounterMode(display=False)
    uncounted = _uncounted_mode(counter.flop_registry)
    try:
        with torch.no_grad(), counter, uncounted:
            model(x, with_aux=True)
    finally:
        for hook in hooks:
            hook.remove()
    flops = counter.get_flop_counts()
    root = type(model).__name__
    results = Measurements()
    for name, key in keys.items():
        results[name] = Measured(sum(p.numel() for p in model.get_submodule(key).parameters()),
                                 sum(flops.get(f"{root}.{key}", {}).values()) // 2,
                                 outputs[key])
    results.skipped = dict(sorted(uncounted.calls.items()))
    return results


def _uncounted_mode(registry):
    """A dispatch mode that tallies, by name, the ops that run and have no entry in
    FlopCounterMode's ``registry`` of FLOP formulas; views and ops without a tensor input
    (allocations such as ``empty``), which compute nothing, are left out."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Uncounted(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.calls: Counter = Counter()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func._overloadpacket not in registry and not func.is_view and any(
                    isinstance(a, torch.Tensor) for a in tree_leaves((args, kwargs))):
                self.calls[func._opname] += 1
            return func(*args, **(kwargs or {}))

    return Uncounted()
