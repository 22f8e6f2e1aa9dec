"""The machine a timing runs on, as facts to record beside it: the load, the CPU's name, how the
allocator serves torch's buffers, and the datasheet peaks of the GPUs incprof knows by name. No
torch."""

from __future__ import annotations

import functools
import json
import os


@functools.cache
def gpu_peaks() -> dict[str, dict]:
    """The datasheet figures of each built-in device profile (``incprof/nn/devices/*.json``, its
    ``datasheet`` block) that names the exact card CUDA reports (``torch.cuda.get_device_name``):
    SXM, PCIe and NVL boards of one chip have different peaks, so a name no profile gives gets no
    peak at all. The figures are as printed: TFLOPS (FLOPs, 2 per MAC), tensor-core ones 'with
    sparsity'; fp32 is the CUDA-core rate, tf32 the tensor-core rate an fp32 conv or matmul runs at
    when TF32 is allowed."""
    from .profiles import DEVICES

    sheets = (json.loads(path.read_text())["datasheet"] for path in sorted(DEVICES.glob("*.json")))
    return {sheet["cuda_name"]: sheet for sheet in sheets if sheet["cuda_name"]}


def load_average() -> float | None:
    """The 1-minute load average (runnable threads, every process), or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


# mallopt(3)'s parameters (malloc.h) and the largest mmap threshold glibc takes on a 64-bit machine
# (DEFAULT_MMAP_THRESHOLD_MAX); a block above it always comes fresh from the OS
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX = -1, -3, 32 * 2**20


@functools.cache
def keep_freed_memory() -> str:
    """Have glibc keep the memory torch frees, for the rest of the process, and say how buffers
    are served (recorded beside every timing and calibration).

    By default glibc hands a block above its mmap threshold to the OS when it is freed, so the
    next call's buffer of that size comes back page by page, a page fault each: on this project's
    machine googlenet took 4,088 faults and 94.6 ms a pass at one thread, 78.8 ms without them.
    glibc also moves that threshold as blocks are freed, so how many faults a call takes depends
    on what the process freed before it: the same row timed twice differed by 10x. With blocks up
    to MMAP_THRESHOLD_MAX served from the heap and the heap never trimmed, a warm call takes no
    fault, as on a GPU, where torch's caching allocator keeps freed blocks."""
    import ctypes
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return "the platform's allocator, as it is (not glibc)"
    libc = ctypes.CDLL(None)
    if not (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
            and libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)):
        return "glibc malloc, as it is (mallopt refused)"
    return (f"glibc malloc keeping freed memory (blocks up to {MMAP_THRESHOLD_MAX // 2**20} MiB "
            "from a heap never trimmed): no page faults once warm")


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


def gpu_peak(device_name: str, dtype: str, tf32: bool = False) -> dict | None:
    """The dense peak of the math a GPU runs for ``dtype`` (TF32 tensor cores for fp32 when
    ``tf32``): MAC/s, bytes/s and the source, or None for a GPU not in gpu_peaks by its full name.
    Tensor-core figures printed 'with sparsity' are halved."""
    sheet = gpu_peaks().get(device_name.strip())
    if sheet is None:
        return None
    math = "tf32" if dtype == "fp32" and tf32 else dtype
    tflops = sheet["fp32_tflops"] if math == "fp32" else sheet[f"{math}_tflops_sparse"] / 2
    return {"math": math, "tflops": tflops, "macs_per_s": float(round(tflops * 1e12 / 2)),
            "bytes_per_s": float(round(sheet["tb_per_s"] * 1e12)), "source": sheet["cite"]}
