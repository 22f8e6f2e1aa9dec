"""``incprof calibrate``: microbenchmarks that measure a device profile (incprof.nn.profiles) on
this machine, in about 30 seconds.

Each op class the latency model rates is timed on a generic grid of shapes (incprof.nn.grid: not
any network's rows), small maps with many channels to large maps with few, and each shape's work
(MACs or window ops) and output positions kept beside its rate, since small kernels run further
from the peak: 1x1, nxn, 1xn, depthwise and grouped convolutions, the stem's conv on the image and
a linear layer (a GEMM, a matrix-vector product at batch 1) in MAC/s; max, average, global and
adaptive average pooling, BatchNorm, ReLU and local response norm passes in window ops/s (an
adaptive pool's per output value); on CUDA with fp32 both with TF32 off (``fp32``) and on
(``tf32``). Every module runs as a network runs it (convs and linear layers with a bias, ReLU in
place). The overhead of an empty op (one ReLU module on a one-value tensor) and of an empty module
call are measured first, and each rate is taken from a call's time less that overhead, which the
model adds back to every kernel; both are measured again last, and the lower figure kept. Copy
bandwidth (read and write) is measured for a range of sizes, from ones that fit a cache to ones
that do not; its knees tell the model where caches end
(incprof.nn.predict.cache_knees). Convolutions run at batch 1 on the CPU and at batch 32 on CUDA,
where batch 1 cannot fill the device. On the CPU each figure is the median process CPU time of a
call, which a busy machine stretches less than the wall clock. Each kernel is timed twice: alone
and repeated (hot caches; in two passes, the faster median kept, see _timed), and in turn with the
others of its kind, round after round (cold: each runs after the others' data and weights have
passed through the caches). On the CPU the speed probe
(incprof.nn.probe) runs between the sections; its median time is kept, so that a later run can tell
how much faster or slower the machine runs then.
"""

from __future__ import annotations

import json
import statistics
import time
from functools import partial
from typing import Callable

from .grid import (CALIBRATION_BATCH, CONV_SHAPES, COPY_BYTES, ELEMENTWISE_SHAPES, LINEAR_SHAPES,
                   LRN_SIZE, POOL_SHAPES)
from .latency import _num_threads, resolve_device
from .machine import cpu_name, keep_freed_memory, load_average
from .predict import cache_knees
from .probe import make_probe, probe_ms
from .timing import TimingOptions, adaptive_time, block_for, timer


def _time_s(fn: Callable[[], object], device, budget_s: float) -> float:
    """The median seconds of one call of ``fn``, timed adaptively within ``budget_s``: CUDA
    event time on CUDA, process CPU time on the CPU, where a call shorter than BLOCK_S is timed
    in blocks of calls, as a network's rows are (incprof.nn.latency.time_in_rounds)."""
    options = TimingOptions(min_repeats=5, max_repeats=2000)
    cpu_ms: list[float] = []
    stats = adaptive_time(timer(fn, device, cpu_ms), budget_s, options, cpu_ms=cpu_ms,
                          block_s=block_for(device))
    return (stats.cpu_ms or stats.median_ms) / 1000


def _time_round(fns: list[Callable[[], object]], device, budget_s: float) -> list[float]:
    """The median seconds of one call of each of ``fns``, timed in turn, round after round (at
    least 5, then until ``budget_s`` is spent), so that each runs after another's data and
    weights, as the kernels of a network do, not on a cache it has just filled itself. Each call
    is timed alone (a block would warm its caches), so the clock's own cost, timed the same way
    in every round, is taken off each median (the overhead that _rates takes off later is timed
    in blocks, without it)."""
    fns = [*fns, lambda: None]  # last: the clock alone
    wall: list[list[float]] = [[] for _ in fns]
    cpu: list[list[float]] = [[] for _ in fns]
    steps = [timer(fn, device, cpu[i]) for i, fn in enumerate(fns)]
    for step in steps:  # warm-up: libraries pick their kernels on a first call
        step()
    for samples in cpu:
        samples.clear()
    start, rounds = time.perf_counter(), 0
    while rounds < 5 or (time.perf_counter() - start < budget_s and rounds < 500):
        for i, step in enumerate(steps):
            wall[i].append(step())
        rounds += 1
    *medians, clock = [statistics.median(c if c else w) / 1000 for c, w in zip(cpu, wall)]
    return [max(median - clock, median / 10) for median in medians]


