"""The latency model from the command line: --predict, --device-profile, calibrate, the load hint."""

import csv
import io
import json
from pathlib import Path

import pytest

import incprof

from conftest import DATA, invoke

TINY = str(DATA / "tiny.yaml")


def test_predict_alone_shows_predicted_times_for_a_datasheet_profile():
    result = invoke("table", "--arch", "inception_v3", "--no-aux", "--predict",
                    "--device-profile", "h100-sxm", "--batch-size", "64", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = data["rows"]
    assert all(r["predicted_ms"] > 0 and r["latency_ms"] is None for r in rows)
    assert "UNCALIBRATED" in data["totals"]["prediction"]["profile"]


def test_predict_in_the_table_names_the_profile_and_its_bound_per_row():
    result = invoke("table", "--spec", TINY, "--predict", "--device-profile", "l4", "--no-verify")
    assert result.exit_code == 0, result.output
    assert "predicted ms" in result.stdout and "bound" in result.stdout
    assert "PREDICTED with NVIDIA L4 24GB (UNCALIBRATED: datasheet peaks)" in result.stdout
    assert "Ceilings (images/s, no overhead): compute-bound" in result.stdout


@pytest.mark.parametrize("fmt", ["table", "markdown", "json", "csv"])
def test_every_format_marks_a_datasheet_prediction_uncalibrated(fmt, tmp_path):
    datasheet = invoke("table", "--spec", TINY, "--predict", "--device-profile", "a100",
                       "--no-verify", "-f", fmt)
    assert datasheet.exit_code == 0, datasheet.output
    assert "NVIDIA A100 SXM4 80GB (UNCALIBRATED: datasheet peaks)" in datasheet.stdout
    # the same figures marked as measured on the machine: no such mark
    mine = tmp_path / "mine.json"
    profile = json.loads((Path(incprof.__file__).parent / "nn/devices/a100.json").read_text())
    mine.write_text(json.dumps({**profile, "name": "measured here", "calibrated": True}))
    calibrated = invoke("table", "--spec", TINY, "--predict", "--device-profile", str(mine),
                        "--no-verify", "-f", fmt)
    assert calibrated.exit_code == 0, calibrated.output
    assert "measured here" in calibrated.stdout and "UNCALIBRATED" not in calibrated.stdout


def test_a_csv_prediction_names_its_profile_on_every_predicted_row():
    result = invoke("table", "--spec", TINY, "--predict", "--device-profile", "l4", "--no-verify",
                    "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    predicted = [r for r in rows if r["predicted_ms"]]
    assert predicted and all(r["predicted_profile"] == "NVIDIA L4 24GB (UNCALIBRATED: datasheet "
                                                      "peaks)" for r in predicted)
    assert all(r["predicted_profile"] == "" for r in rows if not r["predicted_ms"])


@pytest.mark.parametrize("args, message", [
    (["--predict", "--device-profile", "h100"], "no such profile; give a JSON file or one of"),
    (["--device-profile", "l4"], "--device-profile applies only with --latency or --predict"),
])
def test_profile_mistakes_are_one_line_exit_2(args, message):
    result = invoke("table", "--spec", TINY, "--no-verify", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_predict_without_a_profile_asks_for_calibrate(tmp_path, monkeypatch):
    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    result = invoke("table", "--spec", TINY, "--no-verify", "--predict")
    assert result.exit_code == 2
    assert "run 'incprof calibrate --device cpu --threads 1'" in result.stderr


def test_latency_uses_the_calibrated_profile_and_reports_the_error(tmp_path, monkeypatch):
    from incprof.nn.machine import cpu_name
    from incprof.nn.profiles import load_profile, profile_file

    torch = pytest.importorskip("torch")
    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    path = profile_file(cpu_name(), 1, "fp32", torch.__version__)
    path.write_text(json.dumps({**load_profile("l4"), "name": "here", "device_type": "cpu",
                                "calibrated": True}))
    result = invoke("table", "--spec", TINY, "--no-verify", "--latency", "--device", "cpu",
                    "--threads", "1", "--repeats", "3", "--warmup", "1", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    p, main = data["totals"]["prediction"], [r for r in data["rows"] if not r["aux"]]
    assert p["profile"] == "here" and p["rows"] == len(main) == 5
    for r in main:
        assert r["predicted_error"] == pytest.approx(r["predicted_ms"] / r["latency_ms"] - 1,
                                                     abs=1e-3)
        assert r["latency_cpu_ms"] > 0


def test_calibrate_writes_a_profile(tmp_path, monkeypatch):
    from incprof.nn import calibrate

    monkeypatch.setattr(calibrate, "CONV_SHAPES", {op: shapes[:1] for op, shapes in
                                                   calibrate.CONV_SHAPES.items()})
    out = tmp_path / "p.json"
    result = invoke("calibrate", "--device", "cpu", "--threads", "1", "--budget", "0.5",
                    "--output", str(out))
    assert result.exit_code == 0, result.output
    profile = json.loads(out.read_text())
    assert profile["calibrated"] is True and profile["threads"] == 1


def test_a_busy_machine_gets_a_one_line_hint(monkeypatch, capsys):
    from incprof.cli import output

    monkeypatch.setattr("incprof.nn.machine.load_average", lambda: 9.9)
    output.load_hint(None)
    err = capsys.readouterr().err
    assert "load (9.9) exceeds" in err and "--threads 1" in err and err.count("\n") == 1
    output.load_hint(16)
    assert capsys.readouterr().err == ""  # 16 threads: load 9.9 is not above them


def test_calibrate_writes_into_the_cache_and_says_so(tmp_path, monkeypatch):
    from incprof.nn import calibrate

    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))
    monkeypatch.setattr(calibrate, "CONV_SHAPES", {op: shapes[:1] for op, shapes in
                                                   calibrate.CONV_SHAPES.items()})
    result = invoke("calibrate", "--device", "cpu", "--threads", "1", "--budget", "0.5")
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.glob("*-1t-fp32-torch*.json")
    assert f"wrote {written}" in result.stdout and "GMAC/s" in result.stdout
    probe_s = json.loads(written.read_text())["probe_s"]
    assert f"speed probe {probe_s * 1e3:.1f} ms; load" in result.stdout


def test_the_load_hint_waits_for_the_first_timing_step(monkeypatch, capsys):
    from incprof.cli import output

    monkeypatch.setattr("incprof.nn.machine.load_average", lambda: 9.9)
    labels = []
    step = output.hinting(labels.append, 1)
    step("counting from the spec")
    assert capsys.readouterr().err == ""
    step("timing the whole network")
    step("timing row conv")
    assert capsys.readouterr().err.count("note: the machine's load (9.9)") == 1
    assert labels == ["counting from the spec", "timing the whole network", "timing row conv"]


@pytest.mark.slow
def test_progress_shows_on_a_terminal_stderr_with_stdout_piped():
    import os
    import pty
    import select
    import subprocess
    import sys

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "incprof", "bench", "--spec", TINY, "--batch-sizes", "1,2",
         "--device", "cpu", "--threads", "1", "--repeats", "3", "--warmup", "1"],
        stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "COLUMNS": "80"})
    os.close(slave)
    seen = b""
    while process.poll() is None or select.select([master], [], [], 0.1)[0]:
        if select.select([master], [], [], 0.2)[0]:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    assert process.stdout.read().count(b"throughput by batch size") == 1
    assert b"timing batch" in seen or b"benchmarking" in seen  # the transient progress line


