"""The papers' claims (``claims:`` in a spec, read by incprof.spec.claims) evaluated against the
counts, each with its verdict and the build it judged. No torch."""

from __future__ import annotations

from ..spec.model import NOT_COST, ArchSpec, Claim
from ..units import SI, at_precision, prints_as


def quantity(spec, what: str) -> int:
    """A quantity of a spec (or of the built-in network it names), at its own input size."""
    from ..count.analytic import count_spec, sequence_counts
    from ..spec.layers import Linear
    from ..spec.registry import resolve
    from ..spec.shapes import depth

    spec = resolve(spec) if isinstance(spec, str) else spec
    main = [rc for rc in count_spec(spec) if not rc.placed.is_aux]
    if what == "macs_alternative":
        alternatives = {row.name: row.alternative for row in spec.rows if row.alternative}
        return sum(sequence_counts(alternatives[rc.placed.name].layers, rc.placed.in_shape).macs
                   if rc.placed.name in alternatives else rc.counts.macs for rc in main)
    if what in ("depth", "conv_depth"):
        keep = (lambda layer: True) if what == "depth" else \
            (lambda layer: not isinstance(layer, Linear))
        return sum(depth(tuple(filter(keep, rc.placed.layers))) for rc in main)
    rows = count_spec(spec) if what == "params_with_aux" else main
    return sum(getattr(rc.counts, "macs" if what == "macs" else "params") for rc in rows)


def judged(claim: Claim, spec):
    """The build a claim judges: its network (``spec``, or the one ``of`` names) in the claim's
    flavour, with its multipliers applied; a name as it is when the claim sets none of them."""
    from ..spec.multipliers import dense, resolution, width
    from ..spec.registry import load

    target = claim.of or spec
    if claim.flavor == "paper" and not (claim.width or claim.resolution or claim.dense):
        return target
    built = load(target, claim.flavor, aux=False)
    built = dense(built) if claim.dense else built
    built = width(built, claim.width) if claim.width else built
    return resolution(built, claim.resolution) if claim.resolution else built


def build(claim: Claim, spec) -> str:
    """The build a claim's verdict is on, in words: the table, its flavour and multipliers, and
    where it departs from the paper's figures (the spec's ``departs``, or the flavour's note)."""
    from ..spec.registry import resolve, tables_dir

    name = claim.of or (spec if isinstance(spec, str) else spec.name)
    base = resolve(name) if (tables_dir() / f"{name}.yaml").is_file() else (
        spec if isinstance(spec, ArchSpec) and not claim.of else None)
    parts = [f"{name}, {claim.flavor} flavour"]
    parts += [f"width {claim.width:g}"] if claim.width else []
    parts += [f"{claim.resolution}x{claim.resolution} input"] if claim.resolution else []
    parts += ["full convs in place of separable ones"] if claim.dense else []
    if base is not None:
        departs = (base.departs if claim.flavor == "paper"
                   else base.flavors.get(claim.flavor, {}).get("note"))
        parts += [departs] if departs else []
    if claim.against:
        other = resolve(claim.against) if (tables_dir() / f"{claim.against}.yaml").is_file() else None
        parts.append(f"against {claim.against}, paper flavour"
                     + (f" ({other.departs})" if other is not None and other.departs else ""))
    return "; ".join(parts)


def share(spec, what: str, kind: str) -> float:
    """The percentage of a network's MACs (``what`` = 'macs_share') or params ('params_share')
    in one kind of layer (MobileNet's Table 2): '1x1 conv', 'depthwise conv' (a conv with as many
    groups as input channels, or a separable layer's depthwise part), 'full conv' (any other
    conv) or 'linear'. Params are weights alone: no biases, no BatchNorm (MobileNet's Table 2
    reads so: with the classifier's 1,000 biases its 1x1 and FC shares move by 0.02 points)."""
    totals = _by_kind(spec)
    field = 0 if what == "macs_share" else 1
    whole = sum(pair[field] for pair in totals.values())
    return 100 * totals.get(kind, (0, 0))[field] / whole


