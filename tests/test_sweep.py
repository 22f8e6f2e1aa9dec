"""Resolution sweeps: validity, costs and the smallest accepted input."""

from incprof.spec import resolve
from incprof.sweep import min_input_size, sweep


def test_inception_v3_sweep():
    df = sweep(resolve("inception_v3"), [79, 151, 299]).set_index("input")
    assert df["valid"].all()
    assert df.loc["299x299x3", "macs"] == 5_713_216_096
    assert df.loc["299x299x3", "final_feature_map"] == "8x8x2048"
    assert df.loc["79x79x3", "final_feature_map"] == "1x1x2048"
    assert (df["params"] == 23_834_568).all()  # global pooling: params do not depend on the size
    assert df.attrs["meta"]["min_input_size"] == 75  # torchvision's documented minimum


def test_googlenet_sweep_reports_invalid_sizes():
    df = sweep(resolve("googlenet"), [151, 224, 320]).set_index("input")
    assert not df.loc["151x151x3", "valid"] and "avgpool" in df.loc["151x151x3", "reason"]
    # the fixed 7x7/1 average pool leaves 4x4 at 320, so the classifier grows
    assert df.loc["320x320x3", "params"] == 6_998_552 - 1024 * 1000 + 1024 * 16 * 1000
    assert df.attrs["meta"]["min_input_size"] == min_input_size(resolve("googlenet")) == 223
