"""Latency per row and for the whole network, on CUDA or CPU, with statistics that can be argued with.

Method: the model and inputs live on the device throughout; everything runs under
``torch.inference_mode()`` with cuDNN autotuning on. CUDA iterations are timed with CUDA events
(synchronized), CPU iterations with ``time.perf_counter``. After warm-up, timed repeats continue until
the median is stable (it moves less than ``rel_tol`` when the latest half of the samples is added)
or the time budget is spent; fixed counts can be set instead. Each row is timed alone on the real
input it receives in the network (captured from one forward pass), and the whole network end to
end, in eval mode (no aux heads).
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from .errors import UsageError

DTYPES = ("fp32", "fp16", "bf16")
# Dense peak throughput and memory bandwidth of known GPUs, from NVIDIA's product datasheets
# (H100 SXM5 and H200 SXM: "NVIDIA H100 Tensor Core GPU" / "NVIDIA H200" datasheets; A100 SXM4 80GB:
# "NVIDIA A100 Tensor Core GPU" datasheet). TFLOPS are FLOPs (2 per MAC), without sparsity.
GPU_PEAKS = {
    "H200": {"fp32": 67.0, "fp16": 989.0, "bf16": 989.0, "tb_per_s": 4.8,
             "source": "NVIDIA H200 datasheet (SXM)"},
    "H100": {"fp32": 67.0, "fp16": 989.0, "bf16": 989.0, "tb_per_s": 3.35,
             "source": "NVIDIA H100 datasheet (SXM5)"},
    "A100": {"fp32": 19.5, "fp16": 312.0, "bf16": 312.0, "tb_per_s": 2.039,
             "source": "NVIDIA A100 datasheet (SXM4 80GB)"},
}


@dataclass(frozen=True)
class TimingOptions:
    """How to time: device, dtype, memory format, compile, and the adaptive stopping rule."""

    device: str = "auto"
    dtype: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    warmup: int | None = None      # None: adaptive (at least 2, about a tenth of the budget)
    repeats: int | None = None     # None: adaptive (stable median or budget spent)
    row_budget_s: float = 0.4
    network_budget_s: float = 3.0
    rel_tol: float = 0.02
    min_repeats: int = 20
    max_repeats: int = 1000


@dataclass(frozen=True)
class Stats:
    """Summary of timed repeats, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    q25_ms: float
    q75_ms: float
    repeats: int
    warmup: int

    @property
    def iqr_ms(self) -> float:
        """Interquartile range."""
        return self.q75_ms - self.q25_ms


def summarize(samples_ms: list[float], warmup: int = 0) -> Stats:
    """Median, p10/p90 and quartiles of timed samples (inclusive quantiles)."""
    if not samples_ms:
        raise ValueError("no samples to summarize")
    if len(samples_ms) == 1:
        (only,) = samples_ms
        return Stats(only, only, only, only, only, 1, warmup)
    deciles = statistics.quantiles(samples_ms, n=10, method="inclusive")
    quartiles = statistics.quantiles(samples_ms, n=4, method="inclusive")
    return Stats(statistics.median(samples_ms), deciles[0], deciles[-1], quartiles[0],
                 quartiles[-1], len(samples_ms), warmup)


def adaptive_time(step: Callable[[], float], budget_s: float, options: TimingOptions,
                  clock: Callable[[], float] = time.perf_counter) -> Stats:
    """Run ``step`` (which returns one iteration's milliseconds) through warm-up and timed repeats.

    ``clock`` (seconds) only meters the budget, so tests can drive this with a fake timer.
    """
    start = clock()
    warmup = 0
    while True:
        step()
        warmup += 1
        if options.warmup is not None:
            if warmup >= options.warmup:
                break
        elif warmup >= 2 and (clock() - start >= 0.1 * budget_s or warmup >= 50):
            break
    samples: list[float] = []
    start = clock()
    while True:
        samples.append(step())
        n = len(samples)
        if options.repeats is not None:
            if n >= options.repeats:
                break
            continue
        if n >= options.max_repeats or (n >= 3 and clock() - start >= budget_s):
            break
        if n >= options.min_repeats:
            before = statistics.median(samples[: n - n // 2])
            now = statistics.median(samples)
            if now > 0 and abs(now - before) / now < options.rel_tol:
                break
    return summarize(samples, warmup)


def resolve_device(name: str):
    """A torch.device for 'auto', 'cpu', 'cuda' or 'cuda:N' (auto prefers CUDA)."""
    import torch

    match = re.fullmatch(r"cuda(?::([0-9]+))?", name)
    if name not in ("auto", "cpu") and not match:
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N (N a device number from 0), "
                         f"got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(f"--device {name}: CUDA is not available here (torch "
                         f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
                         "use --device cpu or --device auto")
    index = int(match[1] or 0)
    if index >= torch.cuda.device_count():
        raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s), "
                         f"numbered from 0")
    return torch.device("cuda", index)


# How torch reports a kernel that has no implementation for a dtype, e.g.
# '"avg_pool3d_out_frame" not implemented for 'Half'' (NotImplementedError; RuntimeError before 2.x).
UNSUPPORTED_DTYPE = re.compile(r"not implemented for '\w+'")


def _compile_failure(exc: Exception) -> UsageError | None:
    """A one-line UsageError for a failed torch.compile (no C compiler, a compile error), or None."""
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import CppCompileError, InvalidCxxCompiler

    if isinstance(exc, BackendCompilerFailed):
        exc = exc.inner_exception
    elif not isinstance(exc, (CppCompileError, InvalidCxxCompiler)):
        return None
    first = (str(exc).strip().splitlines() or [""])[0]
    return UsageError(f"--compile failed ({type(exc).__name__}: {first}); drop --compile to "
                      "time the network uncompiled")


