"""Per-row params and MACs measured by fvcore on a built network (the only fvcore user)."""

from __future__ import annotations

from dataclasses import dataclass

# fvcore operator names whose counts are multiply-accumulates of conv and linear layers.
MAC_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


@dataclass(frozen=True)
class Measured:
    """fvcore's figures for one row or aux head, for the whole batch."""

    params: int
    macs: int
    activations: int  # fvcore's activation count: output elements of conv and linear layers


def measure(spec, input_hw=None, batch_size: int = 1,
            max_memory: int | None = None) -> dict[str, Measured]:
    """Build the network and count each row (eval mode) and each aux head (on its own input) with
    fvcore. Returns figures keyed by row / aux head name. Refuses (ResourceError) before allocating
    anything if the estimated memory exceeds ``max_memory`` bytes (default: half of what is free),
    or if the network has more layers than limits.MAX_LAYERS."""
    from .limits import check_layers, check_memory

    check_layers([spec])
    check_memory(spec, input_hw, batch_size, max_memory)
    import torch
    from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis, parameter_count

    from .build import build
    from .spec import place

    model = build(spec, input_hw).eval()
    params = parameter_count(model)
    placed = place(spec, input_hw)
    results: dict[str, Measured] = {}
    with torch.no_grad():
        x = torch.zeros(batch_size, *placed[0].in_shape)
        flops = _by_module(FlopCountAnalysis, model, x)
        acts = _by_module(ActivationCountAnalysis, model, x)
        for p in placed:
            if p.is_aux:
                head, x = model.row(p.name), torch.zeros(batch_size, *p.in_shape)
                results[p.name] = Measured(
                    params.get(model.module_name(p.name), 0),
                    _total(_by_module(FlopCountAnalysis, head, x)[""], MAC_OPERATORS),
                    _total(_by_module(ActivationCountAnalysis, head, x)[""], None))
            else:
                key = model.module_name(p.name)
                results[p.name] = Measured(params.get(key, 0),
                                           _total(flops.get(key, {}), MAC_OPERATORS),
                                           _total(acts.get(key, {}), None))
    return results


def _by_module(analysis_cls, module, inputs) -> dict:
    analysis = analysis_cls(module, inputs)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis.by_module_and_operator()


def _total(by_operator, operators) -> int:
    """Sum of an fvcore per-operator Counter, over ``operators`` (None: all of them)."""
    return int(sum(v for op, v in by_operator.items() if operators is None or op in operators))
