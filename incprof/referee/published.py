"""Published figures refereed: each whole-network figure someone printed for a built-in network
(the spec's ``published:`` and ``refereed:`` entries: papers, torchvision's weights metadata, timm's
results tables, Keras Applications, OpenVINO's model zoo) against the exact count under every
convention (incprof.referee.conventions's peers and the parameter conventions below), at the figure's printed
precision. No torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..count.inventory import network_ops
from .conventions import CONVENTIONS, param_totals, predict

# How the parameter conventions read, for the published figures.
PARAM_CONVENTIONS = {
    "params": "trainable parameters, no aux heads (incprof's params)",
    "params_with_aux": "trainable parameters, aux heads included (every tool's parameter total)",
    "params_and_bn_statistics": "every variable: parameters and BatchNorm's running mean and "
                                "variance, no aux heads (Keras' count_params)",
    "weights": "conv and linear weights only: no biases, no BatchNorm",
}


FIGURES = ("params", "MACs", "FLOPs")


@dataclass(frozen=True)
class Figure:
    """A whole-network figure someone published, as printed, with what it is said to count."""

    source: str
    figure: str  # params, MACs or FLOPs
    value: str  # as printed: "42.68M", "6624904"
    flavor: str = "paper"
    input: tuple | None = None  # None: the spec's own input size
    stated: str | None = None  # the convention its source states, if any


def figures(spec) -> list[Figure]:
    """A spec's published figures: its ``published:`` entries (conv and linear MACs, params with or
    without aux heads as the entry says) and its ``refereed:`` list (read here, validated with
    line numbers)."""
    out = []
    for p in spec.published:
        if p.params is not None:
            out.append(Figure(p.source, "params", str(p.params), p.flavor, p.input,
                              "params_with_aux" if p.aux else "params"))
        if p.macs is not None:
            out.append(Figure(p.source, "MACs", p.macs, p.flavor, p.input, "macs"))
    return out + _refereed(spec)


def _refereed(spec) -> list[Figure]:
    from ..spec.fields import FieldReader
    from ..spec.yamlio import load_yaml

    if not spec.path:
        return []
    data = load_yaml(spec.path)
    entries = data.get("refereed") if isinstance(data, dict) else None
    if entries is None:
        return []
    reader = FieldReader()
    reader.path, reader.units = spec.path, {}
    line = data.key_lines.get("refereed", 0)
    if not isinstance(entries, list):
        raise reader.fail("refereed must be a list", line)
    names = {*PARAM_CONVENTIONS, "macs", *CONVENTIONS}
    out = []
    for entry in entries:
        at = getattr(entry, "line", line)
        entry = reader.mapping(entry, "a refereed entry", at)
        reader.keys(entry, {"source", "figure", "value", "flavor", "input", "stated"},
                    {"source", "figure", "value"}, "a refereed entry", at)
        figure, value = entry["figure"], str(entry["value"])
        if figure not in FIGURES:
            raise reader.fail(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}", at)
        if _parse(value) is None:
            raise reader.fail(f"value must look like 42.68M or 6624904, got {value!r}", at)
        stated = entry.get("stated")
        if stated is not None and stated not in names:
            raise reader.fail(f"stated must be one of {', '.join(sorted(names))}, got "
                              f"{stated!r}", at)
        out.append(Figure(reader.text(entry["source"], "source", at, limit=4000), figure, value,
                          reader.text(entry.get("flavor", "paper"), "flavor", at),
                          None if entry.get("input") is None else
                          reader.pair(entry["input"], "input", at), stated))
    return out


def _parse(value: str):
    """(digits as printed, decimals, scale) of a figure like 42.68M; None if it is not one."""
    from ..units import SCALES, read_printed

    try:
        printed = read_printed(value, "KMG")
    except ValueError:
        return None
    return printed.number, printed.decimals, SCALES[printed.suffix]


def _fits(count: int, value: str) -> bool:
    """Whether ``count`` prints as ``value`` at its precision (rounded half up)."""
    from decimal import Decimal

    from ..units import round_half_up

    number, decimals, scale = _parse(value)
    return round_half_up(Decimal(count) / scale, decimals) == Decimal(number)


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
        fits = [name for name, v in values.items() if _fits(v, f.value)]
        number, _, scale = _parse(f.value)
        target = float(number) * scale
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
