"""Latency per row and for the whole network, on CUDA or CPU, with statistics that can be argued with.

Method: the model and inputs live on the device throughout; everything runs under
``torch.inference_mode()`` with cuDNN autotuning on. CUDA iterations are timed with CUDA events
(synchronized), CPU iterations with ``time.perf_counter`` (and their process CPU time beside). After
warm-up, timed repeats continue until the median is stable (it moves less than ``rel_tol`` when the
latest half of the samples is added) or the time budget is spent; fixed counts can be set instead
(incprof.nn.timing). Each row is timed alone on the real input it receives in the network (captured
from one forward pass), and the whole network end to end, in eval mode (no aux heads); both in
interleaved rounds (a part of the network's repeats, then a part of every row's, ``ROUNDS`` times),
so that a change in the machine's speed reaches every figure alike.

Conditions are recorded, not assumed: the thread count, the machine load before and after, on
CUDA whether TF32 is allowed for convolutions and matmuls, and on the CPU, where a prediction is
to follow, the time of the speed probe (incprof.nn.probe), sampled once per round. A figure is
marked unstable (with the reason) when it has fewer than ``min_repeats`` repeats, when its p90/p10
exceeds ``SPREAD_LIMIT``, or when the 1-minute load average exceeded the thread count while it was
measured. On the CPU a row shorter than a millisecond is timed in blocks of calls (see
incprof.nn.timing.BLOCK_S), so that the clock's own cost is not counted in it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..errors import UsageError, described, first_line
from ..seeded import SEED, seeded
from ..units import cpu_threads
from .machine import cpu_name, gpu_peak, keep_freed_memory, load_average
from .probe import make_probe, probe_ms
from .timing import SPREAD_LIMIT, Sliced, Stats, TimingOptions, block_for, instability, timer

DTYPES = ("fp32", "fp16", "bf16")


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
    return UsageError(f"--compile failed ({described(exc)}); drop --compile to "
                      "time the network uncompiled")


def environment(device, options: TimingOptions, batch_size: int) -> dict:
    """Everything a latency figure depends on; first it has glibc keep freed memory
    (machine.keep_freed_memory), so that no figure depends on the allocator's history."""
    import torch

    allocator = keep_freed_memory()
    cuda = device.type == "cuda"
    name = torch.cuda.get_device_name(device) if cuda else cpu_name()
    # TF32 applies to CUDA only; torch allows it for cuDNN convolutions by default, not for matmuls.
    tf32 = ({"conv": bool(torch.backends.cudnn.allow_tf32),
             "matmul": bool(torch.backends.cuda.matmul.allow_tf32)} if cuda else None)
    peaks = {"conv": gpu_peak(name, options.dtype, tf32["conv"]),
             "linear": gpu_peak(name, options.dtype, tf32["matmul"])} if cuda else None
    return {
        "device": name, "device_type": device.type, "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "dtype": options.dtype, "dtype_method": "model and inputs cast to the dtype",
        "batch_size": batch_size,
        "memory_format": "channels_last" if options.channels_last else "contiguous (NCHW)",
        "threads": torch.get_num_threads(), "allocator": allocator, "load_avg": load_average(),
        "load_avg_end": None,
        "busy": None, "compile": options.compile, "cudnn_benchmark": cuda, "tf32": tf32,
        "peak": peaks if peaks and peaks["conv"] else None,
        "min_repeats": options.min_repeats, "spread_limit": SPREAD_LIMIT,
        "measured_peak_method": ("torch.cuda.max_memory_allocated" if cuda else
                                 "torch.profiler allocation events"),
        "probe_ms": None,  # on the CPU, the speed probe's median time (incprof.nn.probe)
    }


@dataclass
class Timings:
    """Per-row stats (or an error message), the whole network, and the environment."""

    rows: dict[str, Stats | str] = field(default_factory=dict)
    network: Stats | str | None = None
    compile_s: float | None = None
    env: dict = field(default_factory=dict)
    measured_peak_bytes: int | None = None  # see peak_memory_bytes

    def as_dict(self) -> dict:
        """JSON-ready."""
        def plain(v):
            return asdict(v) if isinstance(v, Stats) else v

        return {"rows": {k: plain(v) for k, v in self.rows.items()},
                "network": plain(self.network), "compile_s": self.compile_s, "env": self.env,
                "measured_peak_bytes": self.measured_peak_bytes}


