"""Shared fixtures."""

import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# GoogLeNet's Table 1, typed from the paper (not read from the YAML): input channels, the six
# filter columns, and the grid size.
TABLE1_MODULES = {
    "inception_3a": (192, 64, 96, 128, 16, 32, 32, 28),
    "inception_3b": (256, 128, 128, 192, 32, 96, 64, 28),
    "inception_4a": (480, 192, 96, 208, 16, 48, 64, 14),
    "inception_4b": (512, 160, 112, 224, 24, 64, 64, 14),
    "inception_4c": (512, 128, 128, 256, 24, 64, 64, 14),
    "inception_4d": (512, 112, 144, 288, 32, 64, 64, 14),
    "inception_4e": (528, 256, 160, 320, 32, 128, 128, 14),
    "inception_5a": (832, 256, 160, 320, 32, 128, 128, 7),
    "inception_5b": (832, 384, 192, 384, 48, 128, 128, 7),
}


def invoke(*args):
    """Run the incprof CLI in-process, on a 200-column terminal; stdout and stderr apart."""
    from typer.testing import CliRunner

    from incprof.cli.app import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


MODELS = DATA / "user_models.py"  # nn.Modules written for the --model tests

# A device profile whose every rate is flat, for predictions worked out by hand: 1e9 MAC/s or
# ops/s whatever the shape, hot or cold; 1e10 bytes/s; 3 us per op with its module, 1 us per call.
FLAT_PROFILE = {
    "name": "flat", "device_type": "cpu", "calibrated": False, "source": "a test",
    "rates": {"fp32": {op: [[1, 1, 1e9]] for op in (
        "conv 1x1", "conv nxn", "conv 1xn", "conv depthwise", "conv grouped", "conv stem",
        "linear", "pool max", "pool avg", "pool global", "pool adaptive", "batchnorm", "relu",
        "lrn")}},
    "bandwidth": [[2 ** 40, 1e10]], "overhead_s": 3e-6, "call_s": 1e-6}


def user_models():
    """tests/data/user_models.py, imported as a module (it is a user's file, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_models", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def full_disk(monkeypatch):
    """Make every rename into place fail, as a full disk would midway through a write."""
    import os

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# The checks that need a fresh interpreter, registered by the test modules as they are collected and
# run together by the ``fresh`` fixture (tests/fresh.py).
FRESH_CHECKS: dict[str, dict] = {}


def fresh_check(name: str, code: str, forbid: tuple[str, ...] = ()) -> str:
    """Register ``code`` to run in a fresh interpreter that has not imported ``forbid``; returns the
    name under which the ``fresh`` fixture holds its result (see tests/fresh.py)."""
    assert name not in FRESH_CHECKS, f"two fresh checks are named {name!r}"
    FRESH_CHECKS[name] = {"code": code, "forbid": list(forbid)}
    return name


@pytest.fixture(scope="session")
def fresh(tmp_path_factory):
    """Every registered fresh-interpreter check, run once, all in one subprocess: {name: result}."""
    import json
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("fresh")
    run = subprocess.run([sys.executable, str(Path(__file__).parent / "fresh.py")], text=True,
                         input=json.dumps({"checks": FRESH_CHECKS, "folder": str(folder)}),
                         capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    return json.loads((folder / "results.json").read_text())


@pytest.fixture(scope="session")
def report_folder(tmp_path_factory):
    """The report set, written once per test run: one complete `incprof report --referee`."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("reports")
    result = invoke("report", "--referee", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def reference_reports(report_folder):
    """The report set that the other report runs are compared with: {file name: (bytes, order
    written)}."""
    paths = sorted(report_folder.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return {p.name: (p.read_bytes(), order) for order, p in enumerate(paths)}


REFERENCE = Path(__file__).parent / "reference"


def pytest_ignore_collect(collection_path, config):
    """tests/reference/ needs its own environment (torchvision, timm): it is collected only where
    it is named, as the README's test command does in its last step
    (`.venv-ref/bin/python -m pytest tests/reference`)."""
    if collection_path == REFERENCE and not any(
            Path(config.invocation_params.dir, arg.split("::")[0]).resolve().is_relative_to(REFERENCE)
            for arg in config.args):
        return True
    return None


def pytest_terminal_summary(terminalreporter):
    """Say how many fuzzed specs ran (tests/test_fuzz.py)."""
    import sys

    fuzz = sys.modules.get("test_fuzz")
    if fuzz is not None and fuzz.TALLY["tried"]:
        terminalreporter.write_line(fuzz.pytest_terminal_summary_line())



@pytest.fixture
def one_thread():
    """torch at one thread for the test (the referee's peers: their counts do not depend on it,
    and the machine is shared)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
