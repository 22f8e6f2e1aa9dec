"""The papers' claims (``claims:`` in a spec, read by incprof.spec.claims) evaluated against the
counts, each with its verdict. No torch."""

from __future__ import annotations

from ..spec.model import Claim
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


def evaluate(claim: Claim, spec) -> dict:
    """The claim about ``spec`` (an ArchSpec, or a built-in name) beside the computed value, with
    its verdict: 'holds', 'does not hold' or 'not checked: ...' (a network it names is not a
    built-in table)."""
    from ..spec.registry import available

    figure = claim.figure
    out = {"claim": claim.claim, "source": claim.source, "printed": claim.value,
           "relation": claim.relation, "rule": rule(claim), "computed": None, "shown": None,
           "verdict": None}
    missing = [n for n in (claim.of, claim.against) if n and n not in available()]
    if missing:
        out["verdict"] = f"not checked: {missing[0]} is not in tables/ yet"
        return out
    value = quantity(claim.of or spec, claim.quantity)
    if claim.against:
        ratio = value / quantity(claim.against, claim.quantity)
        value = (ratio - 1) * 100 if figure.suffix == "%" else ratio
    computed = value / SI.get(figure.suffix, 1)  # in the printed unit (x and % leave it as it is)
    out["computed"] = value if not claim.against else round(computed, 6)
    shown = at_precision(value, figure)
    out["shown"] = f"{shown:+}%" if figure.suffix == "%" else f"{shown}{figure.suffix}"
    holds = {"=": prints_as(value, figure), "<": computed < figure.value,
             ">": computed > figure.value}[claim.relation]
    out["verdict"] = "holds" if holds else "does not hold"
    return out


def rule(claim: Claim) -> str:
    """How a claim's verdict is taken, in words."""
    if claim.relation != "=":
        return f"{claim.relation} {claim.value}"
    figure = claim.figure
    if not figure.decimals and not figure.suffix and not claim.against:
        return "equal"
    return f"rounds half up to {claim.value} at its printed precision"


def check_claims(spec) -> list[dict]:
    """Every claim of a spec, evaluated (see ``evaluate``)."""
    return [evaluate(claim, spec) for claim in spec.claims]
