"""The papers' tables across networks: the v3 paper's Table 3 ladder, its 3.8 -> 4.8 step, and
TF-slim's receptive fields (no torch)."""

from incprof.analysis.papers import ROW_ORDER, factorized_step, ladder_records

# The first layers by hand at 299x299: three 3x3 convs (3 -> 32 at 149, 32 -> 32 and 32 -> 64 at
# 147) against one 7x7/2 conv 3 -> 64, unpadded (147) or padded by 3 (150).
THREE_3X3 = 27 * 32 * 149**2 + 9 * 32 * 32 * 147**2 + 9 * 32 * 64 * 147**2
SEVEN = 49 * 3 * 64 * 147**2


def test_every_row_of_table3_is_judged_on_some_build():
    rows = ladder_records()
    assert {r["row"] for r in rows} == set(ROW_ORDER)
    assert [r["row"] for r in rows] == sorted((r["row"] for r in rows), key=ROW_ORDER.index)
    assert all(r["build"] and r["verdict"] in ("holds", "does not hold") for r in rows)
    # Table 3's Inception-v2 row holds on no build
    assert {r["verdict"] for r in rows if r["row"] == "Inception-v2"} == {"does not hold"}


def test_the_factorized_7x7_step_is_the_first_layers_alone():
    step = factorized_step()
    assert (step["printed_step"], step["printed_ratio"]) == ("1.0G", round(4.8 / 3.8, 3))
    same_rest = [p for p in step["pairs"] if p["v2"].endswith("(paper)") or "table1" in p["v2"]]
    assert len(same_rest) == 2
    for pair in same_rest:
        assert (pair["stem_v3"], pair["stem_v2"]) == (THREE_3X3, SEVEN)
        assert pair["step"] == THREE_3X3 - SEVEN == 413_329_824
    padded = next(p for p in step["pairs"] if "padded" in p["v2"])
    assert padded["stem_v2"] == 49 * 3 * 64 * 150**2
    assert all(p["verdict"] == "does not hold" for p in step["pairs"])
