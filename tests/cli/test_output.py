"""Where results go (incprof.cli.output): output paths checked before any work, stdout for -, and files
that behave like files."""

import os

import pytest

from conftest import DATA, invoke


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


@pytest.mark.parametrize("args, said", [
    (("table", "-o", "x.csv/"), "'x.csv/' ends in a slash, so it names a folder"),
    (("table", "--plot", "x.png/"), "'x.png/' ends in a slash, so it names a folder"),
    (("diff", "googlenet", "googlenet", "-o", ""), "an empty path names no file"),
    (("table", "-o", ""), "an empty path names no file"),
    (("report", "--out", ""), "an empty path names no folder"),
])
def test_a_folder_or_empty_output_name_is_refused(no_work, tmp_path, args, said):
    result = invoke(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert said in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.csv", "folder.png", "plain.txt"]


@pytest.mark.parametrize("args", [
    ("table", "-o", "same.svg", "--plot", "same.svg"),
    ("table", "-o", "same.svg", "--plot", "./sub/../same.svg"),
    ("compare", "naive", "reduced", "-o", "same.png", "--plot", "same.png"),
    ("factorize", "-o", "same.png", "--plot", "same.png"),
])
def test_one_file_for_two_outputs_is_refused_before_any_work(no_work, tmp_path, args):
    (tmp_path / "sub").mkdir()
    result = invoke(*args)
    assert result.exit_code == 2
    assert "is also an output of this command" in result.stderr
    assert not any(p.name.startswith("same") for p in tmp_path.iterdir())


@pytest.mark.parametrize("command", [("table", "--spec", "spec.yaml"),
                                     ("diff", "spec.yaml", "googlenet"),
                                     ("sweep", "--spec", "spec.yaml")])
def test_an_output_onto_the_input_spec_is_refused(no_work, tmp_path, command):
    spec = (DATA / "tiny.yaml").read_text()
    (tmp_path / "spec.yaml").write_text(spec)
    result = invoke(*command, "-o", "./spec.yaml")
    assert result.exit_code == 2
    assert result.stderr == ("error: cannot write spec.yaml: it is the input spec.yaml; write the "
                             "output to another file\n")
    assert (tmp_path / "spec.yaml").read_text() == spec


def test_export_onto_the_model_file_is_refused(tmp_path):
    source = (DATA / "user_models.py").read_text()
    (tmp_path / "models.py").write_text(source)
    result = invoke("export", "--model", f"{tmp_path / 'models.py'}:functional",
                    "-o", str(tmp_path / "models.py"))
    assert result.exit_code == 2 and "it is the input" in result.stderr
    assert (tmp_path / "models.py").read_text() == source


def test_a_long_file_name_is_written(tmp_path):
    """252 characters, within NAME_MAX (255 bytes): the temporary file beside it is shorter."""
    out = tmp_path / ("n" * 248 + ".csv")
    result = invoke("table", "--no-verify", "-f", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert out.read_text().startswith("row,")