def _timed(found: list[tuple[str, int, int, Callable[[], object]]], device, budget_s: float,
           cold: bool) -> dict[str, list[list[float]]]:
    """Each (op, work, output positions, call) timed, alone and repeated (hot caches) or in turn
    with the others (``cold``); per op its [work, positions, seconds per call] points.

    Alone, each is timed in two passes over them all, half the budget each, and the faster of its
    two medians kept: a few hundred milliseconds of a neighbour's load on a shared machine fall
    on a shape or two of one pass (on this project's machine one calibration's hot depthwise
    rates came out at 0.53-0.61x another's for six of eight shapes, its cold rates within 5%)."""
    if cold:
        seconds = _time_round([fn for *_, fn in found], device, budget_s)
    else:
        passes = [[_time_s(fn, device, budget_s / 2 / len(found)) for *_, fn in found]
                  for _ in range(2)]
        seconds = [min(first, second) for first, second in zip(*passes)]
    timed: dict[str, list[list[float]]] = {}
    for (op, work, pixels, _), took in zip(found, seconds):
        timed.setdefault(op, []).append([work, pixels, took])
    return timed


def _rates(timed: dict[str, list[list[float]]], overhead_s: float) -> dict[str, list[list[float]]]:
    """Per op its sorted [work, positions, work per second] points: each call's seconds less
    ``overhead_s`` (the dispatch that the model adds to every kernel, so that a kernel of a
    measured shape is predicted at its measured time), never below a tenth of them."""
    return {op: sorted([work, pixels, work / max(took - overhead_s, took / 10)]
                       for work, pixels, took in points) for op, points in timed.items()}