def peak_memory_bytes(run: Callable[[], object], device) -> int:
    """The most memory ``run`` holds at once beyond what was allocated before it: on CUDA from
    ``torch.cuda.max_memory_allocated`` after a reset, on the CPU the peak of the running sum of
    the torch profiler's allocation and free events."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile

    os.environ.setdefault("KINETO_LOG_LEVEL", "6")  # else kineto prints start/stop lines on stderr
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = sorted((e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for event in events:
        live += event.nbytes()  # negative for a free
        peak = max(peak, live)
    return peak


@contextmanager
def _num_threads(threads: int | None):
    """torch's intra-op thread count set to ``threads`` (None: unchanged) for the block."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _tf32(allow: bool | None):
    """TF32 allowed (or not) for cuDNN convolutions and CUDA matmuls in the block; None leaves
    torch's settings as they are."""
    import torch

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    if allow is not None:
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = allow
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before


def check_timing_memory(spec, input_hw, batch_size: int, options: TimingOptions,
                        max_memory: int | None = None):
    """Check the dtype, resolve the device and, on CPU, refuse (ResourceError) before anything is
    built if timing at ``batch_size`` in the options' dtype would exceed ``max_memory`` bytes
    (default: half the available memory). Returns the torch.device. On CUDA, running out of
    device memory is caught where it happens."""
    from ..count.limits import check_memory

    if options.dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}")
    device = resolve_device(options.device)
    if device.type == "cpu":
        check_memory(spec, input_hw, batch_size, max_memory, options.dtype)
    return device


def time_spec(spec, input_hw=None, batch_size: int = 1, options: TimingOptions = TimingOptions(),
              progress: Callable[[str], None] | None = None, max_memory: int | None = None,
              rows: bool = True, probe: Callable[[dict], bool] | None = None) -> Timings:
    """Time every row of ``spec`` alone (unless ``rows=False``) and the whole network, on
    ``options.threads`` threads. With rows, also measure the peak memory of one whole forward
    pass (``measured_peak_bytes``). On the CPU, where ``probe(env)`` (given the run's
    environment before anything is timed) is true, also the speed probe beside the network
    (``env["probe_ms"]``, for a prediction: incprof.nn.probe). Every figure taken on a
    busy machine (1-minute load above the thread count, before or after) is marked unstable."""
    if options.dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}")
    with _num_threads(options.threads), _tf32(options.tf32):
        timings = _time(spec, input_hw, batch_size, options, progress, max_memory, rows, probe)
        reason = busy(timings.env)
        if reason:
            timings.rows = {name: marked(stats, options.min_repeats, reason)
                            for name, stats in timings.rows.items()}
            timings.network = marked(timings.network, options.min_repeats, reason)
    return timings


def busy(env: dict) -> str | None:
    """Why the machine was busy while a timing ran (the 1-minute load, taken now into
    ``env["load_avg_end"]`` and at the start, above the thread count), into ``env["busy"]``; None
    where it was not."""
    env["load_avg_end"] = load_average()
    loads = [load for load in (env["load_avg"], env["load_avg_end"]) if load is not None]
    if loads and max(loads) > env["threads"]:
        env["busy"] = f"load {max(loads):g} > {cpu_threads(env['threads'])}"
    return env["busy"]


def marked(stats, min_repeats: int, busy_reason: str):
    """A figure (Stats, or why there is none) taken on a busy machine, marked unstable with the
    reason."""
    if not isinstance(stats, Stats):
        return stats
    return dataclasses.replace(stats, unstable=instability(stats, min_repeats, busy_reason))


# Rows and the whole network are each timed in this many rounds, one round of every row after
# each part of the whole network, so that a drift in the machine's speed reaches every figure alike.
ROUNDS = 5


