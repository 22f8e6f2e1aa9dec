"""The latency model (incprof.nn.predict) on hand-worked rows and a hand-made device profile:
every expected figure is worked out in the test from the roofline's definition."""

import math

import pytest

from incprof.errors import UsageError

from incprof.nn.predict import (KERNEL_RULES, Cost, Kernel, Rates, _conv_kernels, cache_knees,
                                moved_bytes, predict_rows, sequence_cost)
from incprof.nn.profiles import maths_for
from incprof.spec.layers import LRN, Branches, Conv, Linear, Pool
from incprof.spec.shapes import Placed

MACS_PER_S = 1e9
BYTES_PER_S = 1e10
OVERHEAD_S = 1e-5


def _profile(device_type="cpu", points=None):
    ops = ("conv 1x1", "conv nxn", "conv 1xn", "conv depthwise", "conv stem", "linear", "pool max",
           "pool avg", "pool global", "batchnorm", "relu")
    return {"name": "hand", "device_type": device_type, "calibrated": True, "source": "test",
            "rates": {"fp32": {op: points or [[1, 1, MACS_PER_S]] for op in ops}},
            "bandwidth": [[10**18, BYTES_PER_S]], "overhead_s": OVERHEAD_S}


def _roof(macs, values, weights=0, batch=1, value_bytes=4):
    return max(macs * batch / MACS_PER_S, (values * batch + weights) * value_bytes / BYTES_PER_S)


def test_a_conv_is_its_roofline_plus_its_kernels_overheads():
    # 3x3 conv, 8 -> 16 channels, 10x10 'same', then ReLU: conv kernel, the call of its module,
    # the ReLU pass (one op per value); the row's own module call on top.
    conv = Conv(out=16, kernel=(3, 3), padding=(1, 1), relu=True)
    macs, weights = 3 * 3 * 8 * 16 * 10 * 10, 3 * 3 * 8 * 16
    values_in, values_out = 8 * 10 * 10, 16 * 10 * 10
    row = Placed("r", (conv,), (8, 10, 10), (16, 10, 10))
    cost = predict_rows([row], _profile(), ("fp32", "fp32"), 4, batch=2)["r"]
    expected = (_roof(macs, values_in + values_out, weights, batch=2)
                + _roof(values_out, 2 * values_out, batch=2) + 4 * OVERHEAD_S)
    assert cost.serial_s == pytest.approx(expected)
    assert cost.kernels == 4 and cost.overhead_s == pytest.approx(4 * OVERHEAD_S)
    assert cost.all_compute_s == pytest.approx(2 * (macs + values_out) / MACS_PER_S)


def test_branches_are_bounded_serial_and_parallel():
    # two 1x1 branches on a 4x6x6 input: 2 and 6 output channels, then the concatenation
    small, large = Conv(out=2, kernel=(1, 1)), Conv(out=6, kernel=(1, 1))
    layer = Branches(branches=((small,), (large,)))
    rates = Rates(_profile(), "fp32", "fp32", 4)
    cost = sequence_cost((layer,), (4, 6, 6), rates, 1)

    def branch(out):  # the conv, its module's call, its ReLU (a conv's default)
        return _roof(4 * out * 36, 4 * 36 + out * 36, 4 * out) + _roof(out * 36, 2 * out * 36) \
            + 3 * OVERHEAD_S

    # the copy into the concatenation; the calls of the module and of its two branches
    concat = _roof(0, 2 * 8 * 36) + 4 * OVERHEAD_S
    assert cost.serial_s == pytest.approx(branch(2) + branch(6) + concat)
    assert cost.parallel_s == pytest.approx(branch(6) + concat)


def test_a_linear_layer_at_batch_one_is_memory_bound_on_its_weights():
    layer = Linear(out=1000)
    fast = _profile(points=[[1, 1, 1e12]])  # 1 ms of MACs at 1 GMAC/s would hide the bytes
    cost = sequence_cost((layer,), (1024, 1, 1), Rates(fast, "fp32", "fp32", 4), 1)
    weights = 1024 * 1000
    assert cost.bound == "memory"
    assert cost.serial_s == pytest.approx((1024 + 1000 + weights) * 4 / BYTES_PER_S
                                          + 2 * OVERHEAD_S)