def calibrate(device_name: str = "cpu", dtype: str = "fp32", threads: int | None = None,
              budget_s: float = 30.0, progress: Callable[[str], None] | None = None) -> dict:
    """A device profile measured on this machine (see the module docstring), within about
    ``budget_s`` seconds; it is not written anywhere (see write_profile)."""
    import torch

    from .profiles import slug

    device = resolve_device(device_name)
    cuda = device.type == "cuda"
    torch_dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    maths = ([False, True] if cuda and dtype == "fp32" else [False])
    batch = CALIBRATION_BATCH[device.type]
    allocator = keep_freed_memory()  # as every timing it will predict runs
    load_before = load_average()

    def tensor(*shape):
        return torch.randn(*shape, device=device, dtype=torch_dtype)

    with _num_threads(threads), torch.inference_mode():
        convs, linears, others = [], [], []
        for op, shapes in CONV_SHAPES.items():
            for cin, cout, kernel, stride, groups, side in shapes:
                conv = torch.nn.Conv2d(cin, cout, kernel, stride, (kernel[0] // 2, kernel[1] // 2),
                                       groups=groups).to(device, torch_dtype)
                x = tensor(batch, cin, side, side)
                pixels = conv(x).numel() // cout  # output positions, the batch's
                convs.append((op, conv.weight.numel() * pixels, pixels, partial(conv, x)))
        for rows, features, out in LINEAR_SHAPES:
            linear = torch.nn.Linear(features, out).to(device, torch_dtype)
            linears.append(("linear", rows * features * out, rows,
                            partial(linear, tensor(rows, features))))
        for op, shapes in POOL_SHAPES.items():
            for kind, channels, side, kernel, stride in shapes:
                # stride 1 keeps the size (padding), stride 2 rounds up (as the papers' pools)
                padding = kernel // 2 if stride == 1 and kernel < side else 0
                pool = (torch.nn.AdaptiveAvgPool2d(1) if kind == "global" else
                        torch.nn.AdaptiveAvgPool2d(kernel) if kind == "adaptive" else
                        (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(
                            kernel, stride, padding, ceil_mode=stride > 1))
                x = tensor(batch, channels, side, side)
                work, pixels = kernel * kernel * pool(x).numel(), pool(x).numel() // channels
                if kind == "global":  # one op per input value over the input's positions
                    work, pixels = x.numel(), x.numel() // channels
                elif kind == "adaptive":  # one op per output value
                    work = pool(x).numel()
                others.append((op, work, pixels, partial(pool, x)))
        for channels, side in ELEMENTWISE_SHAPES:
            x = tensor(batch, channels, side, side)
            norm = torch.nn.BatchNorm2d(channels).to(device, torch_dtype).eval()
            lrn = torch.nn.LocalResponseNorm(LRN_SIZE)
            others += [("batchnorm", x.numel(), batch * side * side, partial(norm, x)),
                       ("relu", x.numel(), batch * side * side,
                        partial(torch.nn.ReLU(inplace=True), x)),
                       ("lrn", LRN_SIZE * x.numel(), batch * side * side, partial(lrn, x))]
        # the CPU's speed drifts with what else runs on the machine: its probe, between the
        # sections, so that its median spans them all
        probe, probe_samples = (None if cuda else make_probe(device, torch_dtype)), []

        def sample_probe() -> None:
            if probe is not None:
                probe_samples.extend(probe())

        count = 2 * ((len(convs) + len(linears)) * len(maths) + len(others)) + len(COPY_BYTES) + 2
        each = budget_s / count
        if progress:
            progress("calibrating the overhead of an empty op")
        # every rate is taken less this dispatch (see _rates)
        relu, one = torch.nn.ReLU(), tensor(1)
        empty = torch.nn.Sequential()  # a module call that runs no kernel
        sample_probe()
        overhead = _time_s(lambda: relu(one), device, each / 2)
        call = _time_s(lambda: empty(one), device, each / 2)
        # per math, per op: [work, positions, seconds per call], hot and cold (rates at the end)
        hot_s: dict[str, dict[str, list]] = {}
        cold_s: dict[str, dict[str, list]] = {}
        tf32_before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.benchmark = True
        try:
            for tf32 in maths:
                math = "tf32" if tf32 else dtype
                if progress:
                    progress(f"calibrating convolutions and GEMMs ({math})")
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
                for table, is_cold in ((hot_s, False), (cold_s, True)):
                    sample_probe()
                    table[math] = {**_timed(convs, device, each * len(convs), is_cold),
                                   **_timed(linears, device, each * len(linears), is_cold)}
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32_before
        if progress:
            progress("calibrating pooling, BatchNorm, ReLU and LRN")
        for table, is_cold in ((hot_s, False), (cold_s, True)):
            sample_probe()
            shared = _timed(others, device, each * len(others), is_cold)
            for math in table:
                table[math].update(shared)
        bandwidth = []
        for size in COPY_BYTES:
            if progress:
                progress(f"calibrating copy bandwidth ({size:,} bytes)")
            src = tensor(size // torch_dtype.itemsize)
            dst = torch.empty_like(src)
            bandwidth.append([size * 2, 2 * size / _time_s(lambda: dst.copy_(src), device, each)])
        # both overheads again, the lower kept: one calibration, the first job after minutes
        # without any, took its first overheads at twice every other calibration's
        overhead = min(overhead, _time_s(lambda: relu(one), device, each / 2))
        call = min(call, _time_s(lambda: empty(one), device, each / 2))
        rates = {math: _rates(timed, overhead) for math, timed in hot_s.items()}
        cold = {math: _rates(timed, overhead) for math, timed in cold_s.items()}
        sample_probe()
        used = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if cuda else cpu_name()
    return {
        "name": f"{name}, {used} thread{'s' * (used > 1)}, {dtype}" if not cuda else
        f"{name}, {dtype}", "device_type": device.type, "calibrated": True,
        "source": f"incprof calibrate --device {device_name} --dtype {dtype}"
                  + (f" --threads {threads}" if threads else "") + f" on {time.strftime('%Y-%m-%d')}",
        "rates": rates, "cold_rates": cold, "bandwidth": bandwidth,
        "cache_knees": list(cache_knees(sorted(bandwidth))),
        "overhead_s": overhead, "call_s": call, "probe_s": probe and probe_ms(probe_samples) / 1000,
        "threads": used, "torch": torch.__version__, "dtype": dtype, "calibration_batch": batch,
        "load_avg": [load_before, load_average()], "allocator": allocator,
        "device_slug": slug(name),
    }


def write_profile(profile: dict) -> str:
    """Write a calibrated profile into the cache folder (incprof.nn.profiles.profile_file)."""
    from ..files import write_atomic
    from .profiles import profile_file

    path = profile_file(profile["device_slug"], profile["threads"], profile["dtype"],
                        profile["torch"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(profile, indent=1) + "\n")
    return str(path)
