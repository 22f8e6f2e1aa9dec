"""Where results go (incprof.cli.output): output paths checked before any work, stdout for -, and files
that behave like files."""

import os

import pytest

from conftest import invoke


WORK = [("incprof.analysis.profile", "profile_records"), ("incprof.analysis.compare", "resolve_side"),
        ("incprof.analysis.compare", "compare_modules_records"),
        ("incprof.analysis.compare", "compare_networks_records"),
        ("incprof.analysis.compare", "diff_records"),
        ("incprof.analysis.lab", "factorization_records"), ("incprof.analysis.sweep", "sweep_records"),
        ("incprof.nn.bench", "bench_records"),
        ("incprof.report.reports", "write_reports"), ("incprof.report.latency", "latency_report")]


@pytest.fixture
def no_work(monkeypatch, tmp_path):
    """Make starting any command's work an error; run in tmp_path, which holds plain.txt."""
    import importlib

    def started(*a, **k):
        raise AssertionError("the work started")

    for module, name in WORK:
        monkeypatch.setattr(importlib.import_module(module), name, started)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plain.txt").write_text("a regular file")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "folder.png").mkdir()


@pytest.mark.parametrize("args", [
    ("table", "-o", "{}.csv"), ("table", "--plot", "{}.png"),
    ("compare", "naive", "reduced", "-o", "{}.csv"), ("compare", "naive", "reduced", "--plot",
                                                      "{}.png"),
    ("factorize", "-o", "{}.csv"), ("factorize", "--plot", "{}.png"),
    ("diff", "googlenet", "googlenet", "-o", "{}.csv"), ("sweep", "-o", "{}.csv"),
    ("bench", "-o", "{}.csv"),
])
@pytest.mark.parametrize("where, problem", [
    ("nodir/x", "folder nodir does not exist"),
    ("plain.txt/x", "plain.txt is not a folder"),  # refused even as root
    ("folder", "it is a folder"),
])
def test_bad_output_paths_are_refused_before_any_work(no_work, args, where, problem):
    typed = [a.format(where) for a in args]
    path = next(a for a, template in zip(typed, args) if "{}" in template)
    result = invoke(*typed)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: cannot write {path}: {problem}\n"


@pytest.mark.parametrize("latency", [(), ("--latency",)])
@pytest.mark.parametrize("typed", ["plain.txt", "plain.txt/reports"])
def test_a_report_folder_that_cannot_be_made_is_refused_before_any_work(no_work, typed, latency):
    result = invoke("report", "--out", typed, *latency)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: cannot write into {typed}: plain.txt is not a folder\n"


def test_dash_means_stdout():
    result = invoke("table", "--no-verify", "-f", "csv", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("row,")
    assert "wrote" not in result.stderr


def test_outputs_get_the_mode_open_would_give(tmp_path):
    previous = os.umask(0o002)
    try:
        new, kept = tmp_path / "new.csv", tmp_path / "kept.csv"
        kept.write_text("old")
        kept.chmod(0o640)
        for out in (new, kept):
            assert invoke("table", "--no-verify", "-f", "csv", "-o", str(out)).exit_code == 0
    finally:
        os.umask(previous)
    assert (new.stat().st_mode & 0o777, kept.stat().st_mode & 0o777) == (0o664, 0o640)
    assert kept.read_text().startswith("row,")
