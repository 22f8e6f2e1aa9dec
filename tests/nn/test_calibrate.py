"""incprof calibrate's microbenchmarks, run briefly on the CPU: the profile's shape, not its speed."""

import pytest

torch = pytest.importorskip("torch")

from incprof.nn.calibrate import (CONV_SHAPES, ELEMENTWISE_SHAPES, LINEAR_SHAPES, POOL_SHAPES,
                                  calibrate, write_profile)
from incprof.nn.predict import MAC_OPS, WINDOW_OPS
from incprof.nn.profiles import cached_profile, check_profile


@pytest.mark.slow  # every shape at least 7 times: tens of seconds at one thread
def test_a_cpu_calibration_rates_every_op_class_and_lands_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    profile = calibrate("cpu", "fp32", threads=1, budget_s=0.5)
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
    # a 1x1 conv's work is its MACs: k*k*cin*cout*H*W for the smallest shape (832 -> 32 at 7x7)
    assert rates["conv 1x1"][0][:2] == [832 * 32 * 7 * 7, 7 * 7]
    assert set(profile["cold_rates"]["fp32"]) == set(rates)
    assert profile["overhead_s"] > 0 and all(rate > 0 for _, rate in profile["bandwidth"])
    path = write_profile(profile)
    assert path.startswith(str(tmp_path))
    found = cached_profile(profile["device_slug"], 1, "fp32", torch.__version__)
    assert found["rates"] == profile["rates"]
