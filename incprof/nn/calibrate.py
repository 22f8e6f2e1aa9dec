"""``incprof calibrate``: microbenchmarks that measure a device profile (incprof.nn.profiles) on
this machine, in about 30 seconds.

Each op class the latency model rates is timed on shapes taken from the Inception family, small to
large, and each shape's work (MACs or window ops) kept beside its rate, since small kernels run
further from the peak: 1x1, nxn, 1xn and depthwise convolutions, the stem's conv on the image and a
linear layer (a GEMM) in MAC/s, max and average pooling in window ops/s; on CUDA with fp32 both
with TF32 off (``fp32``) and on (``tf32``). Copy bandwidth (read and write) is measured for a range
of sizes, from ones that fit a cache to ones that do not, and the overhead is the time of one ReLU
module on a one-value tensor. Convolutions run at batch 1 on the CPU and at batch 32 on CUDA, where
batch 1 cannot fill the device: the rates are what the device achieves, the roofline's ceilings. On
the CPU each figure is the median process CPU time of a call, which a busy machine does not stretch
as it stretches the wall-clock time. The kernels of a kind are timed in turn, round after round, so
that each runs after other data and weights have passed through the caches, as in a network, rather
than on data it has just cached itself.
"""

from __future__ import annotations

import json
import statistics
import time
from functools import partial
from typing import Callable

from .latency import _num_threads, resolve_device
from .timing import TimingOptions, adaptive_time, timer
from .machine import cpu_name, load_average

# (in channels, out channels, kernel, stride, groups, input side) per conv class, "same" padding:
# rows of GoogLeNet, Inception-v3 and Xception, small to large.
CONV_SHAPES = {
    "conv 1x1": [(832, 32, (1, 1), 1, 1, 7), (480, 96, (1, 1), 1, 1, 14),
                 (192, 64, (1, 1), 1, 1, 28), (64, 64, (1, 1), 1, 1, 56),
                 (768, 192, (1, 1), 1, 1, 17), (256, 64, (1, 1), 1, 1, 56),
                 (1024, 256, (1, 1), 1, 1, 14)],
    "conv nxn": [(160, 320, (3, 3), 1, 1, 7), (112, 224, (3, 3), 1, 1, 14),
                 (96, 128, (3, 3), 1, 1, 28), (128, 192, (3, 3), 1, 1, 28),
                 (64, 192, (3, 3), 1, 1, 56), (448, 384, (3, 3), 1, 1, 8),
                 (64, 96, (3, 3), 1, 1, 35)],
    "conv 1xn": [(384, 384, (1, 3), 1, 1, 8), (192, 192, (1, 7), 1, 1, 8),
                 (128, 128, (1, 7), 1, 1, 17), (160, 192, (7, 1), 1, 1, 17)],
    "conv depthwise": [(728, 728, (3, 3), 1, 728, 19), (128, 128, (3, 3), 1, 128, 56)],
    # the first conv on the image: few input channels, which the libraries run apart
    "conv stem": [(3, 32, (3, 3), 2, 1, 299), (3, 64, (7, 7), 2, 1, 224)],
}
# (rows, in features, out features): one image (a matrix-vector product) and a batch of 64
LINEAR_SHAPES = [(1, 1024, 1000), (1, 2048, 1000), (64, 1024, 1000), (64, 2048, 1000)]
# (kind, channels, input side, kernel, stride) per pool class: 3x3 max pools as the stems and
# Inception branches have, 3x3 average pools (Inception-v3's branches) and a 7x7 final average.
POOL_SHAPES = {
    "pool max": [("max", 832, 14, 3, 2), ("max", 192, 56, 3, 2), ("max", 480, 28, 3, 1),
                 ("max", 64, 112, 3, 2), ("max", 192, 28, 3, 1)],
    "pool avg": [("avg", 1024, 7, 7, 1), ("avg", 768, 17, 3, 1), ("avg", 288, 35, 3, 1)],
    "pool global": [("global", 2048, 8, 0, 1), ("global", 1024, 7, 0, 1),
                    ("global", 2048, 7, 0, 1)],
}
# (channels, side): one pass of BatchNorm (eval) and of an in-place ReLU, small maps to large
ELEMENTWISE_SHAPES = [(2048, 8), (768, 17), (192, 28), (64, 112), (256, 56)]
COPY_BYTES = [2**16, 2**18, 2**20, 2**21, 2**22, 2**23, 2**24, 2**26]