def test_a_model_no_spec_can_hold_is_predicted_from_its_ops(tmp_path):
    pytest.importorskip("torch")

    # Hardswish has no spec layer, so the model cannot be exported; its ops still price
    model = f"{DATA / 'user_models.py'}:hardswish_net"
    result = invoke("table", "--model", model, "--input-size", "16", "--predict",
                    "--device-profile", "l4", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["row"] for r in data["rows"]] == ["0", "1"]
    assert all(r["predicted_ms"] > 0 for r in data["rows"])
    p = data["totals"]["prediction"]
    assert "UNCALIBRATED" in p["profile"] and p["unpriced"] == {}
    text = " ".join(invoke("table", "--model", model, "--input-size", "16", "--predict",
                           "--device-profile", "l4").stdout.split())
    assert "predicted ms" in text and "each row's kernels read from the ops it runs" in text
    table = list(csv.DictReader(io.StringIO(invoke(
        "table", "--model", model, "--input-size", "16", "--predict", "--device-profile", "l4",
        "-f", "csv").stdout)))
    assert [r["predicted_profile"] for r in table] == [p["profile"]] * 2 + [""]  # and TOTAL


def test_the_module_tree_takes_no_prediction():
    pytest.importorskip("torch")
    result = invoke("table", "--model", f"{DATA / 'user_models.py'}:hardswish_net", "--tree",
                    "--predict", "--device-profile", "l4")
    assert result.exit_code == 2
    assert "--tree does not combine with --latency, --predict" in result.stderr


def test_a_profile_without_the_dtypes_rates_is_one_line_exit_2(tmp_path):
    from incprof.nn.profiles import load_profile

    mine = tmp_path / "cpu.json"
    l4 = load_profile("l4")
    mine.write_text(json.dumps({**l4, "rates": {"fp32": l4["rates"]["fp32"]}}))
    result = invoke("table", "--spec", TINY, "--no-verify", "--predict", "--dtype", "bf16",
                    "--device-profile", str(mine))
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "has no bf16 rates (it has fp32)" in result.stderr


def test_a_token_model_is_predicted_in_examples_per_second():
    pytest.importorskip("torch")
    # the tagger: an embedding (a gather) and a linear layer (8 -> 5) per token, 2 x 6 tokens
    result = invoke("table", "--model", f"{DATA / 'user_models.py'}:tagger", "--input",
                    "2x6:int64", "--predict", "--device-profile", "l4")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "inputs 2x6:int64, batch 2" in text
    assert "Ceilings (examples/s, no overhead)" in text and "images/s" not in text
