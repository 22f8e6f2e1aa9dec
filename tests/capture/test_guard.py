"""The user's model code cannot decide incprof's outcome (incprof.capture.guard): exits, prints,
argument parsing, a changed folder, runaway loops and size bombs each end as one line, exit 2, or
leave incprof's output as it would be."""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, invoke

pytest.importorskip("torch")

HOSTILE = DATA / "hostile_models.py"
ROOT = Path(__file__).resolve().parents[2]


def one_error_line(result) -> str:
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in result.output
    return line


TABLE, CHECK, EXPORT = ("table", "-f", "csv"), ("check", "--max-params", "1G"), ("export",)


@pytest.mark.parametrize("command, factory, says", [
    (TABLE, "exit_0", "called sys.exit(0)"), (TABLE, "exit_3", "called sys.exit(3)"),
    (TABLE, "exit_text", "called sys.exit('the message')"), (TABLE, "hard_exit", "called os._exit(0)"),
    (TABLE, "generator_exit", "raised GeneratorExit: bye"),
    (TABLE, "forward_hard_exit", "called os._exit(0)"),
    (CHECK, "exit_0", "called sys.exit(0)"),  # a budget "passed" by exiting 0
    (CHECK, "forward_exit", "called sys.exit(0)"), (EXPORT, "forward_exit", "called sys.exit(0)"),
    (EXPORT, "hard_exit", "called os._exit(0)"),
])
def test_an_exit_from_the_model_is_its_failure(command, factory, says):
    result = invoke(*command, "--model", f"{HOSTILE}:{factory}", "--input-size", "8")
    assert result.exit_code == 2 and result.stdout == ""
    line = one_error_line(result)
    assert f"{factory}'" in line and says in line


def test_the_guard_restores_what_the_model_changed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, stdout, exit_ = sys.argv, sys.stdout, os._exit
    result = invoke("table", "--model", f"{HOSTILE}:moving", "--input-size", "8", "-f", "csv",
                    "-o", "rows.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rows.csv").is_file()  # written where the user stood, not in /
    assert (sys.argv, sys.stdout, os._exit) == (argv, stdout, exit_)


def test_the_model_sees_no_arguments():
    # hostile_models.py parses sys.argv at import, as a training script does: incprof's
    # --model, --input-size and -f would make argparse exit 2
    result = invoke("table", "--model", f"{HOSTILE}:plain", "--input-size", "8", "-f", "csv")
    assert result.exit_code == 0, result.output


def test_prints_of_the_model_go_to_stderr_in_process():
    result = invoke("table", "--model", f"{HOSTILE}:printing", "--input-size", "8", "-f", "csv")
    assert result.exit_code == 0, result.output
    assert "HYPERLINK" not in result.stdout and "HYPERLINK" in result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[-1]["row"] == "TOTAL" and rows[-1]["params"] == str(3 * 4 + 4)


def run(*args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "incprof", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_prints_of_the_model_never_reach_stdout_in_a_process():
    """Python's prints and writes to file descriptor 1 alike."""
    done = run("table", "--model", f"{HOSTILE}:printing", "--input-size", "8", "-f", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("row,module,") and "=" not in done.stdout
    assert "HYPERLINK" in done.stderr and "file descriptor 1" in done.stderr


def test_a_runaway_forward_ends_at_the_timeout():
    """A loop computes: it spends the --timeout in CPU seconds."""
    result = invoke("--timeout", "0.5", "table", "--model", f"{HOSTILE}:looping",
                    "--input-size", "8")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "stopped after 0.5 CPU seconds" in line and "--timeout SECONDS" in line


def test_a_sleeping_model_ends_at_the_wall_clock_backstop():
    """A model that waits spends no CPU time: the backstop, 4 x --timeout in wall-clock seconds,
    ends it, and the line says which limit ran out."""
    result = invoke("--timeout", "0.5", "table", "--model", f"{HOSTILE}:sleeping",
                    "--input-size", "8")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "stopped after 2 wall-clock seconds (4 x --timeout 0.5" in line
    assert "--timeout SECONDS" in line


def test_a_model_that_swallows_the_timeout_is_ended():
    """Whichever limit runs out first (1 CPU second, or the 4 s wall-clock backstop: it sleeps
    between its swallows), a second later it is ended with that limit's line."""
    done = run("--timeout", "1", "table", "--model", f"{HOSTILE}:swallowing", "--input-size", "8",
               "-f", "csv")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and ("stopped after 1 CPU seconds" in line
                                            or "stopped after 4 wall-clock seconds" in line)


@pytest.mark.parametrize("factory, ceiling", [("relus", "--max-layers"), ("chain", "--max-ops")])
def test_size_ceilings_apply_to_a_model(factory, ceiling):
    # relus(n) has n leaf modules and chain(n) runs n aten relu ops: both 50 here
    refused = invoke(ceiling, "49", "table", "--model", f"{HOSTILE}:{factory}",
                     "--input-size", "8", "-f", "csv")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert ceiling in one_error_line(refused)
    allowed = invoke(ceiling, "50", "table", "--model", f"{HOSTILE}:{factory}",
                     "--input-size", "8", "-f", "csv")
    assert allowed.exit_code == 0, allowed.output