def _time_s(fn: Callable[[], object], device, budget_s: float) -> float:
    """The median seconds of one call of ``fn``, timed adaptively within ``budget_s``: CUDA
    event time on CUDA, process CPU time on the CPU."""
    options = TimingOptions(min_repeats=5, max_repeats=2000)
    cpu_ms: list[float] = []
    stats = adaptive_time(timer(fn, device, cpu_ms), budget_s, options)
    timed = cpu_ms[-stats.repeats:]
    return (statistics.median(timed) if timed else stats.median_ms) / 1000


def _time_round(fns: list[Callable[[], object]], device, budget_s: float) -> list[float]:
    """The median seconds of one call of each of ``fns``, timed in turn, round after round (at
    least 5, then until ``budget_s`` is spent), so that each runs after another's data and
    weights, as the kernels of a network do, not on a cache it has just filled itself."""
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
    return [statistics.median(c if c else w) / 1000 for c, w in zip(cpu, wall)]


def _rated(found: list[tuple[str, int, int, Callable[[], object]]], device, budget_s: float,
           cold: bool) -> dict[str, list[list[float]]]:
    """Each (op, work, output positions, call) timed, alone and repeated (hot caches) or in turn
    with the others (``cold``); per op its sorted [work, positions, work per second] points."""
    seconds = (_time_round([fn for *_, fn in found], device, budget_s) if cold else
               [_time_s(fn, device, budget_s / len(found)) for *_, fn in found])
    rates: dict[str, list[list[float]]] = {}
    for (op, work, pixels, _), took in zip(found, seconds):
        rates.setdefault(op, []).append([work, pixels, work / took])
    return {op: sorted(points) for op, points in rates.items()}


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
    batch = 32 if cuda else 1
    load_before = load_average()

    def tensor(*shape):
        return torch.randn(*shape, device=device, dtype=torch_dtype)

    with _num_threads(threads), torch.inference_mode():
        convs, linears, others = [], [], []
        for op, shapes in CONV_SHAPES.items():
            for cin, cout, kernel, stride, groups, side in shapes:
                conv = torch.nn.Conv2d(cin, cout, kernel, stride, (kernel[0] // 2, kernel[1] // 2),
                                       groups=groups, bias=False).to(device, torch_dtype)
                x = tensor(batch, cin, side, side)
                pixels = conv(x).numel() // cout  # output positions, the batch's
                convs.append((op, conv.weight.numel() * pixels, pixels, partial(conv, x)))
        for rows, features, out in LINEAR_SHAPES:
            linear = torch.nn.Linear(features, out, bias=False).to(device, torch_dtype)
            linears.append(("linear", rows * features * out, rows,
                            partial(linear, tensor(rows, features))))
        for op, shapes in POOL_SHAPES.items():
            for kind, channels, side, kernel, stride in shapes:
                # stride 1 keeps the size (padding), stride 2 rounds up (as the papers' pools)
                padding = kernel // 2 if stride == 1 and kernel < side else 0
                pool = (torch.nn.AdaptiveAvgPool2d(1) if kind == "global" else
                        (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(
                            kernel, stride, padding, ceil_mode=stride > 1))
                x = tensor(batch, channels, side, side)
                work, pixels = kernel * kernel * pool(x).numel(), pool(x).numel() // channels
                if kind == "global":  # one op per input value over the input's positions
                    work, pixels = x.numel(), x.numel() // channels
                others.append((op, work, pixels, partial(pool, x)))
        for channels, side in ELEMENTWISE_SHAPES:
            x = tensor(batch, channels, side, side)
            norm = torch.nn.BatchNorm2d(channels).to(device, torch_dtype).eval()
            others += [("batchnorm", x.numel(), batch * side * side, partial(norm, x)),
                       ("relu", x.numel(), batch * side * side, partial(torch.relu_, x))]
        count = 2 * ((len(convs) + len(linears)) * len(maths) + len(others)) + len(COPY_BYTES) + 2
        each = budget_s / count
        rates: dict[str, dict[str, list]] = {}
        cold: dict[str, dict[str, list]] = {}
        tf32_before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.benchmark = True
        try:
            for tf32 in maths:
                math = "tf32" if tf32 else dtype
                if progress:
                    progress(f"calibrating convolutions and GEMMs ({math})")
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
                for table, is_cold in ((rates, False), (cold, True)):
                    table[math] = {**_rated(convs, device, each * len(convs), is_cold),
                                   **_rated(linears, device, each * len(linears), is_cold)}
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32_before
        if progress:
            progress("calibrating pooling, BatchNorm and ReLU")
        for table, is_cold in ((rates, False), (cold, True)):
            shared = _rated(others, device, each * len(others), is_cold)
            for math in table:
                table[math].update(shared)
        bandwidth = []
        for size in COPY_BYTES:
            if progress:
                progress(f"calibrating copy bandwidth ({size:,} bytes)")
            src = tensor(size // torch_dtype.itemsize)
            dst = torch.empty_like(src)
            bandwidth.append([size * 2, 2 * size / _time_s(lambda: dst.copy_(src), device, each)])
        if progress:
            progress("calibrating the overhead of an empty op")
        relu, one = torch.nn.ReLU(), tensor(1)
        overhead = _time_s(lambda: relu(one), device, each)
        empty = torch.nn.Sequential()  # a module call that runs no kernel
        call = _time_s(lambda: empty(one), device, each)
        used = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if cuda else cpu_name()
    return {
        "name": f"{name}, {used} thread{'s' * (used > 1)}, {dtype}" if not cuda else
        f"{name}, {dtype}", "device_type": device.type, "calibrated": True,
        "source": f"incprof calibrate --device {device_name} --dtype {dtype}"
                  + (f" --threads {threads}" if threads else "") + f" on {time.strftime('%Y-%m-%d')}",
        "rates": rates, "cold_rates": cold, "bandwidth": bandwidth,
        "cache": {"bytes": _cache_bytes(bandwidth), **CACHE_SHARES},
        "overhead_s": overhead, "call_s": call,
        "threads": used, "torch": torch.__version__, "dtype": dtype, "calibration_batch": batch,
        "load_avg": [load_before, load_average()], "device_slug": slug(name),
    }


# Where a row's bytes moved fall against the cache (the largest copy that runs at half the best
# bandwidth or more): hot rates below the first share of it, cold above the second, blended
# between. Fitted to GoogLeNet's, Inception-v3's and ResNet-50's rows on a 2-core EPYC at one
# thread (docs/latency.md); written into each profile, where it can be changed.
CACHE_SHARES = {"hot_below": 0.5, "cold_above": 1.0}


def _cache_bytes(bandwidth: list[list[float]]) -> int:
    """The largest bytes moved by a copy that ran at half the best bandwidth or more."""
    best = max(rate for _, rate in bandwidth)
    return max(size for size, rate in bandwidth if rate >= best / 2)


def write_profile(profile: dict) -> str:
    """Write a calibrated profile into the cache folder (incprof.nn.profiles.profile_file)."""
    from ..files import write_atomic
    from .profiles import profile_file

    path = profile_file(profile["device_slug"], profile["threads"], profile["dtype"],
                        profile["torch"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(profile, indent=1) + "\n")
    return str(path)
