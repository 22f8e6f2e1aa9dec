"""Device profiles: the data the latency model (incprof.nn.predict) runs on. No torch.

A profile is JSON: ``name``, ``device_type`` (cpu or cuda), ``calibrated`` (true when measured on
the machine by ``incprof calibrate``, false for a datasheet's figures), ``source``, ``rates`` (per
math -- fp32, tf32, fp16, bf16 -- and op class, [work, pixels, rate] points: MAC/s of a conv or linear
kernel of that many MACs over that many output positions (a linear layer's: its batch), window
ops/s of a pool),
``bandwidth`` (pairs of [bytes, bytes/s]: the bandwidth measured when copying up to that many
bytes), ``overhead_s`` (the time of one kernel that does nothing: dispatch or launch), optionally
``call_s`` (the time of a module call that runs no kernel; default ``overhead_s``) and
``cold_rates`` (``rates`` measured with cold caches; default ``rates``) and ``cache_knees``
([bytes, bytes]: up to the first a row runs at the hot rates, from the second at the cold ones;
default: read off ``bandwidth``, incprof.nn.predict.cache_knees), and the conditions it was
measured under (``threads``, ``torch``, ``dtype``). Other fields are kept and ignored (an older
profile's ``cache``).

Built-in datasheet profiles live in ``incprof/nn/devices/`` (package data beside the model that
reads them, kept apart from ``tables/``, which holds only architectures). Calibrated profiles are
written to the user's cache folder, one file per device, thread count, dtype and torch version.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import UsageError

DEVICES = Path(__file__).parent / "devices"
REQUIRED = ("name", "device_type", "calibrated", "source", "rates", "bandwidth", "overhead_s")


def builtin_names() -> list[str]:
    """The datasheet profiles shipped with incprof, by name (h100-sxm, a100, ...)."""
    return sorted(path.stem for path in DEVICES.glob("*.json"))


def cache_folder() -> Path:
    """Where calibrated profiles go: $INCPROF_CACHE, else $XDG_CACHE_HOME/incprof, else
    ~/.cache/incprof."""
    if os.environ.get("INCPROF_CACHE"):
        return Path(os.environ["INCPROF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "incprof"


def slug(text: str) -> str:
    """Lower-case words joined by '-'."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-")


def profile_file(device: str, threads: int, dtype: str, torch_version: str) -> Path:
    """The cache path of a calibrated profile, named by device, thread count, dtype and torch."""
    return cache_folder() / f"{slug(device)}-{threads}t-{dtype}-torch{slug(torch_version)}.json"


def check_profile(data, where: str) -> dict:
    """``data`` if it has every field a profile needs, else a UsageError naming ``where``."""
    missing = [key for key in REQUIRED if not isinstance(data, dict) or key not in data]
    if missing:
        raise UsageError(f"{where}: not a device profile (missing {', '.join(missing)})")
    return data


def load_profile(ref: str) -> dict:
    """A profile by built-in name (see builtin_names) or JSON file path."""
    path = DEVICES / f"{ref}.json" if ref in builtin_names() else Path(ref)
    if not path.is_file():
        raise UsageError(f"--device-profile {ref!r}: no such profile; give a JSON file or one of "
                         f"{', '.join(builtin_names())} (or run incprof calibrate)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot read a device profile ({exc})") from None
    return check_profile(data, str(path))


def installed_torch() -> str:
    """torch.__version__ of the installed torch, read from its version.py without importing it
    (the distribution's metadata can lack the local part: '2.14.1' for '2.14.1+cu130')."""
    import importlib.util
    from importlib.metadata import version

    found = importlib.util.find_spec("torch")
    path = Path(found.origin).with_name("version.py") if found and found.origin else None
    text = path.read_text() if path and path.is_file() else ""
    match = re.search(r"^__version__ = ['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    return match[1] if match else version("torch")


def cached_profile(device: str, threads: int, dtype: str, torch_version: str) -> dict | None:
    """The calibrated profile for these conditions, or None where ``incprof calibrate`` has not
    written one."""
    path = profile_file(device, threads, dtype, torch_version)
    return load_profile(str(path)) if path.is_file() else None


def maths_for(profile: dict, dtype: str, tf32: dict | None = None) -> tuple[str, str]:
    """The math of a dtype's convs and linear layers on this profile's device: on CUDA, fp32 runs
    on TF32 tensor cores where ``tf32`` ({"conv": bool, "matmul": bool}) allows it; torch's
    default (TF32 for cuDNN convolutions, not for matmuls) where ``tf32`` is None."""
    if dtype != "fp32" or profile["device_type"] != "cuda":
        return dtype, dtype
    tf32 = tf32 or {"conv": True, "matmul": False}
    return ("tf32" if tf32["conv"] else "fp32"), ("tf32" if tf32["matmul"] else "fp32")


def label(profile: dict) -> str:
    """How a prediction names its profile: its name, and 'UNCALIBRATED (datasheet)' unless it was
    measured on the machine."""
    return profile["name"] + ("" if profile["calibrated"] else " (UNCALIBRATED: datasheet peaks)")