def test_a_max_pool_is_rated_by_its_window_ops():
    pool = Pool(kind="max", kernel=(3, 3), stride=(2, 2))
    cost = sequence_cost((pool,), (4, 9, 9), Rates(_profile(), "fp32", "fp32", 4), 1)
    window_ops = 9 * 4 * 4 * 4
    assert cost.serial_s == pytest.approx(_roof(window_ops, 4 * 81 + 4 * 16) + OVERHEAD_S)


def test_rates_come_from_the_nearest_points_in_work_and_output_positions():
    # the same work at 8x8 and at 56x56 output positions runs at different rates
    rates = Rates(_profile(points=[[1000, 64, 1e9], [1000, 3136, 4e9]]), "fp32", "fp32", 4)
    assert rates.rate("conv 1x1", 1000, 64) == 1e9
    assert rates.rate("conv 1x1", 1000, 3136) == 4e9
    # halfway between them on a log scale: the inverse-distance mean of the log rates
    assert rates.rate("conv 1x1", 1000, 448) == pytest.approx(math.sqrt(1e9 * 4e9))
    one = Rates(_profile(points=[[1, 1, 3e9]]), "fp32", "fp32", 4)  # a datasheet's single peak
    assert one.rate("conv 1x1", 10**9, 10**4) == 3e9


def test_bandwidth_follows_the_size_moved():
    profile = {**_profile(), "bandwidth": [[1000, 5e10], [10**6, 1e10]]}
    rates = Rates(profile, "fp32", "fp32", 4)
    assert rates.bytes_per_s(800) == 5e10 and rates.bytes_per_s(5000) == 1e10
    assert rates.bytes_per_s(10**9) == 1e10


def test_a_profile_without_the_math_or_op_is_an_error():
    with pytest.raises(UsageError, match="no bf16 rates"):
        Rates(_profile(), "bf16", "bf16", 2)
    profile = _profile()
    del profile["rates"]["fp32"]["pool avg"]
    with pytest.raises(UsageError, match="no rate for pool avg"):
        Rates(profile, "fp32", "fp32", 4).kernel(Kernel("pool avg", 10, 10), 1)


def test_cost_bound_names_the_largest_part():
    assert Cost(compute_s=1, memory_s=2, overhead_s=0.5).bound == "memory"
    assert Cost(compute_s=1, memory_s=0, overhead_s=3).bound == "overhead"


def test_tf32_applies_to_fp32_on_cuda_only():
    assert maths_for(_profile("cpu"), "fp32") == ("fp32", "fp32")
    assert maths_for(_profile("cuda"), "fp32") == ("tf32", "fp32")  # torch's defaults
    assert maths_for(_profile("cuda"), "fp32", {"conv": False, "matmul": True}) == ("fp32", "tf32")
    assert maths_for(_profile("cuda"), "bf16") == ("bf16", "bf16")


def test_a_row_past_the_cache_runs_at_the_cold_rates():
    # copies run at the best bandwidth up to 1000 bytes, at main memory's from 4000
    bandwidth = [[100, 8e10], [1000, 9e10], [2000, 3e10], [4000, 1.05e10], [8000, 1e10]]
    profile = {**_profile(points=[[1, 1, 4e9]]), "bandwidth": bandwidth}
    profile["cold_rates"] = _profile(points=[[1, 1, 1e9]])["rates"]
    rates = Rates(profile, "fp32", "fp32", 4)
    assert (rates.hot_below, rates.cold_above) == (1000, 4000)
    rates.working_set = 1000
    assert rates.rate("conv 1x1", 10) == 4e9
    rates.working_set = 4000
    assert rates.rate("conv 1x1", 10) == pytest.approx(1e9)
    rates.working_set = 2000  # halfway on a log scale
    assert rates.rate("conv 1x1", 10) == pytest.approx(2e9)
    # knees written into the profile (as calibrate does) are taken as they are
    assert Rates({**profile, "cache_knees": [10, 40]}, "fp32", "fp32", 4).cold_above == 40


