"""The machine's facts recorded beside a timing: GPU peaks by full name, the load, the CPU name,
the allocator's condition (through a fake C library). No torch."""

from conftest import fresh_check
from incprof.nn import profiles
from incprof.nn.machine import cpu_name, gpu_peak, gpu_peaks, load_average


def test_gpu_peaks_by_full_name_and_math():
    # NVIDIA datasheets, tensor-core figures printed with sparsity (halved for dense): H100 SXM
    # FP32 67, TF32 989, BF16 1,979 TFLOPS, 3.35 TB/s; H100 PCIe FP32 51, TF32 756; H200 SXM as
    # H100 SXM with 4.8 TB/s; A100 80GB SXM TF32 312 (156 dense, printed beside it).
    sxm = "NVIDIA H100 80GB HBM3"
    assert gpu_peak(sxm, "bf16")["macs_per_s"] == 1979e12 / 2 / 2
    assert gpu_peak(sxm, "fp32")["macs_per_s"] == 67e12 / 2
    assert gpu_peak(sxm, "fp32", tf32=True)["macs_per_s"] == 989e12 / 2 / 2
    assert gpu_peak(sxm, "fp32", tf32=True)["math"] == "tf32"
    assert gpu_peak(sxm, "fp16", tf32=True)["math"] == "fp16"  # TF32 changes fp32 math only
    assert gpu_peak(sxm, "fp32")["bytes_per_s"] == 3.35e12 and "datasheet" in \
        gpu_peak(sxm, "fp32")["source"]
    assert gpu_peak("NVIDIA H100 PCIe", "fp32")["macs_per_s"] == 51e12 / 2
    assert gpu_peak("NVIDIA H100 PCIe", "fp32", tf32=True)["macs_per_s"] == 756e12 / 2 / 2
    assert gpu_peak("NVIDIA H200", "fp32")["bytes_per_s"] == 4.8e12
    assert gpu_peak("NVIDIA A100-SXM4-80GB", "fp32", tf32=True)["macs_per_s"] == 156e12 / 2
    # the NVL's datasheet column (FP32 60 teraFLOPS, BF16 1,671 with sparsity), the L4's (BF16 242
    # with sparsity, 300 GB/s): their own, not the SXM's or a neighbour's
    assert gpu_peak("NVIDIA H100 NVL", "fp32")["macs_per_s"] == 60e12 / 2
    assert gpu_peak("NVIDIA H100 NVL", "bf16")["macs_per_s"] == 1671e12 / 2 / 2
    assert gpu_peak("NVIDIA L4", "bf16")["macs_per_s"] == 242e12 / 2 / 2
    assert gpu_peak("NVIDIA L4", "fp32")["bytes_per_s"] == 300e9
    for unknown in ("NVIDIA H200 NVL", "NVIDIA A100-SXM4-40GB", "NVIDIA L40S", "Some CPU"):
        assert gpu_peak(unknown, "fp32") is None, unknown  # no neighbour's peak


def test_gpu_peaks_and_datasheet_profiles_are_one_source():
    # each card's peak is its datasheet profile's rate, math by math, and its bandwidth
    named = {p["datasheet"]["cuda_name"]: p for p in map(profiles.load_profile,
                                                         profiles.builtin_names())}
    assert set(gpu_peaks()) == {name for name in named if name} == {
        "NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe", "NVIDIA H100 NVL", "NVIDIA H200",
        "NVIDIA A100-SXM4-80GB", "NVIDIA L4"}
    for card, profile in named.items():
        if card is None:
            continue
        for dtype, tf32 in (("fp32", False), ("fp32", True), ("bf16", False), ("fp16", False)):
            peak = gpu_peak(card, dtype, tf32)
            assert peak["macs_per_s"] == profile["rates"][peak["math"]]["conv nxn"][0][2], card
        assert peak["bytes_per_s"] == profile["bandwidth"][0][1]


def test_load_and_cpu_name_are_recorded_as_plain_values(monkeypatch):
    import os

    monkeypatch.setattr(os, "getloadavg", lambda: (3.14159, 2.0, 1.0))
    assert load_average() == 3.14
    monkeypatch.delattr(os, "getloadavg")
    assert load_average() is None  # an OS without one
    assert isinstance(cpu_name(), str) and cpu_name()


MACHINE = fresh_check("nn: import incprof.nn.machine",
                      "import sys, incprof.nn.machine; assert 'torch' not in sys.modules",
                      forbid=("torch",))


def test_machine_imports_no_torch(fresh):
    assert fresh[MACHINE] == {"imported": []}


class FakeLibc:
    """ctypes' view of a C library whose mallopt records its calls and answers ``result``."""

    def __init__(self, result=1):
        self.calls, self.result = [], result

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return self.result


def test_glibc_is_told_to_keep_freed_memory(monkeypatch):
    import ctypes
    import platform

    from incprof.nn import machine

    libc = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr("sys.platform", "linux")
    said = machine.keep_freed_memory.__wrapped__()
    # mallopt(3): M_MMAP_THRESHOLD is -3, M_TRIM_THRESHOLD -1; glibc's 64-bit ceiling is 32 MiB
    assert libc.calls == [(-3, 32 * 1024 * 1024), (-1, 2**31 - 1)]
    assert said.startswith("glibc malloc keeping freed memory (blocks up to 32 MiB")
    libc.result = 0
    assert machine.keep_freed_memory.__wrapped__() == "glibc malloc, as it is (mallopt refused)"


def test_another_allocator_is_left_as_it_is(monkeypatch):
    import ctypes
    import platform

    from incprof.nn import machine

    libc = FakeLibc()
    monkeypatch.setattr(ctypes, "CDLL", lambda name: libc)
    for system, libc_name in (("darwin", ""), ("linux", "")):  # macOS; a musl Linux
        monkeypatch.setattr("sys.platform", system)
        monkeypatch.setattr(platform, "libc_ver", lambda: (libc_name, ""))
        assert machine.keep_freed_memory.__wrapped__().startswith("the platform's allocator")
    assert libc.calls == []

