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
as it stretches the wall-clock time.
"""

from __future__ import annotations

import json
import statistics
import time
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
    count = (sum(map(len, CONV_SHAPES.values())) + len(LINEAR_SHAPES)) * len(maths) \
        + sum(map(len, POOL_SHAPES.values())) + 2 * len(ELEMENTWISE_SHAPES) + len(COPY_BYTES) + 2
    each = budget_s / count
    batch = 32 if cuda else 1
    load_before = load_average()
    with _num_threads(threads), torch.inference_mode():
        rates: dict[str, dict[str, float]] = {}
        tf32_before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.benchmark = True
        try:
            for tf32 in maths:
                math = "tf32" if tf32 else dtype
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
                rates[math] = {}
                for op, shapes in CONV_SHAPES.items():
                    found = []
                    for cin, cout, kernel, stride, groups, side in shapes:
                        if progress:
                            progress(f"calibrating {op} ({math})")
                        padding = (kernel[0] // 2, kernel[1] // 2)
                        conv = torch.nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups,
                                               bias=False).to(device, torch_dtype)
                        x = torch.randn(batch, cin, side, side, device=device, dtype=torch_dtype)
                        seconds = _time_s(lambda: conv(x), device, each)
                        pixels = conv(x).numel() // cout  # output positions, the batch's
                        work = conv.weight.numel() * pixels
                        found.append([work, pixels, work / seconds])
                    rates[math][op] = sorted(found)
                found = []
                for rows, features, out in LINEAR_SHAPES:
                    if progress:
                        progress(f"calibrating linear ({math})")
                    linear = torch.nn.Linear(features, out, bias=False).to(device, torch_dtype)
                    x = torch.randn(rows, features, device=device, dtype=torch_dtype)
                    work = rows * features * out
                    found.append([work, rows, work / _time_s(lambda: linear(x), device, each)])
                rates[math]["linear"] = sorted(found)
        finally:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32_before
        for op, shapes in POOL_SHAPES.items():
            found = []
            for kind, channels, side, kernel, stride in shapes:
                if progress:
                    progress(f"calibrating {op}")
                # stride 1 keeps the size (padding), stride 2 rounds up (as the papers' pools)
                padding = kernel // 2 if stride == 1 and kernel < side else 0
                pool = (torch.nn.AdaptiveAvgPool2d(1) if kind == "global" else
                        (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(
                            kernel, stride, padding, ceil_mode=stride > 1))
                x = torch.randn(batch, channels, side, side, device=device, dtype=torch_dtype)
                work, pixels = kernel * kernel * pool(x).numel(), pool(x).numel() // channels
                if kind == "global":  # one op per input value over the input's positions
                    work, pixels = x.numel(), x.numel() // channels
                found.append([work, pixels, work / _time_s(lambda: pool(x), device, each)])
            for math in rates:
                rates[math][op] = sorted(found)
        for op in ("batchnorm", "relu"):
            found = []
            for channels, side in ELEMENTWISE_SHAPES:
                if progress:
                    progress(f"calibrating {op}")
                x = torch.randn(batch, channels, side, side, device=device, dtype=torch_dtype)
                norm = torch.nn.BatchNorm2d(channels).to(device, torch_dtype).eval()
                fn = (lambda: norm(x)) if op == "batchnorm" else (lambda: torch.relu_(x))
                found.append([x.numel(), batch * side * side, x.numel() / _time_s(fn, device, each)])
            for math in rates:
                rates[math][op] = sorted(found)
        bandwidth = []
        for size in COPY_BYTES:
            if progress:
                progress(f"calibrating copy bandwidth ({size:,} bytes)")
            src = torch.randn(size // torch_dtype.itemsize, device=device, dtype=torch_dtype)
            dst = torch.empty_like(src)
            bandwidth.append([size * 2, 2 * size / _time_s(lambda: dst.copy_(src), device, each)])
        if progress:
            progress("calibrating the overhead of an empty op")
        relu, one = torch.nn.ReLU(), torch.zeros(1, device=device, dtype=torch_dtype)
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
        "rates": rates, "bandwidth": bandwidth, "overhead_s": overhead, "call_s": call,
        "threads": used, "torch": torch.__version__, "dtype": dtype, "calibration_batch": batch,
        "load_avg": [load_before, load_average()], "device_slug": slug(name),
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
