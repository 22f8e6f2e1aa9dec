"""The GPU script's logic, checked on the CPU: gpu.sh's dry run and gpu_run.py's plan, its
agreement rule, and one quick run of its logic on the hand-worked spec."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_run  # noqa: E402

TINY = str(ROOT / "tests" / "data" / "tiny.yaml")


def test_the_plan_covers_both_networks_both_batches_and_every_variant():
    runs = gpu_run.plan(["googlenet", "inception_v3"], [1, 64], list(gpu_run.VARIANTS))
    assert len(runs) == 2 * 2 * 5 and len(set(runs)) == len(runs)
    assert {v for _, _, v in runs} == {"fp32-tf32", "fp32-no-tf32", "bf16", "fp32-channels-last",
                                       "fp32-compiled"}
    assert gpu_run.VARIANTS["fp32-tf32"][1] is True and gpu_run.VARIANTS["fp32-no-tf32"][1] is False


def test_back_to_back_runs_agree_within_three_percent_each_way():
    assert gpu_run.agree(100.0, 102.9) and gpu_run.agree(102.9, 100.0)
    assert not gpu_run.agree(100.0, 103.5) and not gpu_run.agree(103.5, 100.0)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_sh_dry_run_prints_its_steps_and_the_plan():
    env = {**os.environ, "INCPROF_DRY_RUN": "1", "DRY_PYTHON": sys.executable,
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh")], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install --quiet -e ." in result.stderr
    assert "torch.cuda.is_available()" in result.stderr
    assert result.stdout.count("report --latency") == 20
    assert not (ROOT / ".venv-gpu").exists()  # a dry run makes nothing


@pytest.mark.slow
def test_the_run_logic_on_the_cpu_writes_reports_and_a_summary(tmp_path):
    code = gpu_run.main(["--device", "cpu", "--quick", "--arch", TINY, "--batch-sizes", "1",
                         "--variants", "fp32-tf32,fp32-channels-last", "--out", str(tmp_path)])
    assert code in (0, 1)  # 1 when the busy machine made a back-to-back pair disagree
    folder = tmp_path / "latency"
    reports = sorted(path.name for path in folder.glob("tiny-*.md"))
    assert len(reports) == 2 and reports[0].endswith("-cl-t1-b1.md")
    assert reports[1].endswith("-tf32-t1-b1.md")
    summary = (folder / "gpu-summary-cpu.md").read_text()
    assert summary.count(f"| {TINY} | 1 |") == 2
    assert "prediction" in summary and "profile-" in summary
