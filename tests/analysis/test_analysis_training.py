"""A training step's records: totals and ratios against tests/data/tiny.yaml worked by hand, the
refusals, and two steps compared."""

import pytest

from conftest import DATA
from incprof.analysis.training import compare_training_records, training_records
from incprof.errors import SpecError
from incprof.spec.registry import load_spec

CONV = 3 * 3 * 3 * 4 * 8 * 8  # tiny's first conv, on 8x8
MIXED = 2048  # its module, worked out in tests/count/test_training.py
FC, HEAD = 8 * 5, 16 * 3


def test_tiny_totals_and_ratios():
    t = training_records(DATA / "tiny.yaml", batch_size=3).attrs["totals"]
    step = 3 * (2 * CONV + 3 * (MIXED + FC + HEAD))
    assert t["step_macs"] == step
    assert t["inference_macs"] == 3 * (CONV + MIXED + FC)  # no aux head at inference
    assert t["training_over_inference_macs"] == round(step / (3 * (CONV + MIXED + FC)), 4)
    assert t["aux_share"] == round(3 * 3 * HEAD / step, 4)  # its forward and two gradients


def test_verified_and_frozen():
    records = training_records(DATA / "tiny.yaml", batch_size=2, verify=True,
                               frozen=frozenset({"conv"}))
    assert records.attrs["totals"]["check_agrees"] is True
    rows = {r["row"]: r for r in records.rows}
    assert rows["conv"]["trained"] is False and rows["conv"]["backward_macs"] == 0


def test_unknown_frozen_row_is_refused():
    with pytest.raises(SpecError, match="no row or aux head called nope"):
        training_records(DATA / "tiny.yaml", frozen=frozenset({"nope"}))


def test_batchnorm_on_one_value_per_channel_is_refused():
    # Inception-v3's aux head ends in a 5x5 conv with BatchNorm on a 1x1 output
    with pytest.raises(SpecError, match="--batch-size 2"):
        training_records("inception_v3", batch_size=1, verify=True)


def test_compare_two_steps():
    spec = load_spec(DATA / "tiny.yaml")
    records = compare_training_records(spec, spec, labels=("a", "b"), batch_size=2)
    t = records.attrs["totals"]
    assert t["step_ratio"] == 1.0
    assert all(r["step_saved_pct"] in (0.0, None) for r in records.rows)


def test_python_api_train_mode():
    import incprof

    df = incprof.profile(str(DATA / "tiny.yaml"), mode="train", batch_size=2)
    assert int(df["step_macs"].sum()) == 2 * (2 * CONV + 3 * (MIXED + FC + HEAD))
    assert df.attrs["meta"]["mode"] == "train"


def test_freezing_everything_is_refused():
    with pytest.raises(SpecError, match="no parameter to train"):
        training_records(DATA / "tiny.yaml", frozen=frozenset({"conv", "mixed", "fc", "head"}))
