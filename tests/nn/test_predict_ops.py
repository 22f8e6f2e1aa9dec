"""A model's ops priced as kernels (nn.predict_ops), against MACs and bytes worked out here and a
hand-made profile whose every rate is flat."""

import pytest

from conftest import FLAT_PROFILE as FLAT
from incprof.capture.row_ops import OpCall, RowOps
from incprof.nn.predict import CALL
from incprof.nn.predict_ops import op_kernels, predict_model_rows


def conv(x, w, out, *rest):
    return OpCall("conv2d", (x, w, (w[0],), [1, 1], [1, 1], [1, 1], *rest), out, False)


@pytest.mark.parametrize("x, w, groups, op", [
    ((1, 8, 16, 16), (16, 8, 3, 3), 1, "conv nxn"),
    ((1, 8, 16, 16), (16, 8, 1, 1), 1, "conv 1x1"),
    ((1, 8, 16, 16), (16, 8, 1, 7), 1, "conv 1xn"),
    ((1, 8, 16, 16), (8, 1, 3, 3), 8, "conv depthwise"),
    ((1, 8, 16, 16), (16, 4, 3, 3), 2, "conv grouped"),
    ((1, 3, 16, 16), (16, 3, 3, 3), 1, "conv stem"),
])
def test_a_conv_is_one_kernel_of_its_class_with_its_macs_and_bytes(x, w, groups, op):
    out = (1, w[0], 16, 16)
    [k] = op_kernels(conv(x, w, out, groups))
    kh, kw = w[2:]
    assert k.op == op
    assert k.work == kh * kw * (x[1] // groups) * w[0] * 16 * 16  # MACs per output, every output
    assert (k.values, k.weights) == (x[1] * 256 + w[0] * 256, w[0] * w[1] * kh * kw)
    assert (k.pixels, k.fresh) == (256, w[0] * 256)


def test_a_linear_layer_and_a_batched_product_run_at_the_linear_rate():
    [k] = op_kernels(OpCall("linear", ((2, 8), (4, 8), (4,)), (2, 4), False))
    assert (k.op, k.work, k.pixels) == ("linear", 2 * 4 * 8, 2)
    assert k.values == 2 * 8 + 4 * 8 + 4 + 2 * 4
    [k] = op_kernels(OpCall("bmm", ((3, 5, 6), (3, 6, 7)), (3, 5, 7), False))
    assert (k.op, k.work, k.pixels) == ("linear", 3 * 5 * 7 * 6, 3 * 5)


def test_attention_is_two_products_and_a_softmax_over_its_scores():
    q, k, v = (1, 2, 5, 8), (1, 2, 6, 8), (1, 2, 6, 4)
    first, maxima, division, second = op_kernels(
        OpCall("scaled_dot_product_attention", (q, k, v), (1, 2, 5, 4), False))
    assert (first.op, first.work, first.pixels) == ("linear", 2 * 5 * 6 * 8, 2 * 5)  # Q K^T
    # a softmax over the 2 x 5 x 6 scores, each of the 2 x 5 queries' rows: two passes
    assert [(p.op, p.work, p.pixels) for p in (maxima, division)] == [("relu", 60, 10)] * 2
    assert (second.op, second.work) == ("linear", 2 * 5 * 6 * 4)  # weights times V


def test_pools_and_norms():
    [k] = op_kernels(OpCall("max_pool2d", ((1, 8, 16, 16), [3, 3], [2, 2], [1, 1]),
                            (1, 8, 8, 8), False))
    assert (k.op, k.work, k.pixels) == ("pool max", 9 * 8 * 8 * 8, 64)
    [k] = op_kernels(OpCall("adaptive_avg_pool2d", ((2, 8, 7, 7), [1, 1]), (2, 8, 1, 1), False))
    assert (k.op, k.work, k.pixels) == ("pool global", 2 * 8 * 49, 2 * 49)  # the batch's positions
    [k] = op_kernels(OpCall("mean", ((2, 197, 768), [1]), (2, 768), False))
    assert (k.op, k.work, k.pixels) == ("pool global", 2 * 197 * 768, 197)
    [k] = op_kernels(OpCall("batch_norm", ((1, 8, 4, 4),), (1, 8, 4, 4), False))
    assert (k.op, k.work) == ("batchnorm", 128)
    stats, norm = op_kernels(OpCall("layer_norm", ((2, 5, 8), [8]), (2, 5, 8), False))
    assert (stats.op, norm.op) == ("relu", "batchnorm") and norm.work == 80


def test_element_wise_ops_are_one_pass_in_place_or_into_a_new_tensor():
    [fresh] = op_kernels(OpCall("gelu", ((2, 5, 8),), (2, 5, 8), False))
    [same] = op_kernels(OpCall("relu_", ((2, 5, 8),), (2, 5, 8), True))
    assert (fresh.op, fresh.work, fresh.values, fresh.fresh) == ("relu", 80, 160, 80)
    assert (same.fresh, same.values) == (0, 160)
    [add] = op_kernels(OpCall("add", ((2, 5, 8), (2, 5, 8)), (2, 5, 8), False))
    assert add.values == 3 * 80


def test_a_view_costs_a_call_a_copy_its_bytes_and_a_size_query_nothing():
    assert op_kernels(OpCall("permute", ((1, 8, 4, 4), [0, 2, 3, 1]), (1, 4, 4, 8), True)) == [CALL]
    [copy] = op_kernels(OpCall("contiguous", ((1, 4, 4, 8),), (1, 4, 4, 8), False))
    assert (copy.op, copy.work, copy.values, copy.fresh) == ("copy", 0, 256, 128)
    [cat] = op_kernels(OpCall("cat", ([(1, 3, 4, 4), (1, 5, 4, 4)], 1), (1, 8, 4, 4), False))
    assert cat.values == 2 * 128
    [zeros] = op_kernels(OpCall("zeros", ([2, 3],), (2, 3), False))
    assert zeros.values == 6  # written, not read
    assert op_kernels(OpCall("empty", ([2, 3],), (2, 3), False)) == [CALL]
    assert op_kernels(OpCall("size", ((2, 3), 0), None, False)) == []
    # written in place: its output is its input, but its values are written
    [fill] = op_kernels(OpCall("fill_", ((2, 3), 0.0), (2, 3), True))
    [copy_] = op_kernels(OpCall("copy_", ((2, 3), (2, 3)), (2, 3), True))
    assert (fill.values, copy_.values) == (6, 12)


def test_an_op_without_a_rule_has_no_kernels():
    assert op_kernels(OpCall("cumsum", ((2, 8), 1), (2, 8), False)) is None


def test_a_row_is_its_kernels_rooflines_its_ops_dispatch_and_its_module_calls():
    x, w, out = (1, 8, 16, 16), (16, 8, 3, 3), (1, 16, 16, 16)
    row = RowOps([conv(x, w, out, 1), OpCall("relu_", (out,), out, True),
                  OpCall("view", (out, [1, -1]), (1, 4096), True)], calls=3)
    costs, unpriced = predict_model_rows({"block": row}, FLAT, ("fp32", "fp32"), 4)
    macs = 9 * 8 * 16 * 256
    conv_s = max(macs / 1e9, (8 * 256 + 16 * 256 + 16 * 8 * 9) * 4 / 1e10)
    relu_s = max(4096 / 1e9, 2 * 4096 * 4 / 1e10)
    # each op's dispatch: the overhead (a module running one op) less a module call; a view a
    # call's; and the three module calls
    expected = conv_s + relu_s + 2 * (3e-6 - 1e-6) + 1e-6 + 3 * 1e-6
    assert costs["block"].serial_s == pytest.approx(expected, rel=1e-12)
    assert costs["block"].kernels == 6 and unpriced["block"] == {}


def test_without_a_timed_call_an_op_pays_the_whole_overhead_and_a_call_nothing():
    profile = {k: v for k, v in FLAT.items() if k != "call_s"}  # a datasheet's: no call_s
    row = RowOps([OpCall("relu", ((1, 100),), (1, 100), False),
                  OpCall("view", ((1, 100), [100]), (100,), True)], calls=1)
    costs, _ = predict_model_rows({"act": row}, profile, ("fp32", "fp32"), 4)
    assert costs["act"].serial_s == pytest.approx(max(100 / 1e9, 800 / 1e10) + 3e-6, rel=1e-12)


def test_a_dropout_at_inference_is_an_op_that_does_nothing():
    [k] = op_kernels(OpCall("dropout", ((1, 8), 0.5, False), (1, 8), True))
    assert (k.op, k.work, k.values) == ("identity", 0, 0)


def test_an_op_without_a_rule_is_named_not_priced():
    row = RowOps([OpCall("cumsum", ((2, 8), 1), (2, 8), False),
                  OpCall("linear", ((2, 8), (4, 8), (4,)), (2, 4), False)])
    costs, unpriced = predict_model_rows({"head": row}, FLAT, ("fp32", "fp32"), 4)
    assert unpriced["head"] == {"cumsum": 1}
    assert costs["head"].kernels == 1


def test_positions_are_a_feature_maps_pixels_or_a_sequences_tokens():
    [conv1d] = op_kernels(OpCall("conv1d", ((2, 8, 50), (16, 8, 3), (16,)), (2, 16, 48), False))
    assert (conv1d.op, conv1d.pixels) == ("conv 1xn", 2 * 48)
    [gelu] = op_kernels(OpCall("gelu", ((1, 197, 768),), (1, 197, 768), False))
    assert gelu.pixels == 197
    [bn] = op_kernels(OpCall("batch_norm", ((2, 8, 4, 4),), (2, 8, 4, 4), False))
    assert bn.pixels == 2 * 16