def time_in_rounds(network: Callable[[], object], rows: dict[str, Callable[[], object]], device,
                   options: TimingOptions, progress: Callable[[str], None] | None = None,
                   between: Callable[[], object] | None = None,
                   failed: Callable[[Exception], str | None] = lambda exc: None
                   ) -> tuple[Stats | str, dict[str, Stats | str]]:
    """The whole network (``network``, one forward pass) and each row (``rows``: name -> one call)
    timed in ROUNDS interleaved rounds: a part of the network's repeats, ``between()`` (the speed
    probe), then a part of every row's, so that a drift in the machine's speed reaches every
    figure alike. A call that raises is not called again where ``failed(exc)`` gives a message
    for it (its figure), else the exception is raised. Returns (the network's figure, each row's
    figure in ``rows`` order). On the CPU a call shorter than BLOCK_S is timed in blocks."""
    def timed(fn, budget_s):
        cpu_ms: list[float] = []
        return Sliced(timer(fn, device, cpu_ms), budget_s, options, ROUNDS, cpu_ms=cpu_ms,
                      block_s=block_for(device))

    parts = {None: timed(network, options.network_budget_s),
             **{name: timed(fn, options.row_budget_s) for name, fn in rows.items()}}
    figures: dict[str | None, Stats | str] = {}
    for round_ in range(1, ROUNDS + 1):
        for name, sliced in parts.items():
            if name in figures:
                continue
            if progress:
                progress(f"timing {'the whole network' if name is None else 'row ' + name} "
                         f"(round {round_} of {ROUNDS})")
            try:
                sliced.run_slice()
            except Exception as exc:
                message = failed(exc)
                if message is None:
                    raise
                figures[name] = message
            if name is None and between is not None:
                between()
    for name, sliced in parts.items():
        if name not in figures:
            figures[name] = sliced.stats()
    return figures.pop(None), {name: figures[name] for name in rows}


def _time(spec, input_hw, batch_size: int, options: TimingOptions, progress, max_memory,
          rows: bool, probe: Callable[[dict], bool] | None) -> Timings:
    import torch

    from ..spec.shapes import place
    from .build import build

    device = check_timing_memory(spec, input_hw, batch_size, options, max_memory)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[options.dtype]
    fmt = torch.channels_last if options.channels_last else torch.contiguous_format
    torch.backends.cudnn.benchmark = True
    timings = Timings(env=environment(device, options, batch_size))
    main = [p for p in place(spec, input_hw) if not p.is_aux]
    try:
        # the same weights and input in every run (seed 0; the caller's generator left as it was):
        # some kernels' speed depends on the data (docs/latency.md)
        with seeded():
            model = build(spec, input_hw).eval()
            x = torch.randn(batch_size, *main[0].in_shape)
        model = model.to(device=device, dtype=dtype, memory_format=fmt)
        x = x.to(device=device, dtype=dtype).contiguous(memory_format=fmt)
        timings.env["weights"] = f"weights drawn as torch initialises them (seed {SEED})"
        timings.env["inputs"] = f"a standard normal input (seed {SEED})"
    except torch.cuda.OutOfMemoryError:
        raise UsageError(f"CUDA out of memory building the network at batch {batch_size}; "
                         "lower --batch-size") from None

    with torch.inference_mode():
        inputs = {}
        y = x
        try:
            for p in main:  # one pass to capture each row's real input
                inputs[p.name] = y
                y = model.row(p.name)(y)
            if rows:
                timings.measured_peak_bytes = peak_memory_bytes(lambda: model(x), device)
        except torch.cuda.OutOfMemoryError:
            raise UsageError(f"CUDA out of memory in one forward pass at batch {batch_size}; "
                             "lower --batch-size") from None
        except (RuntimeError, NotImplementedError) as exc:
            first = first_line(exc)
            if not UNSUPPORTED_DTYPE.search(first):
                raise
            raise UsageError(f"--dtype {options.dtype} does not run on {device.type} for this "
                             f"network: {first}") from None
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
        # on the CPU the speed probe once per round too: how fast the machine ran, for the
        # prediction (incprof.nn.probe)
        speed = (make_probe(device, dtype) if probe and device.type == "cpu" and probe(timings.env)
                 else None)
        probe_samples: list[float] = []

        def out_of_memory(exc: Exception) -> str | None:
            if not isinstance(exc, torch.cuda.OutOfMemoryError):
                return None
            torch.cuda.empty_cache()
            return f"CUDA out of memory at batch {batch_size}"

        timings.network, timings.rows = time_in_rounds(
            lambda: whole(x),
            {p.name: lambda m=model.row(p.name), y=inputs[p.name]: m(y) for p in main} if rows
            else {}, device, options, progress,
            None if speed is None else lambda: probe_samples.extend(speed()), out_of_memory)
        timings.env["probe_ms"] = probe_ms(probe_samples)
    return timings
