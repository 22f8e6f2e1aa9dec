"""Per-row params and MACs measured by fvcore on a built network (the only fvcore user).

fvcore traces the network with ``torch.jit.trace``, which runs it on real tensors: its meta-device
shape functions do not accept the traced sizes, so a meta-tensor trace fails. The cross-check
therefore runs one real forward pass, on one thread, and traces it once: the main network and
every aux head (on the output of the row it follows) in the same trace, with fvcore's flop and
activation handles applied together to that one graph.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

# fvcore operator names whose counts are multiply-accumulates of conv and linear layers.
MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


@dataclass(frozen=True)
class Measured:
    """fvcore's figures for one row or aux head, for the whole batch."""

    params: int
    macs: int
    activations: int  # fvcore's activation count: output elements of conv and linear layers


class Measurements(dict):
    """fvcore's figures keyed by row / aux head name (``Measured``), plus ``skipped``: the
    operators fvcore's flop counter has no handle for (counted as zero by it), name -> calls."""

    skipped: dict[str, int]


def measure(spec, input_hw=None, batch_size: int = 1,
            max_memory: int | None = None) -> Measurements:
    """Build the network and count each row (eval mode) and each aux head (on the output of the
    row it follows) with fvcore, from one trace. Returns figures keyed by row / aux head name.
    Refuses (ResourceError) before allocating anything if the estimated memory exceeds
    ``max_memory`` bytes (default: half of what is free), or if the network has more layers than
    limits.MAX_LAYERS."""
    from .limits import check_layers, check_memory

    check_layers([spec])
    check_memory(spec, input_hw, batch_size, max_memory)
    import torch
    from fvcore.nn import parameter_count

    from .build import build
    from .spec import place

    model = build(spec, input_hw).eval()
    params = parameter_count(model)
    placed = place(spec, input_hw)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one small forward pass: more threads only wait on a busy machine
    try:
        with torch.no_grad():
            by_module, skipped = _trace_once(model, torch.zeros(batch_size, *placed[0].in_shape))
    finally:
        torch.set_num_threads(threads)
    results = Measurements()
    for p in placed:
        key = model.module_name(p.name)
        counts = by_module.get(f"net.{key}", Counter())
        results[p.name] = Measured(params.get(key, 0), _total(counts, "macs", MAC_OPERATORS),
                                   _total(counts, "acts", None))
    results.skipped = {op.split("::")[-1]: n for op, n in sorted(skipped.items())}
    return results


def _trace_once(model, x) -> tuple[dict, Counter]:
    """fvcore's flop and activation counts per module from a single trace of the network with its
    aux heads, and the operators the flop counter skipped."""
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis
    from torch import nn

    class WithAux(nn.Module):
        """The network run with its aux heads, each on the output of the row it follows, while
        its layers stay in eval mode."""

        def __init__(self, net) -> None:
            super().__init__()
            self.net = net

        def forward(self, y):
            return self.net(y, with_aux=True)

    wrapper = WithAux(model)
    analysis = FlopCountAnalysis(wrapper, x)
    activation_handles = ActivationCountAnalysis(wrapper, x)._op_handles
    analysis.set_op_handle(**{kind: _both(kind, handle, activation_handles.get(kind))
                              for kind, handle in analysis._op_handles.items()})
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis.by_module_and_operator(), analysis.unsupported_ops()


def _both(kind: str, flop_handle, activation_handle):
    """One fvcore handle giving an operator's flop count under 'macs:<op>' and its activation
    count under 'acts:<op>', each computed by fvcore's own handle."""
    name = kind.split("::")[-1]

    def handle(inputs, outputs) -> Counter:
        out = Counter()
        for prefix, inner in (("macs", flop_handle), ("acts", activation_handle)):
            if inner is None:
                continue
            counts = inner(inputs, outputs)
            counts = counts if isinstance(counts, Counter) else Counter({name: counts})
            out.update({f"{prefix}:{op}": value for op, value in counts.items()})
        return out

    return handle


def _total(by_operator, prefix: str, operators) -> int:
    """Sum of the ``prefix`` entries of an fvcore per-operator Counter, over ``operators`` (None:
    all of them)."""
    return int(sum(v for key, v in by_operator.items() if key.startswith(prefix + ":")
                   and (operators is None or key.split(":", 1)[1] in operators)))
