"""incprof calibrate's microbenchmarks, run briefly on the CPU: the profile's shape, not its speed."""

import pytest

torch = pytest.importorskip("torch")

from incprof.nn.calibrate import calibrate, write_profile
from incprof.nn.grid import CONV_SHAPES, ELEMENTWISE_SHAPES, LINEAR_SHAPES, POOL_SHAPES, width
from incprof.nn.predict import MAC_OPS, WINDOW_OPS
from incprof.nn.profiles import cached_profile, check_profile


@pytest.mark.slow  # every shape at least 7 times: tens of seconds at one thread
def test_a_cpu_calibration_rates_every_op_class_and_lands_in_the_cache(tmp_path, monkeypatch):
    from incprof.nn import calibrate as module

    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    timed, time_s = [], module._time_s

    def slowed_at_first(fn, device, budget):  # the first two figures (the overheads) tripled
        timed.append(time_s(fn, device, budget) * (3 if len(timed) < 2 else 1))
        return timed[-1]

    monkeypatch.setattr(module, "_time_s", slowed_at_first)
    taken_off, rates = [], module._rates
    monkeypatch.setattr(module, "_rates", lambda points, overhead_s: (
        taken_off.append(overhead_s), rates(points, overhead_s))[1])
    profile = calibrate("cpu", "fp32", threads=1, budget_s=0.5)
    # an empty op's and an empty call's overhead, timed first and last: the lower kept, and the
    # one taken off every time that a rate is worked out from (hot and cold)
    assert (profile["overhead_s"], profile["call_s"]) == (min(timed[0], timed[-2]),
                                                          min(timed[1], timed[-1]))
    assert timed[-2] < timed[0] and timed[-1] < timed[1]
    assert taken_off == [profile["overhead_s"]] * 2
    check_profile(profile, "calibrated")
    assert profile["calibrated"] is True and profile["threads"] == 1
    assert set(profile["rates"]) == {"fp32"}
    rates = profile["rates"]["fp32"]
    assert set(rates) == set(MAC_OPS) | set(WINDOW_OPS)
    for op, points in rates.items():
        count = len(CONV_SHAPES.get(op, POOL_SHAPES.get(op, [])))
        count = count or {"linear": len(LINEAR_SHAPES)}.get(op, len(ELEMENTWISE_SHAPES))
        assert len(points) == count and points == sorted(points)
        assert all(work > 0 and positions > 0 and rate > 0 for work, positions, rate in points)
    # a 1x1 conv's work is its MACs: k*k*cin*cout*H*W; the smallest, 720 -> 360 at 5x5 (the
    # grid's width at side 5 is 64 * 56 / 5 = 716.8, to a multiple of 16)
    assert rates["conv 1x1"][0][:2] == [720 * 360 * 5 * 5, 5 * 5]
    assert set(profile["cold_rates"]["fp32"]) == set(rates)
    hot, cold = profile["cache_knees"]
    assert hot <= cold and hot in [size for size, _ in profile["bandwidth"]]
    assert profile["overhead_s"] > 0 and all(rate > 0 for _, rate in profile["bandwidth"])
    assert profile["probe_s"] > 0  # the speed probe's median, to scale a later run's predictions
    path = write_profile(profile)
    assert path.startswith(str(tmp_path))
    found = cached_profile(profile["device_slug"], 1, "fp32", torch.__version__)
    assert found["rates"] == profile["rates"]


def test_the_grid_keeps_its_widths_and_classes():
    # 64 channels at 56, twice as many at half the side, 512 at 7; never fewer than 32
    assert [width(side) for side in (56, 28, 14, 7, 112, 160)] == [64, 128, 256, 512, 32, 32]
    for cin, cout, kernel, stride, groups, side in CONV_SHAPES["conv grouped"]:
        assert 1 < groups < cin and cin % groups == 0  # neither dense nor depthwise
    for cin, cout, kernel, stride, groups, side in CONV_SHAPES["conv depthwise"]:
        assert groups == cin == cout


def test_a_rate_is_taken_from_the_time_less_the_overhead(monkeypatch):
    from incprof.nn import calibrate as module

    took = {"big": 5e-6, "tiny": 1.05e-6}
    monkeypatch.setattr(module, "_time_s", lambda fn, device, budget: took[fn()])
    found = [("relu", 1000, 10, lambda: "big"), ("relu", 10, 1, lambda: "tiny")]
    rates = module._rates(module._timed(found, None, 1.0, cold=False), overhead_s=1e-6)
    # 1000 ops in 5 us less 1 us; 10 ops in 1.05 us less 1 us is below a tenth of 1.05 us
    assert rates["relu"] == [[10, 1, pytest.approx(10 / 1.05e-7)], [1000, 10, pytest.approx(1000 / 4e-6)]]


def test_alone_each_shape_is_timed_in_two_passes_and_the_faster_median_kept(monkeypatch):
    from incprof.nn import calibrate as module

    # the first pass over the shapes is slowed (a neighbour's load) for "a", the second for "b"
    times = iter([4e-6, 2e-6, 2e-6, 6e-6])  # pass 1: a, b; pass 2: a, b
    calls = []

    def timed(fn, device, budget):
        calls.append((fn(), budget))
        return next(times)

    monkeypatch.setattr(module, "_time_s", timed)
    found = [("relu", 100, 1, lambda: "a"), ("relu", 200, 1, lambda: "b")]
    timed = module._timed(found, None, 1.0, cold=False)
    assert calls == [("a", 0.25), ("b", 0.25), ("a", 0.25), ("b", 0.25)]  # the budget halved
    assert timed["relu"] == [[100, 1, 2e-6], [200, 1, 2e-6]]


def test_a_cold_round_takes_the_clocks_own_cost_off_each_median(monkeypatch):
    from incprof.nn import calibrate as module

    # a call times 5 us on the clock, the clock alone 1 us (each timed once a round)
    def fake_timer(fn, device, cpu_ms=None):
        return lambda: 0.001 if fn() is None else 0.005

    monkeypatch.setattr(module, "timer", fake_timer)
    assert module._time_round([lambda: "a", lambda: "b"], None, 0.0) == [
        pytest.approx(4e-6), pytest.approx(4e-6)]
