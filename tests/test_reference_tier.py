"""The reference tier (tests/reference/) runs here, in its own environment, so that the README's test
command runs it on every submission. It needs torch 2.14.1 with torchvision and timm, which cannot share
the CPU build of torch 2.13 that the rest of the suite uses; the README's test command creates it as
.venv-ref (or point INCPROF_REFERENCE_PYTHON at another interpreter that has them)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = Path(os.environ.get("INCPROF_REFERENCE_PYTHON", ROOT / ".venv-ref" / "bin" / "python"))


def test_reference_tier_passes():
    assert PYTHON.exists(), (f"the reference environment {PYTHON} is missing; create it with the "
                             "README's test command")
    result = subprocess.run(
        [str(PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reference"],
        cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, "INCPROF_REFERENCE_TIER": "1", "OMP_NUM_THREADS": "1"})
    tail = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "skipped" not in result.stdout, tail
