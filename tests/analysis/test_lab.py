"""The factorization lab reproduces the v3 paper's stated savings, exactly, from real specs."""

import pytest

from incprof.errors import SpecError
from incprof.analysis.lab import conv_specs, factorization_records, grid_records, grid_spec


@pytest.fixture(scope="module")
def rules():
    return factorization_records(width=64, size=17).to_frame().set_index("rule")


@pytest.mark.parametrize("rule, n_before, n_after, paper", [
    ("5x5 -> two 3x3", 25, 9 + 9, 28),
    ("3x3 -> 1x3 + 3x1", 9, 3 + 3, 33),
    ("3x3 -> two 2x2", 9, 4 + 4, 11),
    ("7x7 -> 1x7 + 7x1", 49, 7 + 7, None),
])
def test_savings_per_position_match_the_paper(rules, rule, n_before, n_after, paper):
    row = rules.loc[rule]
    assert row["original_weights"] == n_before * 64 * 64
    assert row["factorized_weights"] == n_after * 64 * 64
    assert row["saving_per_position_pct"] == round((1 - n_after / n_before) * 100, 1)
    if paper is not None:
        assert round(row["saving_per_position_pct"]) == paper == row["paper_saving_pct"]


def test_savings_on_the_grid(rules):
    # same-shaped factors: every position costs the per-position figure
    assert rules.loc["5x5 -> two 3x3", "original_macs"] == 25 * 64 * 64 * 17 * 17
    assert rules.loc["5x5 -> two 3x3", "factorized_macs"] == 18 * 64 * 64 * 17 * 17
    # two 2x2: the first one pads by 1 and writes an 18x18 grid, the second brings it back to 17x17
    assert rules.loc["3x3 -> two 2x2", "factorized_macs"] == 4 * 64 * 64 * (18 * 18 + 17 * 17)


def test_factorized_specs_keep_the_shape():
    from incprof.spec.shapes import place

    for rule, n in (("stack", 5), ("stack", 3), ("asymmetric", 7)):
        before, after = conv_specs(rule, n, 32, 48, 17)
        assert place(before)[0].out_shape == place(after)[0].out_shape == (48, 17, 17)


@pytest.mark.parametrize("kernel", [1, 3])
def test_grid_reduction_costs(kernel):
    d, k = 34, 64
    df = grid_records(d, k, kernel).to_frame().set_index("form")
    taps = kernel * kernel
    assert df.loc["conv then pool", "macs"] == 2 * d * d * k * k * taps  # the paper's 2d^2k^2
    assert df.loc["pool then conv", "macs"] == 2 * (d // 2) ** 2 * k * k * taps
    assert df.loc["parallel", "macs"] == (d // 2) ** 2 * k * k * taps
    assert list(df["relative_to_conv_then_pool"]) == [1.0, 0.25, 0.125]
    assert set(df["output"]) == {f"{d // 2}x{d // 2}x{2 * k}"}


def test_grid_reduction_needs_even_d():
    with pytest.raises(SpecError, match="even"):
        grid_spec("parallel", 35, 8)
    with pytest.raises(SpecError, match="unknown grid reduction form"):
        grid_spec("diagonal", 34, 8)


def test_verified_lab_agrees_with_fvcore():
    pytest.importorskip("torch")
    for records in (factorization_records(width=8, size=9, verify=True),
                    grid_records(8, 4, verify=True)):
        assert all(r["check_agrees"] is True for r in records.rows)
