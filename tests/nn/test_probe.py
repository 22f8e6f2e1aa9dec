"""The speed probe: what it runs, and the speed factor's cases."""

import pytest

from incprof.nn.grid import PROBE_CLASSES
from incprof.nn.probe import PROBE_CALLS, speed_factor

CPU = {"device": "AMD EPYC", "threads": 1, "dtype": "fp32", "probe_ms": 25.0}
PROFILE = {"device_slug": "amd-epyc", "threads": 1, "dtype": "fp32", "probe_s": 0.02}


def test_a_probe_round_runs_each_dense_grid_conv_once():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from incprof.nn.grid import CONV_SHAPES, SMALL_SIDES
    from incprof.nn.probe import make_probe

    # k_h * k_w * cin / groups * cout * output positions, "same" padding, batch 1; not the
    # smallest maps, which calibrations measure since stop 35
    macs = sum(kh * kw * cin // groups * cout * (-(-side // stride)) ** 2
               for op in PROBE_CLASSES
               for cin, cout, (kh, kw), stride, groups, side in CONV_SHAPES[op]
               if side not in SMALL_SIDES)
    # the probe earlier calibrations timed, to the MAC (the grid's sum before the small maps)
    assert macs == 5_330_765_824
    probe = make_probe(torch.device("cpu"), torch.float32)
    with FlopCounterMode(display=False) as counter:
        took_ms = probe()  # a sample: PROBE_CALLS rounds
    assert counter.get_total_flops() // 2 == PROBE_CALLS * macs
    assert len(took_ms) == PROBE_CALLS and all(ms > 0 for ms in took_ms)
    assert "conv depthwise" not in PROBE_CLASSES and "conv grouped" not in PROBE_CLASSES


def test_the_speed_factor_is_the_run_probe_over_the_calibration_probe():
    factor, note = speed_factor(PROFILE, CPU)
    assert factor == pytest.approx(25.0 / 20.0)
    assert note == ("the speed probe took 25.00 ms in this run against 20.00 ms at "
                    "calibration")


@pytest.mark.parametrize("profile, env, why", [
    ({**PROFILE, "probe_s": None}, CPU, "no speed probe"),
    (PROFILE, {**CPU, "probe_ms": None}, "timed no speed probe"),
    (PROFILE, {**CPU, "device": "Intel Xeon"}, "another device"),
    (PROFILE, {**CPU, "threads": 2}, "thread count"),
    (PROFILE, {**CPU, "dtype": "bf16"}, "dtype"),
])
def test_no_factor_where_the_probes_cannot_be_compared(profile, env, why):
    factor, note = speed_factor(profile, env)
    assert factor is None and why in note


def test_nothing_timed_has_no_factor_and_nothing_to_say():
    assert speed_factor(PROFILE, None) == (None, None)