def test_the_cache_knees_are_where_copies_slow_down_and_where_they_reach_memory():
    # 90% of the best (9e10) is 8.1e10: the last size at or above it is 100 (1000 is not);
    # main memory (the largest size) copies at 2e10, and 10% above it is 2.2e10: from 10000
    curve = [[10, 5e10], [100, 9e10], [1000, 4.5e10], [10000, 2.1e10], [100000, 2e10]]
    assert cache_knees(curve) == (100, 10000)
    # a curve that never slows down: hot up to its largest size, cold past it
    assert cache_knees([[10, 5e10], [100, 5e10]]) == (100, 100)


def test_each_kernel_moves_its_bytes_at_the_bandwidth_of_its_rows_working_set():
    # a 1x1 conv of 4 -> 4 channels on 10x10, no ReLU, with fast compute: memory-bound
    conv = Conv(out=4, kernel=(1, 1), relu=False)
    values, weights = 2 * 4 * 100, 16
    moved = (values + weights) * 4
    assert moved_bytes((conv,), (4, 10, 10), 1, 4) == moved
    profile = {**_profile(points=[[1, 1, 1e15]]), "bandwidth": [[moved, 1e10], [10**9, 1e9]]}
    row = Placed("r", (conv,), (4, 10, 10), (4, 10, 10))
    alone = predict_rows([row], profile, ("fp32", "fp32"), 4, 1)["r"]
    assert alone.memory_s == pytest.approx(moved / 1e10)
    # the same conv in a row that moves more than the cache holds runs at main memory's rate
    big = Placed("r", (Conv(out=4000, kernel=(1, 1), relu=False), conv), (4, 10, 10),
                 (4, 10, 10))
    rates = Rates(profile, "fp32", "fp32", 4)
    rates.working_set = moved_bytes(big.layers, big.in_shape, 1, 4)
    assert rates.working_set > moved
    assert rates.kernel(Kernel("conv 1x1", 1600, values, weights, 100), 1).memory_s == \
        pytest.approx(moved / 1e9)


def test_a_local_response_norm_is_one_kernel_rated_as_lrn_or_else_the_kernels_torch_runs():
    layer = LRN(size=5, alpha=1e-4, beta=0.75, k=1.0)
    (kernel,) = KERNEL_RULES[LRN](layer, (8, 4, 4), (8, 4, 4))
    work, values = 5 * 8 * 16, 2 * 8 * 16
    assert kernel.op == "lrn" and (kernel.work, kernel.values, kernel.pixels) == (work, values, 16)
    profile = _profile()
    profile["rates"]["fp32"]["lrn"] = [[1, 1, 2e9]]
    fast = {**profile, "bandwidth": [[10**18, 1e15]]}  # compute-bound: work / rate + overhead
    assert Rates(fast, "fp32", "fp32", 4).kernel(kernel, 1).serial_s == \
        pytest.approx(work / 2e9 + OVERHEAD_S)
    # without an lrn rate: an average pool's window ops and six passes, seven overheads
    cost = Rates(_profile(), "fp32", "fp32", 4).kernel(kernel, 1)
    assert cost.kernels == 7
    assert cost.serial_s == pytest.approx(_roof(work, values) + 6 * _roof(8 * 16, values)
                                          + 7 * OVERHEAD_S)


def test_a_grouped_conv_is_neither_depthwise_nor_dense():
    def op(conv, channels):
        return _conv_kernels(conv, (channels, 8, 8), (conv.out, 8, 8))[0].op

    assert op(Conv(out=64, kernel=(3, 3), padding=(1, 1), groups=64), 64) == "conv depthwise"
    assert op(Conv(out=64, kernel=(3, 3), padding=(1, 1), groups=4), 64) == "conv grouped"
    assert op(Conv(out=64, kernel=(3, 3), padding=(1, 1)), 64) == "conv nxn"
    profile = _profile()
    profile["rates"]["fp32"]["conv depthwise"] = [[1, 1, 5e9]]  # no "conv grouped": depthwise's
    assert Rates(profile, "fp32", "fp32", 4).rate("conv grouped", 100) == 5e9


