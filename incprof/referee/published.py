"""Published figures refereed: each whole-network figure someone printed for a built-in network
(the spec's ``published:`` and ``refereed:`` entries: papers, torchvision's weights metadata, timm's
results tables, Keras Applications, OpenVINO's model zoo) against the exact count under every
convention (incprof.referee.conventions's peers and the parameter conventions below), at the figure's printed
precision. No torch.
"""

from __future__ import annotations

from ..count.inventory import network_ops
from ..spec.model import FIGURE_SUFFIXES, Refereed
from ..units import SI, prints_as, read_printed
from .conventions import CONVENTIONS, param_totals, predict

# How the parameter conventions read, for the published figures.
PARAM_CONVENTIONS = {
    "params": "trainable parameters, no aux heads (incprof's params)",
    "params_with_aux": "trainable parameters, aux heads included (every tool's parameter total)",
    "params_and_bn_statistics": "every variable: parameters and BatchNorm's running mean and "
                                "variance, no aux heads (Keras' count_params)",
    "weights": "conv and linear weights only: no biases, no BatchNorm",
}


def figures(spec) -> list[Refereed]:
    """A spec's published figures: its ``published:`` entries (conv and linear MACs, params with or
    without aux heads as the entry says), then its ``refereed:`` ones."""
    out = []
    for p in spec.published:
        if p.params is not None:
            out.append(Refereed(p.source, "params", str(p.params), p.flavor, p.input,
                                "params_with_aux" if p.aux else "params"))
        if p.macs is not None:
            out.append(Refereed(p.source, "MACs", p.macs, p.flavor, p.input, "macs"))
    return out + list(spec.refereed)


def candidates(spec, flavor: str, input_hw, figure: str) -> dict[str, int]:
    """Every convention's value for one figure kind, per image, from the analytic counts."""
    from ..spec.registry import load

    spec = load(spec, flavor, True)
    if figure == "params":
        return param_totals(spec, input_hw)
    ops = network_ops(spec, input_hw)
    macs = {"macs": sum(op.macs for op in ops if op.kind in ("conv", "linear"))}
    macs.update({tool: sum(predict(ops, tool, 1).values()) for tool, c in CONVENTIONS.items()
                 if c["unit"] == "MACs"})
    return macs if figure == "MACs" else {f"2 x {name}": 2 * v for name, v in macs.items()}


def referee_figures(arch) -> list[dict]:
    """Each published figure of a spec with its source, the conventions its value fits at its
    printed precision, and a computed verdict; a figure that fits none is flagged with the
    nearest convention and the distance to it."""
    from ..spec.registry import resolve

    spec = resolve(arch) if isinstance(arch, str) else arch
    out = []
    for f in figures(spec):
        values = candidates(spec, f.flavor, f.input, f.figure)
        figure = read_printed(f.value, FIGURE_SUFFIXES)
        fits = [name for name, v in values.items() if prints_as(v, figure)]
        target = figure.value * SI.get(figure.suffix, 1)
        nearest = min(values, key=lambda name: (abs(values[name] / target - 1), name))
        if not fits:
            verdict = (f"FLAGGED: fits no convention; nearest {nearest} "
                       f"({values[nearest]:,}), the figure is "
                       f"{target / values[nearest] - 1:+.1%} from it")
        elif f.stated and f.stated not in fits:
            verdict = f"fits {', '.join(fits)}, but NOT its stated convention ({f.stated})"
        else:
            verdict = "fits " + ", ".join(fits)
        out.append({"arch": spec.name, "source": f.source, "figure": f.figure, "value": f.value,
                    "flavor": f.flavor, "input": list(f.input or spec.input[1:]),
                    "stated": f.stated, "fits": fits, "nearest": nearest,
                    "nearest_value": values[nearest], "verdict": verdict})
    return out
