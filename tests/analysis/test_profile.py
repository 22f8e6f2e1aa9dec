"""The profile: columns, the paper audit, totals and batch scaling (read through its DataFrame)."""

import pytest

import incprof
from incprof.analysis.profile import COLUMNS, INT_COLUMNS, check_budgets, profile_records


@pytest.fixture(scope="module")
def df():
    return profile_records("googlenet").to_frame()


def test_public_api_returns_dataframe(df):
    api = incprof.profile("googlenet")
    assert list(api.columns) == COLUMNS and api.equals(df) and api.attrs == df.attrs
    assert all(str(api[c].dtype) == "Int64" for c in INT_COLUMNS)


def test_flagged_rows_are_conv1_4c_and_5a(df):
    flagged = df[df["flag"].notna()]
    assert list(flagged["row"]) == ["conv1", "inception_4c", "inception_5a"]
    assert all(flagged["reason"].str.len() > 20)


def test_paper_figures_read_with_the_spec_units(df):
    row = df.set_index("row").loc["conv2"]
    assert row["printed_params"] == "112K" and row["paper_params"] == 112 * 1024
    assert row["printed_ops"] == "360M" and row["paper_ops"] == 360_000_000
    assert row["paper_params_delta_pct"] == round((112 * 1024 / row["params"] - 1) * 100, 1)


def test_conv1_alternative_explains_the_printed_figures(df):
    row = df.set_index("row").loc["conv1"]
    # depthwise 7x7 on 3 channels with multiplier 8, then pointwise 24 -> 64, no biases
    alt_params = 7 * 7 * 3 * 8 + 24 * 64
    assert alt_params == 2712
    assert row["alt_params"] == alt_params
    assert row["alt_macs"] == alt_params * 112 * 112
    assert round(row["alt_macs"] / 1e6) == 34  # the printed 34M
    assert "depthwise-separable" in row["reason"]


def test_totals(df):
    t = df.attrs["totals"]
    main = df[~df["aux"]]
    assert t["params"] == main["params"].sum() == 6_998_552
    assert t["params_with_aux"] == df["params"].sum()
    assert t["macs"] == main["macs"].sum()
    assert t["depth"] == t["paper_depth"] == 22
    # column sums of Table 1 (params read with K = 1024, ops with M = 10^6)
    printed_params_k = [2.7, 112, 159, 380, 364, 437, 463, 580, 840, 1072, 1388, 1000]
    assert t["paper_params_sum"] == sum(round(k * 1024) for k in printed_params_k)
    assert t["paper_ops_sum"] == 1_502_000_000
    assert t["check_agrees"] is None


def test_batch_scales_macs_not_params(df):
    df4 = profile_records("googlenet", batch_size=4).to_frame()
    assert (df4["macs"] == 4 * df["macs"]).all() and (df4["params"] == df["params"]).all()
    assert df4["paper_ops_delta_pct"].equals(df["paper_ops_delta_pct"])


def test_no_aux_drops_the_heads():
    df = profile_records("googlenet", aux=False).to_frame()
    assert not df["aux"].any()
    assert df.attrs["totals"]["params_with_aux"] == df.attrs["totals"]["params"]


def test_other_input_size_drops_paper_comparison():
    df = profile_records("googlenet", input_size=(320, 320)).to_frame()
    assert df["paper_ops_delta_pct"].isna().all()
    assert df.attrs["meta"]["paper_figures_apply"] is False
    assert df.set_index("row").loc["conv1", "macs"] == 7 * 7 * 3 * 64 * 160 * 160


def test_verify_fills_the_check_columns():
    pytest.importorskip("torch")
    df = profile_records("googlenet", verify=True, flavor="torchvision").to_frame()
    assert df.attrs["totals"]["check_agrees"] is True
    assert (df["check_macs"] == df["macs"]).all()
    assert df.attrs["totals"]["params"] == 6_624_904


def test_bad_batch_size():
    with pytest.raises(ValueError):
        profile_records("googlenet", batch_size=0)


def test_inception_v3_published_figures():
    df = profile_records("inception_v3").to_frame()
    t = df.attrs["totals"]
    assert t["params_with_aux"] == 27_161_264
    (published,) = t["published"]
    assert published["params_matches"] and published["macs_matches"]
    assert round(t["macs"] / 1e9, 2) == 5.71
    flagged = df[df["flag"].notna()]
    assert list(flagged["row"]) == ["conv_3b", "conv_4a", "pool_2"]
    assert all("torchvision" in reason for reason in flagged["reason"])


def test_googlenet_published_figures_are_for_the_torchvision_flavour():
    assert profile_records("googlenet").attrs["totals"]["published"] == []
    (published,) = profile_records("googlenet", flavor="torchvision").attrs["totals"]["published"]
    assert published["params"] == 6_624_904 and published["params_matches"]
    assert published["macs"] == "1.498G" and published["macs_matches"]


def test_conventions_say_only_what_applies():
    from conftest import DATA

    plain = profile_records(str(DATA / "tiny.yaml"), aux=False,
                            batch_size=8).attrs["meta"]["conventions"]
    assert "whole batch of 8" in plain and "aux heads" not in plain and "Paper deltas" not in plain
    table1 = profile_records("googlenet").attrs["meta"]["conventions"]
    assert "per image" in table1 and "aux heads run only in training" in table1
    assert "Paper deltas" in table1
    assert "Paper deltas" not in profile_records("inception_v3").attrs["meta"]["conventions"]


def test_check_budgets_reports_each_given_budget_and_its_excess():
    totals = {"params": 7_000_001, "macs": 1_500_000_000}
    assert check_budgets(totals, max_params=7_000_000) == [
        {"what": "params", "figure": 7_000_001, "limit": 7_000_000, "excess": 1}]
    assert check_budgets(totals, max_params=8_000_000, max_macs=1_600_000_000) == [
        {"what": "params", "figure": 7_000_001, "limit": 8_000_000, "excess": -999_999},
        {"what": "MACs", "figure": 1_500_000_000, "limit": 1_600_000_000, "excess": -100_000_000}]
    assert check_budgets(totals) == []