def test_an_adaptive_pool_is_rated_by_the_values_it_writes():
    from incprof.spec.layers import AdaptiveAvgPool

    def kernel(size, shape):
        layer = AdaptiveAvgPool(size=size)
        return KERNEL_RULES[AdaptiveAvgPool](layer, shape, (shape[0], *size))[0]

    # one op per output value, whatever its window: 256 channels of 6x6, read from 13x13
    assert kernel((6, 6), (256, 13, 13)) == Kernel("pool adaptive", 256 * 36, 256 * (169 + 36),
                                                  0, 36, fresh=256 * 36)
    assert kernel((7, 7), (512, 7, 7)).work == kernel((7, 7), (512, 14, 14)).work == 512 * 49
    # to one position it is a global average, one op per input value
    assert kernel((1, 1), (512, 7, 7)) == Kernel("pool global", 512 * 49, 512 * 50, 0, 49,
                                                fresh=512)
    profile = _profile()  # no "pool adaptive" rates: an average pool's
    profile["rates"]["fp32"]["pool avg"] = [[1, 1, 3e9]]
    assert Rates(profile, "fp32", "fp32", 4).rate("pool adaptive", 100) == 3e9


def test_a_dropout_row_is_its_module_call_and_an_op_that_does_no_work():
    # at inference a dropout returns its input: the row's call, then its module's op (rated as
    # the profile's empty op, overhead_s), nothing moved
    from incprof.spec.layers import Dropout

    profile = {**_profile(), "call_s": 2e-6}
    row = Placed("drop", (Dropout(p=0.4),), (1024, 1, 1), (1024, 1, 1))
    cost = predict_rows([row], profile, ("fp32", "fp32"), 4, batch=1)["drop"]
    assert cost.serial_s == pytest.approx(2e-6 + OVERHEAD_S)
    assert cost.moved_bytes == 0 and cost.kernels == 2


def test_within_a_pass_each_new_output_is_written_into_memory_out_of_the_caches():
    # copies run at 40 GB/s up to 1 MB and at 10 GB/s from main memory; a 3x3 conv 8 -> 16 on
    # 10x10 with BatchNorm and ReLU writes two new outputs of 16x10x10 values (the conv's and
    # BatchNorm's; the ReLU is in place): within a pass each costs twice its bytes (the line
    # read in, then written) at main memory's bandwidth less the same at the row's own
    profile = {**_profile(), "bandwidth": [[2**20, 4e10], [2**30, 1e10]]}
    conv = Conv(out=16, kernel=(3, 3), padding=(1, 1), bn_eps=1e-5, relu=True)
    row = Placed("r", (conv,), (8, 10, 10), (16, 10, 10))
    cost = predict_rows([row], profile, ("fp32", "fp32"), 4, batch=1)["r"]
    written = 2 * 2 * 16 * 10 * 10 * 4  # bytes moved: two outputs, each read in and written
    assert cost.in_network_s == pytest.approx(written / 1e10 - written / 4e10)
    # a row that already reaches main memory alone adds nothing
    cold = Rates(profile, "fp32", "fp32", 4)
    cold.working_set = 2**31
    assert cold.fresh_s(Kernel("conv 1x1", 1, 1, fresh=1000), 1) == 0
    # a datasheet profile (one bandwidth) adds nothing either, nor a CUDA profile (not measured)
    assert predict_rows([row], _profile(), ("fp32", "fp32"), 4, batch=1)["r"].in_network_s == 0
    cuda = {**profile, "device_type": "cuda"}
    assert predict_rows([row], cuda, ("fp32", "fp32"), 4, batch=1)["r"].in_network_s == 0
