"""Device profiles: the datasheet ones shipped as data, and where calibrated ones are kept."""

import json
import subprocess
import sys

import pytest

from incprof.errors import UsageError
from incprof.nn import profiles


def test_the_datasheet_profiles_are_shipped_and_marked_uncalibrated():
    assert profiles.builtin_names() == ["a100", "h100-nvl", "h100-pcie", "h100-sxm", "h200", "l4"]
    for name in profiles.builtin_names():
        profile = profiles.load_profile(name)
        assert profile["calibrated"] is False and profile["device_type"] == "cuda"
        assert "UNCALIBRATED" in profiles.label(profile)
        assert profile["source"].startswith("https://www.nvidia.com/")


# NVIDIA's datasheets, dense (the tensor-core figures printed 'with sparsity' halved):
# TFLOPS of fp32, tf32, bf16, and TB/s (see each profile's source for the document and column).
DATASHEETS = {"h100-sxm": (67, 989 / 2, 1979 / 2, 3.35), "h100-pcie": (51, 756 / 2, 1513 / 2, 2.0),
              "h100-nvl": (60, 835 / 2, 1671 / 2, 3.9), "h200": (67, 989 / 2, 1979 / 2, 4.8),
              "a100": (19.5, 312 / 2, 624 / 2, 2.039), "l4": (30.3, 120 / 2, 242 / 2, 0.3)}


@pytest.mark.parametrize("name", DATASHEETS)
def test_datasheet_profiles_hold_the_datasheet_figures(name):
    fp32, tf32, bf16, tb_per_s = DATASHEETS[name]
    rates = profiles.load_profile(name)["rates"]
    for math, tflops in (("fp32", fp32), ("tf32", tf32), ("bf16", bf16), ("fp16", bf16)):
        assert rates[math]["conv nxn"] == [[1, 1, pytest.approx(tflops * 1e12 / 2)]]  # 2 FLOPs a MAC
    assert profiles.load_profile(name)["bandwidth"] == [[10**18, pytest.approx(tb_per_s * 1e12)]]


@pytest.mark.parametrize("name", DATASHEETS)
def test_every_rate_of_a_datasheet_profile_follows_its_printed_figures(name):
    # The files are written by hand: the printed figures in "datasheet", every rate from them. A
    # kernel with MACs runs at the math's TFLOPS / 2 MAC/s; pools, BatchNorm and ReLU run on the
    # CUDA cores at the FP32 figure, for every math.
    profile = profiles.load_profile(name)
    sheet = profile["datasheet"]
    for math, classes in profile["rates"].items():
        tflops = sheet["fp32_tflops"] if math == "fp32" else sheet[f"{math}_tflops_sparse"] / 2
        for op_class, points in classes.items():
            with_macs = op_class.startswith("conv") or op_class == "linear"
            rate = tflops * 1e12 / 2 if with_macs else sheet["fp32_tflops"] * 1e12
            assert points == [[1, 1, pytest.approx(rate, rel=1e-12)]], (math, op_class)
    assert profile["bandwidth"] == [[10**18, pytest.approx(sheet["tb_per_s"] * 1e12, rel=1e-12)]]
    assert set(profile["rates"]) == {"fp32", "tf32", "fp16", "bf16"}


def test_calibrated_profiles_are_named_by_device_threads_dtype_and_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    path = profiles.profile_file("AMD EPYC 7B13", 1, "fp32", "2.13.0+cpu")
    assert path == tmp_path / "amd-epyc-7b13-1t-fp32-torch2.13.0-cpu.json"
    assert profiles.cached_profile("AMD EPYC 7B13", 1, "fp32", "2.13.0+cpu") is None
    data = {**profiles.load_profile("l4"), "name": "mine"}
    path.write_text(json.dumps(data))
    assert profiles.cached_profile("AMD EPYC 7B13", 1, "fp32", "2.13.0+cpu")["name"] == "mine"
    assert profiles.cached_profile("AMD EPYC 7B13", 2, "fp32", "2.13.0+cpu") is None


def test_the_cache_folder_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("INCPROF_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert profiles.cache_folder() == tmp_path / "incprof"


def test_a_missing_or_broken_profile_is_one_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such profile; give a JSON file or one of a100"):
        profiles.load_profile("h100")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="cannot read a device profile"):
        profiles.load_profile(str(bad))
    bad.write_text(json.dumps({"name": "x", "rates": {}}))
    with pytest.raises(UsageError, match="not a device profile .missing device_type"):
        profiles.load_profile(str(bad))


def test_the_installed_torch_is_read_without_importing_it():
    torch = pytest.importorskip("torch")
    code = ("import sys; from incprof.nn.profiles import installed_torch; "
            "print(installed_torch()); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    # torch's own string, local part included ('2.14.1+cu130', where pip's metadata says 2.14.1)
    assert out == [torch.__version__, "False"]
