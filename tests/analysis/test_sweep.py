"""Resolution sweeps: validity, costs and the smallest accepted input."""

from incprof.spec.registry import resolve
from incprof.analysis.sweep import min_input_size, sweep_records


def test_inception_v3_sweep():
    df = sweep_records(resolve("inception_v3"), [79, 151, 299]).to_frame().set_index("input")
    assert df["valid"].all()
    assert df.loc["299x299x3", "macs"] == 5_713_216_096
    assert df.loc["299x299x3", "final_feature_map"] == "8x8x2048"
    assert df.loc["79x79x3", "final_feature_map"] == "1x1x2048"
    assert (df["params"] == 23_834_568).all()  # global pooling: params do not depend on the size
    assert df.attrs["meta"]["min_input_size"] == 75  # torchvision's documented minimum


def test_googlenet_sweep_reports_invalid_sizes():
    df = sweep_records(resolve("googlenet"), [151, 224, 320]).to_frame().set_index("input")
    assert not df.loc["151x151x3", "valid"] and "avgpool" in df.loc["151x151x3", "reason"]
    # the fixed 7x7/1 average pool leaves 4x4 at 320, so the classifier grows
    assert df.loc["320x320x3", "params"] == 6_998_552 - 1024 * 1000 + 1024 * 16 * 1000
    assert df.attrs["meta"]["min_input_size"] == min_input_size(resolve("googlenet")) == 223


def _spec(rows, aux=(), side=64):
    from incprof.spec.model import ArchSpec, AuxHead, Row

    return ArchSpec(name="s", title="s", source="test", input=(3, side, side),
                    rows=tuple(Row(name=f"r{i}", type="t", layers=tuple(layers))
                               for i, layers in enumerate(rows)),
                    aux=tuple(AuxHead(name=f"h{i}", after=after, layers=tuple(layers))
                              for i, (after, layers) in enumerate(aux)))


def _counting(monkeypatch):
    """Count shape inferences made by min_input_size (the relaxed and the exact ones)."""
    import incprof.analysis.sweep as sweep_module

    calls = {"n": 0}
    for name in ("_fits", "place"):
        real = getattr(sweep_module, name)

        def counted(*args, _real=real, **kwargs):
            calls["n"] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(sweep_module, name, counted)
    return calls


def test_min_input_size_of_a_14000_row_spec_takes_logarithmic_inferences(monkeypatch):
    from incprof.spec.layers import Conv, Pool

    # a 7x7/2 conv (no padding) makes floor((n - 7) / 2) + 1, 13,998 'same' 3x3 convs keep it, and
    # a 5x5/1 max pool needs it to be at least 5: floor((n - 7) / 2) >= 4, so n >= 15.
    rows = ([[Conv(out=2, kernel=(7, 7), stride=(2, 2))]]
            + [[Conv(out=2, kernel=(3, 3), padding=(1, 1))]] * 13_998
            + [[Pool("max", (5, 5), (1, 1))]])
    spec = _spec(rows, side=16_384)
    calls = _counting(monkeypatch)
    assert min_input_size(spec) == 15
    # 14 halvings of 16,384 sides, one check of the largest side, one exact inference
    assert calls["n"] <= 2 + 16_384 .bit_length()


def test_min_input_size_when_branches_agree_only_at_even_sides(monkeypatch):
    from incprof.spec.layers import Branches, Conv, Pool

    # r1's branches end at floor((n - 1) / 2) + 1 and floor((n - 2) / 2) + 1 sides: equal for even
    # n only. The aux head's 9x9 pool needs n >= 9, where every window first fits; 10 is the answer.
    rows = [[Conv(out=4, kernel=(1, 1))],
            [Branches(((Conv(out=2, kernel=(1, 1), stride=(2, 2)),),
                       (Conv(out=2, kernel=(2, 2), stride=(2, 2)),)))]]
    spec = _spec(rows, aux=[("r0", [Pool("avg", (9, 9), (1, 1))])])
    calls = _counting(monkeypatch)
    assert min_input_size(spec) == 10
    assert calls["n"] <= 2 + 64 .bit_length() + 1
    # a 4x4/2 beside a 1x1/2 conv never agree (the second is always 1 or 2 larger): no side
    never = _spec([[Branches(((Conv(out=2, kernel=(4, 4), stride=(2, 2)),),
                              (Conv(out=2, kernel=(1, 1), stride=(2, 2)),)))]])
    assert min_input_size(never) is None
