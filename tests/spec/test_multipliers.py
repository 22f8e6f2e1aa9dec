"""MobileNet's rewrites on any spec: width, resolution and dense, worked by hand (no torch)."""

import pytest

from incprof.count.analytic import count_spec
from incprof.errors import SpecError
from incprof.spec.multipliers import dense, resolution, thinned, width
from incprof.spec.registry import load, load_spec

SEPARABLE = """name: s
input: [3, 8, 8]
rows:
  - {name: sep, type: separable, layers: [{separable: {out: 4, kernel: 3, padding: 1, bn_eps: 0.001}}]}
  - {name: dw, type: conv dw, layers: [{conv: {out: 4, kernel: 3, stride: 2, padding: 1, groups: 4}}]}
  - {name: pw, type: conv, layers: [{conv: {out: 6, kernel: 1}}]}
  - {name: gap, type: pool, layers: [{global_avgpool: {}}]}
aux:
  - {name: head, after: pw, layers: [{global_avgpool: {}}, {linear: {out: 2}}]}
"""


def _totals(spec):
    counted = [rc.counts for rc in count_spec(spec) if not rc.placed.is_aux]
    return sum(c.params for c in counted), sum(c.macs for c in counted)


def test_thinned_widths_follow_tf_slim():
    """max(int(d * alpha), 8), never wider than d (TF-slim's mobilenet_v1.py depth())."""
    assert [thinned(32, 0.75), thinned(1024, 0.25), thinned(100, 0.33), thinned(12, 0.5),
            thinned(4, 0.5)] == [24, 256, 33, 8, 4]


def test_width_thins_every_conv_and_keeps_depthwise_convs_depthwise():
    spec = width(load("googlenet", aux=False), 0.5)
    (row,) = [rc for rc in count_spec(spec) if rc.placed.name == "inception_3a"]
    assert row.placed.out_shape[0] == (64 + 128 + 32 + 32) // 2
    assert row.placed.in_shape[0] == 192 // 2
    assert spec.rows[-1].layers == load("googlenet", aux=False).rows[-1].layers  # softmax
    thin = width(load("mobilenet_v1"), 0.5)
    conv = thin.row("conv2_dw").layers[0]
    assert (conv.out, conv.groups) == (32, 32)
    assert thin.claims == () and thin.published == ()


def test_resolution_changes_the_input_only():
    spec = resolution(load("mobilenet_v1"), 160)
    assert spec.input == (3, 160, 160) and spec.rows[0].layers == load("mobilenet_v1").rows[0].layers


def test_dense_merges_separable_pairs_across_rows(write_spec):
    """A separable layer becomes a full 3x3 conv 3 -> 4 (with its bias and BatchNorm); the
    depthwise row and the 1x1 row after it become one full 3x3/2 conv 4 -> 6, and the aux head
    that hung on the 1x1 row moves to it."""
    spec = dense(load_spec(write_spec(SEPARABLE)))
    assert [row.name for row in spec.rows] == ["sep", "dw", "gap"]
    assert spec.aux[0].after == "dw"
    params, macs = _totals(spec)
    assert params == (27 * 4 + 4 + 2 * 4) + (9 * 4 * 6 + 6)
    assert macs == 27 * 4 * 8 * 8 + 9 * 4 * 6 * 4 * 4


def test_bad_multipliers_are_refused(write_spec):
    spec = load("mobilenet_v1")
    for alpha in (0, 1.5, -0.5):
        with pytest.raises(SpecError, match="width multiplier"):
            width(spec, alpha)
    with pytest.raises(SpecError, match="positive integer"):
        resolution(spec, 0)
    with pytest.raises(SpecError, match="no depthwise-separable conv"):
        dense(load("googlenet"))