def _by_kind(spec) -> dict[str, tuple[int, int]]:
    """(MACs, weights) per image of each layer kind of the inference network."""
    from ..count.analytic import count_spec, layer_counts
    from ..spec.layers import Conv, Linear, Separable, sublayers
    from ..spec.registry import resolve
    from ..spec.shapes import walk

    totals: dict[str, tuple[int, int]] = {}

    def add(kind: str, macs: int, params: int) -> None:
        old = totals.get(kind, (0, 0))
        totals[kind] = (old[0] + macs, old[1] + params)

    def visit(layers, in_shape) -> None:
        for layer, i, o in walk(layers, in_shape)[0]:
            parts = sublayers(layer)
            if parts:
                for part in parts:
                    visit(part, i)
                continue
            counts = layer_counts(layer, i, o)
            own = counts.weights
            if isinstance(layer, Linear):
                add("linear", counts.macs, own)
            elif isinstance(layer, Separable):
                depthwise = layer.kernel[0] * layer.kernel[1] * i[0] * layer.multiplier
                add("depthwise conv", depthwise * o[1] * o[2], depthwise)
                add("1x1 conv", counts.macs - depthwise * o[1] * o[2], own - depthwise)
            elif isinstance(layer, Conv):
                kind = ("depthwise conv" if layer.groups > 1 and layer.groups == i[0] else
                        "1x1 conv" if layer.kernel == (1, 1) else "full conv")
                add(kind, counts.macs, own)

    spec = resolve(spec) if isinstance(spec, str) else spec
    for rc in count_spec(spec):
        if not rc.placed.is_aux:
            visit(rc.placed.layers, rc.placed.in_shape)
    return totals


def receptive_field(spec, row: str) -> int:
    """The receptive field (input pixels on a side) of the output of ``row``."""
    from ..count.geometry import geometry
    from ..errors import SpecError
    from ..spec.registry import resolve

    spec = resolve(spec) if isinstance(spec, str) else spec
    fields = geometry(spec)
    if row not in fields:
        raise SpecError(f"a receptive_field claim names row {row!r}, which {spec.name} does not "
                        f"have", path=spec.path)
    height, width_ = fields[row].field.size
    return height if height == width_ else max(height, width_)


def evaluate(claim: Claim, spec) -> dict:
    """The claim about ``spec`` (an ArchSpec, or a built-in name) beside the computed value, with
    its verdict: 'holds', 'does not hold', 'not a cost claim: not checked' (accuracy, speed) or
    'not checked: ...' (a network it names is not a built-in table), and the build it judged."""
    from ..spec.registry import available

    figure = claim.figure
    out = {"claim": claim.claim, "source": claim.source, "printed": claim.value,
           "relation": claim.relation, "rule": rule(claim), "computed": None, "shown": None,
           "verdict": None, "detail": None, "build": None}
    if claim.quantity in NOT_COST:
        out["verdict"] = "not a cost claim: not checked"
        return out
    missing = [n for n in (claim.of, claim.against) if n and n not in available()]
    if missing:
        out["verdict"] = f"not checked: {missing[0]} is not in tables/ yet"
        return out
    out["build"] = build(claim, spec)
    target = judged(claim, spec)
    if claim.quantity in ("macs_share", "params_share"):
        value = share(target, claim.quantity, claim.kind)
    elif claim.quantity == "receptive_field":
        value = receptive_field(target, claim.at)
    elif claim.quantity == "passes":
        value = claim.models * claim.crops
        macs = quantity(target, "macs")
        out["detail"] = (f"{claim.models} x {claim.crops} passes of {macs:,} MACs: "
                         f"{value * macs:,} MACs per image")
    else:
        value = quantity(target, claim.quantity)
    if claim.against:
        ratio = value / quantity(claim.against, claim.quantity)
        value = (ratio - 1) * 100 if figure.suffix == "%" else ratio
    is_share = claim.quantity in ("macs_share", "params_share")
    computed = value / SI.get(figure.suffix, 1)  # in the printed unit (x and % leave it as it is)
    out["computed"] = value if not (claim.against or is_share) else round(computed, 6)
    shown = at_precision(value, figure)
    out["shown"] = (f"{shown:+}%" if figure.suffix == "%" and not is_share else
                    f"{shown}{figure.suffix}")
    holds = {"=": prints_as(value, figure), "<": computed < figure.value,
             ">": computed > figure.value}[claim.relation]
    out["verdict"] = "holds" if holds else "does not hold"
    return out


def rule(claim: Claim) -> str:
    """How a claim's verdict is taken, in words."""
    if claim.quantity in NOT_COST:
        return "none: incprof counts cost, not accuracy or speed"
    if claim.relation != "=":
        return f"{claim.relation} {claim.value}"
    figure = claim.figure
    if not figure.decimals and not figure.suffix and not claim.against:
        return "equal"
    return f"rounds half up to {claim.value} at its printed precision"


def check_claims(spec) -> list[dict]:
    """Every claim of a spec, evaluated (see ``evaluate``)."""
    return [evaluate(claim, spec) for claim in spec.claims]