def environment(device, options: TimingOptions, batch_size: int) -> dict:
    """Everything a latency figure depends on."""
    import torch

    cuda = device.type == "cuda"
    return {
        "device": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "device_type": device.type, "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "dtype": options.dtype, "dtype_method": "model and inputs cast to the dtype",
        "batch_size": batch_size,
        "memory_format": "channels_last" if options.channels_last else "contiguous (NCHW)",
        "threads": torch.get_num_threads(), "compile": options.compile,
        "cudnn_benchmark": cuda,
        "peak": gpu_peak(torch.cuda.get_device_name(device), options.dtype) if cuda else None,
    }


def cpu_name() -> str:
    """The CPU model as the OS reports it."""
    import platform

    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def gpu_peak(device_name: str, dtype: str) -> dict | None:
    """Known dense peak for a GPU name: MAC/s, bytes/s and the source, or None."""
    for key, peak in GPU_PEAKS.items():
        if key in device_name:
            return {"macs_per_s": peak[dtype] * 1e12 / 2, "bytes_per_s": peak["tb_per_s"] * 1e12,
                    "source": peak["source"], "tflops": peak[dtype]}
    return None


@dataclass
class Timings:
    """Per-row stats (or an error message), the whole network, and the environment."""

    rows: dict[str, Stats | str] = field(default_factory=dict)
    network: Stats | str | None = None
    compile_s: float | None = None
    env: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready."""
        def plain(v):
            return asdict(v) if isinstance(v, Stats) else v

        return {"rows": {k: plain(v) for k, v in self.rows.items()},
                "network": plain(self.network), "compile_s": self.compile_s, "env": self.env}


def check_timing_memory(spec, input_hw, batch_size: int, options: TimingOptions,
                        max_memory: int | None = None):
    """Check the dtype, resolve the device and, on CPU, refuse (ResourceError) before anything is
    built if timing at ``batch_size`` in the options' dtype would exceed ``max_memory`` bytes
    (default: half the available memory). Returns the torch.device. On CUDA, running out of
    device memory is caught where it happens."""
    from .limits import check_memory

    if options.dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}")
    device = resolve_device(options.device)
    if device.type == "cpu":
        check_memory(spec, input_hw, batch_size, max_memory, options.dtype)
    return device


def time_spec(spec, input_hw=None, batch_size: int = 1, options: TimingOptions = TimingOptions(),
              progress: Callable[[str], None] | None = None, max_memory: int | None = None,
              rows: bool = True) -> Timings:
    """Time every row of ``spec`` alone (unless ``rows=False``) and the whole network."""
    import torch

    from .build import build
    from .spec import place

    device = check_timing_memory(spec, input_hw, batch_size, options, max_memory)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[options.dtype]
    fmt = torch.channels_last if options.channels_last else torch.contiguous_format
    torch.backends.cudnn.benchmark = True
    timings = Timings(env=environment(device, options, batch_size))
    main = [p for p in place(spec, input_hw) if not p.is_aux]
    try:
        model = build(spec, input_hw).eval().to(device=device, dtype=dtype, memory_format=fmt)
        x = torch.randn(batch_size, *main[0].in_shape, device=device, dtype=dtype)
        x = x.contiguous(memory_format=fmt)
    except torch.cuda.OutOfMemoryError:
        raise UsageError(f"CUDA out of memory building the network at batch {batch_size}; "
                         "lower --batch-size") from None

    def step_for(fn):
        if device.type == "cuda":
            def step() -> float:
                begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(
                    enable_timing=True)
                begin.record()
                fn()
                end.record()
                end.synchronize()
                return begin.elapsed_time(end)
        else:
            def step() -> float:
                begin = time.perf_counter()
                fn()
                return (time.perf_counter() - begin) * 1000
        return step

    with torch.inference_mode():
        inputs = {}
        y = x
        try:
            for p in main:  # one pass to capture each row's real input
                inputs[p.name] = y
                y = model.row(p.name)(y)
        except torch.cuda.OutOfMemoryError:
            raise UsageError(f"CUDA out of memory in one forward pass at batch {batch_size}; "
                             "lower --batch-size") from None
        except (RuntimeError, NotImplementedError) as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            if not UNSUPPORTED_DTYPE.search(first):
                raise
            raise UsageError(f"--dtype {options.dtype} does not run on {device.type} for this "
                             f"network: {first}") from None
        for p in main if rows else []:
            module, row_input = model.row(p.name), inputs[p.name]
            if progress:
                progress(f"timing row {p.name}")
            try:
                timings.rows[p.name] = adaptive_time(step_for(lambda: module(row_input)),
                                                     options.row_budget_s, options)
            except torch.cuda.OutOfMemoryError:
                timings.rows[p.name] = f"CUDA out of memory at batch {batch_size}"
                torch.cuda.empty_cache()
        whole = model
        if options.compile:
            if progress:
                progress("compiling the network")
            begin = time.perf_counter()
            try:
                whole = torch.compile(model)
                whole(x)
            except Exception as exc:
                failure = _compile_failure(exc)
                if failure is None:
                    raise
                raise failure from None
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            timings.compile_s = time.perf_counter() - begin
        if progress:
            progress("timing the whole network")
        try:
            timings.network = adaptive_time(step_for(lambda: whole(x)), options.network_budget_s,
                                            options)
        except torch.cuda.OutOfMemoryError:
            timings.network = f"CUDA out of memory at batch {batch_size}"
    return timings
