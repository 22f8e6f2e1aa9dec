"""The speed probe: the calibration's own dense convolutions, run in turn, timed while a CPU's
device profile is calibrated and again beside every timing on that CPU that a calibrated profile
will predict (see incomparable), so that a prediction can follow the machine's speed now. No
torch at import.

A shared machine's speed drifts. On this project's 2-core machine googlenet at one thread took 109
ms and, about a minute later, 78 ms, while its time over one round of this probe timed beside it
stayed between 0.64 and 0.72. A small kernel timed alone does not see that drift: its data stay in
the nearest cache. The probe runs every shape of calibrate's generic grid
(incprof.nn.grid.PROBE_SHAPES: the dense classes, 1x1, nxn, 1xn and stem convs, not depthwise or
grouped ones, whose times vary most from one process to the next, nor the smallest maps, which
later calibrations measure) once, one after another, as the
calibration's cold rounds do: each reads weights that the others pushed out of the caches, as a
network's layers do.
"""

from __future__ import annotations

import statistics
from typing import Callable

from ..seeded import seeded
from .grid import CALIBRATION_BATCH, PROBE_SHAPES
from .timing import timer

# rounds of the probe in a sample, taken at each point of a run where it is sampled: between the
# sections of a calibration, in each round of a timing (incprof.nn.latency.time_in_rounds)
PROBE_CALLS = 2


def make_probe(device, dtype) -> Callable[[], list[float]]:
    """A sample of the probe: a step that runs PROBE_CALLS rounds of it on ``device`` in ``dtype``
    (a torch dtype) at the calibration's batch (CALIBRATION_BATCH) and returns each round's
    milliseconds: the process CPU time on the CPU (which a busy machine stretches less than the
    wall clock), CUDA event time on CUDA. One round (a warm-up) runs before it is returned."""
    import torch

    batch, layers = CALIBRATION_BATCH[device.type], []
    with seeded():  # the timing it runs beside leaves the caller's generator as it was
        for cin, cout, kernel, stride, groups, side in PROBE_SHAPES:
            conv = torch.nn.Conv2d(cin, cout, kernel, stride, (kernel[0] // 2, kernel[1] // 2),
                                   groups=groups).to(device, dtype).eval()
            x = torch.randn(batch, cin, side, side).to(device, dtype)
            layers.append((conv, x))

    def run() -> None:
        with torch.inference_mode():
            for conv, x in layers:
                conv(x)

    cpu_ms: list[float] = []
    step = timer(run, device, cpu_ms)

    def once() -> float:
        wall_ms = step()
        return cpu_ms[-1] if cpu_ms else wall_ms

    once()
    return lambda: [once() for _ in range(PROBE_CALLS)]


def probe_ms(samples: list[float]) -> float | None:
    """The probe's time over a run: the median of its samples (None without any)."""
    return statistics.median(samples) if samples else None


def incomparable(profile: dict | None, env: dict) -> str | None:
    """Why a run timed on ``env`` (see incprof.nn.latency.environment) cannot be set against
    ``profile``'s calibration through the probe, or None where it can: no profile, or one without
    a probe time (a datasheet's, a CUDA device's, an older one), or one calibrated on another
    device, thread count or dtype."""
    from .profiles import slug

    if not profile or not profile.get("probe_s"):
        return ("the device profile has no speed probe (a datasheet's, a CUDA device's or an "
                "older one)")
    if (profile.get("device_slug"), profile.get("threads"), profile.get("dtype")) != (
            slug(env["device"]), env["threads"], env["dtype"]):
        return "the device profile was calibrated on another device, thread count or dtype"
    return None


def speed_factor(profile: dict, env: dict | None) -> tuple[float | None, str | None]:
    """How much slower (above 1) or faster the machine ran a timed run (``env``, see
    incprof.nn.latency.environment) than when ``profile`` was calibrated: the probe's time in the
    run over its time at calibration, with how it was found; (None, why not) where the two cannot
    be compared (see incomparable) or the run timed no probe; (None, None) where nothing was
    timed."""
    if env is None:  # a prediction alone: nothing to say
        return None, None
    why_not = incomparable(profile, env)
    if why_not:
        return None, why_not
    if env.get("probe_ms") is None:
        return None, "the run timed no speed probe"
    factor = env["probe_ms"] / (profile["probe_s"] * 1000)
    return factor, (f"the speed probe took {env['probe_ms']:.2f} ms in this run against "
                    f"{profile['probe_s'] * 1000:.2f} ms at calibration")
