"""The papers' tables read across networks: the v3 paper's Table 3 (Szegedy et al., arXiv:1512.00567)
as a ladder, each row's cost column against every build that can stand for the row (the ``Table 3``
claims of tables/inception_v3.yaml and tables/inception_v2.yaml), and its "Factorized 7x7" step,
3.8 -> 4.8 Bn ops, on pairs of builds that differ only in that change; and TF-slim's receptive
fields, gathered from every table's claims. No torch."""

from __future__ import annotations

from decimal import Decimal

from ..units import prints_as, read_printed
from .claims import check_claims, quantity

# The tables whose claims hold Table 3's cost column, in the order its rows climb.
LADDER_TABLES = ("inception_v3", "inception_v2")
ROW_ORDER = ("GoogLeNet", "BN-GoogLeNet", "BN-Inception", "Inception-v2", "Inception-v2 RMSProp",
             "Inception-v2 Label Smoothing", "Inception-v2 Factorized 7x7",
             "Inception-v2 BN-auxiliary (Inception-v3)")

# Pairs of builds (Inception-v2 flavour, Inception-v3 flavour) that differ only in the first
# layers: one 7x7/2 conv against Table 1's three 3x3 convs. The padded 7x7 is paired with the paper
# flavour, whose grids it meets again at 35x35.
STEP_PAIRS = (("paper", "paper"), ("padded", "paper"), ("table1", "table1"))
STEM_ROWS = {"inception_v2": ("conv_1",), "inception_v3": ("conv_1a", "conv_2a", "conv_2b")}


def ladder_records() -> list[dict]:
    """Table 3's cost claims, row by row (in ``ROW_ORDER``) and build by build, each evaluated."""
    from ..spec.registry import resolve

    rows = []
    for name in LADDER_TABLES:
        spec = resolve(name)
        for claim, result in zip(spec.claims, check_claims(spec)):
            if claim.source == "Table 3" and claim.quantity in ("macs", "macs_alternative") \
                    and claim.figure.suffix == "G":
                row = claim.claim.split(":")[0]
                rows.append({**result, "row": row,
                             "reading": "conv1 as the separable conv"
                             if claim.quantity == "macs_alternative" else ""})
    known = [r for r in rows if r["row"] in ROW_ORDER]
    return sorted(known, key=lambda r: ROW_ORDER.index(r["row"]))


def _stem_macs(spec) -> int:
    from ..count.analytic import count_spec

    rows = STEM_ROWS[spec.name.split("[")[0]]
    return sum(rc.counts.macs for rc in count_spec(spec) if rc.placed.name in rows)


def factorized_step(before: str = "3.8G", after: str = "4.8G") -> dict:
    """The "Factorized 7x7" step on each pair of builds in ``STEP_PAIRS``: each side's MACs, the
    step, the first layers' MACs on each side, and whether the step prints as the printed one
    (``after`` - ``before``, at their precision); and the ratio of the printed levels."""
    from ..spec.registry import load

    printed_before, printed_after = read_printed(before, "G"), read_printed(after, "G")
    printed_step = printed_after.exact - printed_before.exact
    step_figure = read_printed(f"{printed_step}G", "G")
    pairs = []
    for v2_flavor, v3_flavor in STEP_PAIRS:
        v2, v3 = load("inception_v2", v2_flavor, aux=False), load("inception_v3", v3_flavor, aux=False)
        macs_v2, macs_v3 = quantity(v2, "macs"), quantity(v3, "macs")
        step = macs_v3 - macs_v2
        pairs.append({"v2": f"inception_v2 ({v2_flavor})", "v3": f"inception_v3 ({v3_flavor})",
                      "macs_v2": macs_v2, "macs_v3": macs_v3, "step": step,
                      "stem_v2": _stem_macs(v2), "stem_v3": _stem_macs(v3),
                      "ratio": round(macs_v3 / macs_v2, 3),
                      "verdict": "holds" if prints_as(step, step_figure) else "does not hold"})
    return {"printed_before": before, "printed_after": after, "printed_step": f"{printed_step}G",
            "printed_ratio": round(float(printed_after.exact / printed_before.exact), 3),
            "pairs": pairs, "printed_step_macs": int(printed_step * Decimal(10**9))}


def receptive_field_records() -> list[dict]:
    """Every table's receptive-field claims (TF-slim's published table), each evaluated."""
    from ..spec.registry import available, resolve

    rows = []
    for name in available():
        spec = resolve(name)
        for claim, result in zip(spec.claims, check_claims(spec)):
            if claim.quantity == "receptive_field":
                rows.append({**result, "arch": name, "row": claim.at})
    return rows
