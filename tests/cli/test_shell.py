"""How a run ends (incprof.cli.shell): one line on stderr for every failure, usage errors, internal
errors and Ctrl-C."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import invoke
from incprof.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args, names", [
    (("table", "--batch-size", "0"), "'--batch-size'"),
    (("table", "--nosuch"), "--nosuch"),
    (("table", "-f", "xml"), "'--format'"),
    (("table", "--input-size"), "'--input-size' requires an argument"),
    (("tabel",), "No such command 'tabel'"),
])
def test_click_usage_errors_are_one_line_naming_the_option(args, names):
    result = invoke(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and names in line and "--help'" in line
    assert not set(line) & set("╭│╰")


def test_an_unexpected_error_is_one_line_exit_1(monkeypatch):
    import incprof.analysis.profile

    def broken(*args, **kwargs):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", broken)
    result = invoke("table", "--no-verify")
    assert result.exit_code == 1
    assert result.stderr.strip() == ("error: internal error: ValueError: boom (INCPROF_TRACEBACK=1 "
                                     "shows the traceback)")
    result = runner.invoke(app, ["table", "--no-verify"], env={"INCPROF_TRACEBACK": "1"})
    assert isinstance(result.exception, ValueError)
    def silent(*args, **kwargs):
        raise KeyError()

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", silent)
    assert invoke("table", "--no-verify").stderr.strip() == (  # no message: the type alone
        "error: internal error: KeyError (INCPROF_TRACEBACK=1 shows the traceback)")


@pytest.mark.parametrize("error", [
    ModuleNotFoundError("No module named 'yaml_extra'", name="yaml_extra"),  # not an optional one
    ImportError("cannot import name 'x' from 'fvcore'", name="fvcore"),      # broken, not missing
    PermissionError(13, "Permission denied", "/proc/something"),            # not from writing
    RuntimeError("some torch failure"),
])
def test_only_the_expected_errors_become_user_messages(monkeypatch, error):
    import incprof.analysis.profile

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", broken)
    result = invoke("table", "--no-verify")
    assert result.exit_code == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: internal error: {type(error).__name__}: ")
    assert "not installed" not in line and "cannot write" not in line


def test_a_missing_plotting_library_says_what_to_leave_out(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m.split(".")[0] == "matplotlib"] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    result = invoke("table", "--no-verify", "-f", "csv", "--plot", str(tmp_path / "m.png"))
    assert result.exit_code == 2
    assert "matplotlib is not installed" in result.stderr and "leave out --plot" in result.stderr


def test_ctrl_c_names_what_was_left_unwritten(monkeypatch, tmp_path):
    import incprof.analysis.profile

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", interrupted)
    out, plot = tmp_path / "t.csv", tmp_path / "t.png"
    result = invoke("table", "-f", "csv", "-o", str(out), "--plot", str(plot))
    assert result.exit_code == 130
    assert result.stderr == f"interrupted: nothing written to {out}, {plot}\n"
    assert list(tmp_path.iterdir()) == []
    # the list belongs to that command: the next one, with no output files, names none
    assert invoke("table", "-f", "csv").stderr == "interrupted\n"


def test_a_command_runs_with_rare_cyclic_collection_and_restores_the_thresholds(monkeypatch):
    import gc

    import incprof.analysis.profile

    seen = []
    original = incprof.analysis.profile.profile_records

    def recording(*args, **kwargs):
        seen.append(gc.get_threshold())
        return original(*args, **kwargs)

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", recording)
    before = gc.get_threshold()
    assert invoke("table", "--no-verify").exit_code == 0
    assert seen == [(50_000, 20, 20)] and gc.get_threshold() == before
    monkeypatch.setattr(incprof.analysis.profile, "profile_records",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("boom")))
    assert invoke("table", "--no-verify").exit_code == 1  # a failed command restores them too
    assert gc.get_threshold() == before


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_a_command_as_ctrl_c_does(monkeypatch, tmp_path, signum):
    import incprof.analysis.profile

    def stopped(*args, **kwargs):
        os.kill(os.getpid(), signum)  # delivered here, in the main thread, as from outside
        pytest.fail("the signal did not stop the command")

    monkeypatch.setattr(incprof.analysis.profile, "profile_records", stopped)
    out = tmp_path / "t.csv"
    handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    result = invoke("table", "-f", "csv", "-o", str(out))
    assert result.exit_code == 128 + signum
    assert result.stderr == f"interrupted by {signum.name}: nothing written to {out}\n"
    assert list(tmp_path.iterdir()) == []
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored afterwards


def test_an_interrupted_report_leaves_no_folder_it_made(monkeypatch, tmp_path):
    import incprof.report.reports

    def interrupted(out, *args, **kwargs):
        out.mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(incprof.report.reports, "write_reports", interrupted)
    result = invoke("report", "--out", str(tmp_path / "new" / "reports"))
    assert result.exit_code == 130 and result.stderr.startswith("interrupted: nothing written to ")
    assert list(tmp_path.iterdir()) == []  # neither reports/ nor new/ is left


def test_a_failed_block_removes_only_the_empty_folders_it_made(tmp_path):
    from incprof.files import folder_made_for

    (tmp_path / "kept").mkdir()
    with pytest.raises(KeyboardInterrupt), folder_made_for(tmp_path / "kept" / "a" / "b"):
        (tmp_path / "kept" / "a" / "b" / "c").mkdir(parents=True)
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == [tmp_path / "kept"] and not any((tmp_path / "kept").iterdir())
    with pytest.raises(ValueError), folder_made_for(tmp_path / "x" / "y"):
        (tmp_path / "x" / "y").mkdir(parents=True)
        (tmp_path / "x" / "y" / "whole.md").write_text("a report written whole\n")
        raise ValueError
    assert (tmp_path / "x" / "y" / "whole.md").is_file()  # what was written stays


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_while_the_cli_imports_is_one_line(signum):
    """The process sends itself the signal as soon as incprof.cli is imported, while typer, rich
    and the commands are still to import (a parent reading -X importtime's lines could lag behind
    a child that had finished)."""
    code = ("import os, signal, sys; sys.argv[0] = 'incprof'; import incprof.cli; "
            f"os.kill(os.getpid(), {int(signum)}); import incprof.cli.app; print('not stopped')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
                            preexec_fn=lambda: [signal.signal(s, signal.SIG_DFL) for s in
                                                (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])
    assert result.returncode == 128 + signum, result.stderr
    assert result.stderr == "interrupted\n" and result.stdout == ""


def test_a_signal_as_the_process_ends_is_not_an_exit_of_0():
    """A signal handled in an atexit callback (where a SystemExit is ignored) still ends the
    process with 128 + its number, after one line."""
    code = ("import atexit, os, signal, sys; sys.argv[0] = 'incprof'; import incprof.cli; "
            "atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM)); print('done')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    assert (result.returncode, result.stdout, result.stderr) == (143, "done\n", "interrupted\n")


@pytest.mark.parametrize("args", [("table", "--input-size", "9" * 100_000),
                                  ("--max-count", "x" * 100_000, "table"),
                                  ("check", "--max-params", "\x1b]0;t\x07" + "7" * 100_000),
                                  ("table", "--columns", "x" * 100_000)])
def test_an_option_error_echoes_the_value_cut_short(args):
    result = invoke(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert len(line) < 300 and "\x1b" not in line
