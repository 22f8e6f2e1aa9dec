"""Naive against reduced, per module and per network, against formulas written out here."""

import pytest

from conftest import DATA, TABLE1_MODULES as MODULES
from incprof.analysis.compare import (compare_modules_records, compare_networks_records, diff_records,
                                      resolve_side)
from incprof.errors import SpecError
from incprof.spec.layers import Conv
from incprof.spec.shapes import place



def naive_module(cin, c1, c3, c5, hw):
    """(params, macs, out channels) of Figure 2a: 1x1, 3x3, 5x5 on the input, plus a 3x3 pool."""
    weights = cin * c1 + 9 * cin * c3 + 25 * cin * c5
    return weights + c1 + c3 + c5, weights * hw * hw, c1 + c3 + c5 + cin


def reduced_module(cin, c1, c3r, c3, c5r, c5, pp, hw):
    """(params, macs, out channels) of Figure 2b."""
    weights = cin * c1 + cin * c3r + 9 * c3r * c3 + cin * c5r + 25 * c5r * c5 + cin * pp
    return weights + c1 + c3r + c3 + c5r + c5 + pp, weights * hw * hw, c1 + c3 + c5 + pp


@pytest.fixture(scope="module")
def modules():
    return compare_modules_records(resolve_side("naive"), resolve_side("reduced"),
                                   labels=("naive", "reduced")).to_frame().set_index("row")


def test_one_row_per_inception_module(modules):
    assert list(modules.index) == list(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_counts_match_formulas(modules, name):
    cin, c1, c3r, c3, c5r, c5, pp, hw = MODULES[name]
    row = modules.loc[name]
    assert (row["a_params"], row["a_macs"], row["a_out_channels"]) == naive_module(cin, c1, c3, c5,
                                                                                   hw)
    assert (row["b_params"], row["b_macs"], row["b_out_channels"]) == reduced_module(
        cin, c1, c3r, c3, c5r, c5, pp, hw)
    assert row["input"] == f"{hw}x{hw}x{cin}"  # both measured on the Table 1 input
    assert row["macs_ratio"] == round(row["a_macs"] / row["b_macs"], 3)
    assert row["macs_saving_pct"] == round((1 - row["b_macs"] / row["a_macs"]) * 100, 1)


def test_module_totals(modules):
    t = modules.attrs["totals"]
    assert t["a_macs"] == sum(naive_module(m[0], m[1], m[3], m[5], m[7])[1] for m in MODULES.values())
    assert t["b_macs"] == sum(reduced_module(*m)[1] for m in MODULES.values())


def test_naive_network_carries_channel_growth_forward():
    df = compare_networks_records(resolve_side("naive"), resolve_side("reduced")).to_frame().set_index("row")
    channels, grown = 192, {}
    for name, (_, c1, _, c3, _, c5, _, _) in MODULES.items():
        channels = c1 + c3 + c5 + channels  # the pool branch passes all channels through
        grown[name] = channels
    for name, c in grown.items():
        assert df.loc[name, "a_output"].endswith(f"x{c}"), name
    assert df.loc["linear", "a_params"] == grown["inception_5b"] * 1000 + 1000
    assert df.attrs["meta"]["only_in_a"] == df.attrs["meta"]["only_in_b"] == []
    t = df.attrs["totals"]
    assert t["b_params"] == 6_998_552 and t["a_params"] == df["a_params"].sum()


def test_naive_variant_marks_its_name_and_drops_reductions():
    spec = resolve_side("naive")
    assert spec.name == "googlenet[naive]"
    row = spec.row("inception_3a")
    assert row.type.endswith("naive")
    roles = {leaf.role for branch in row.layers[0].branches for leaf in branch
             if isinstance(leaf, Conv)}
    assert roles == {"ch1x1", "ch3x3", "ch5x5"}
    assert spec.row("conv2").layers == resolve_side("reduced").row("conv2").layers


def test_verified_modules_and_networks_agree_with_fvcore():
    pytest.importorskip("torch")
    a, b = resolve_side("naive"), resolve_side("reduced")
    assert compare_modules_records(a, b, verify=True).attrs["totals"]["check_agrees"] is True
    assert compare_networks_records(a, b, verify=True).attrs["totals"]["check_agrees"] is True


def test_generic_comparison_lists_unmatched_rows():
    tiny = resolve_side(str(DATA / "tiny.yaml"))
    df = compare_networks_records(tiny, resolve_side("reduced"))
    assert df.rows == []
    assert df.attrs["meta"]["only_in_a"] == ["conv", "pool", "mixed", "gap", "fc"]
    assert "conv1" in df.attrs["meta"]["only_in_b"]


def test_unknown_side_lists_valid_names():
    with pytest.raises(SpecError, match="neither a variant \\(reduced, naive.*googlenet"):
        resolve_side("naïve")


def test_memory_guard_refuses_before_building():
    from incprof.errors import ResourceError
    from incprof.count.limits import OVERHEAD_BYTES, check_memory, estimate_bytes

    spec = resolve_side("naive")
    needed = estimate_bytes(spec)
    params = 97_526_008 + 3_287_144 + 3_461_224
    assert needed > 4 * params
    with pytest.raises(ResourceError, match="lower --batch-size"):
        check_memory(spec, limit_bytes=needed - 1)
    assert check_memory(spec, limit_bytes=needed) == needed
    # activations grow with the batch; params (built in fp32, plus a cast copy) and the fixed
    # allowance do not
    per_image = needed - 8 * params - OVERHEAD_BYTES
    assert estimate_bytes(spec, batch_size=3) - estimate_bytes(spec) == 2 * per_image
    assert place(spec)[0].in_shape == (3, 224, 224)


def test_sides_resolve_like_spec_resolve(tmp_path, monkeypatch):
    """A folder or file named like a built-in or a variant never shadows it; a Path is a file."""
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "googlenet").mkdir()
    (tmp_path / "naive").write_text("not: a spec\n")
    (tmp_path / "mine").write_text((DATA / "tiny.yaml").read_text())
    assert resolve_side("googlenet").name == "googlenet"
    assert resolve_side("naive").name == "googlenet[naive]"
    assert resolve_side(Path("mine")).name == resolve_side("./mine").name == "tiny"
    with pytest.raises(SpecError, match="neither a variant"):
        resolve_side("mine")
