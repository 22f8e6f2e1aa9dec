"""The machine a timing runs on, as facts to record beside it: the load, the CPU's name, and the
datasheet peaks of the GPUs incprof knows by name. No torch."""

from __future__ import annotations

import os

# Dense peaks (no sparsity) from NVIDIA's datasheets, keyed by the exact name CUDA reports for the
# card (torch.cuda.get_device_name): SXM, PCIe and NVL boards of one chip have different peaks, so
# a name not listed here gets no peak at all. TFLOPS are FLOPs (2 per MAC). fp32 is the CUDA-core
# rate; tf32 the tensor-core rate an fp32 conv or matmul runs at when TF32 is allowed.
GPU_PEAKS = {
    "NVIDIA H100 80GB HBM3": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4,
                              "tb_per_s": 3.35, "source": "NVIDIA H100 datasheet (H100 SXM5)"},
    "NVIDIA H100 PCIe": {"fp32": 51.0, "tf32": 378.0, "fp16": 756.0, "bf16": 756.0,
                         "tb_per_s": 2.0, "source": "NVIDIA H100 datasheet (H100 PCIe)"},
    "NVIDIA H200": {"fp32": 67.0, "tf32": 494.7, "fp16": 989.4, "bf16": 989.4, "tb_per_s": 4.8,
                    "source": "NVIDIA H200 datasheet (H200 SXM)"},
    "NVIDIA A100-SXM4-80GB": {"fp32": 19.5, "tf32": 156.0, "fp16": 312.0, "bf16": 312.0,
                              "tb_per_s": 2.039,
                              "source": "NVIDIA A100 datasheet (A100 SXM4 80GB)"},
}


def load_average() -> float | None:
    """The 1-minute load average (runnable threads, every process), or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


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
    ``tf32``): MAC/s, bytes/s and the source, or None for a GPU not in GPU_PEAKS by its full name."""
    peak = GPU_PEAKS.get(device_name.strip())
    if peak is None:
        return None
    math = "tf32" if dtype == "fp32" and tf32 else dtype
    return {"math": math, "tflops": peak[math], "macs_per_s": peak[math] * 1e12 / 2,
            "bytes_per_s": peak["tb_per_s"] * 1e12, "source": peak["source"]}