def test_saving_reads_from_original_to_variant():
    """reduced (A) against factorized (B): each 5x5 (c5r -> c5) becomes 3x3 c5r -> c5 and 3x3
    c5 -> c5, which costs more where c5 > c5r, so the saving 1 - B/A is negative."""
    df = compare_modules_records(resolve_side("reduced"), resolve_side("factorized"))
    t = df.attrs["totals"]
    a = sum(reduced_module(*m)[1] for m in MODULES.values())
    b = a + sum((9 * c5r * c5 + 9 * c5 * c5 - 25 * c5r * c5) * hw * hw
                for _, _, _, _, c5r, c5, _, hw in MODULES.values())
    assert (t["a_macs"], t["b_macs"]) == (a, b)
    assert t["macs_saving_pct"] == round((1 - b / a) * 100, 1) < 0
    assert "negative: B costs more" in df.attrs["meta"]["conventions"]


def test_diff_keeps_only_the_changed_rows(write_spec):
    """tiny.yaml's classifier widened from 5 to 7 outputs: only fc differs, by (8 + 1) x 2 params."""
    from incprof.spec.registry import resolve

    text = (DATA / "tiny.yaml").read_text().replace("linear: {out: 5}", "linear: {out: 7}")
    changed = write_spec(text.replace("1x1x5", "1x1x7"), "tiny7.yaml")
    old, new = resolve(str(DATA / "tiny.yaml")), resolve(str(changed))
    diff = diff_records(old, new, labels=("old", "new"))
    (fc,) = diff.rows
    assert fc["row"] == "fc" and diff.attrs["meta"]["level"] == "diff"
    assert (fc["a_params"], fc["b_params"]) == (8 * 5 + 5, 8 * 7 + 7)
    assert diff.attrs["totals"]["b_params"] - diff.attrs["totals"]["a_params"] == 2 * 9
    assert diff_records(old, old).rows == []


def test_a_merged_row_joins_the_rows_it_merges_and_1x1_sizes_are_equal():
    from incprof.analysis.compare import join_merged, join_rows, output_values

    def row(name, params, macs, out):
        return {"row": name, "params": params, "macs": macs, "output_size": out}

    spec = {"a+b": row("a+b", 7, 30, "4x4x2"), "pool": row("pool", 0, 0, "1x1x2")}
    model = {"a": row("a", 5, 10, "4x4x2"), "b": row("b", 2, 20, "4x4x2"),
             "pool": row("pool", 0, 0, "2")}
    left, right = join_merged(spec, model, ("params", "macs"))
    assert left == spec and list(right) == ["a+b", "pool"]
    assert (right["a+b"]["params"], right["a+b"]["macs"]) == (5 + 2, 10 + 20)
    joined = join_rows(left, right, ("params", "macs"))
    assert [r["row"] for r in joined] == ["a+b", "pool"]
    assert output_values("1x1x2") == output_values("2") == [2] != output_values("2x1x1")
