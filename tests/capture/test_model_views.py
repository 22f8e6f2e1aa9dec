"""`--model` in compare, check, diff, sweep, bench and table --latency (through the exported
spec), with figures worked out by hand."""

import csv
import io

import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from conftest import DATA  # noqa: E402
from incprof.cli.app import app

runner = CliRunner()
LIKE = f"{DATA / 'user_models.py'}:inception_like"
FIVE = f"{DATA / 'user_models.py'}:five_by_five"


def invoke(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def rows(result):
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_compare_a_model_with_its_factorized_variant():
    data = rows(invoke("compare", "factorized", "--model", FIVE, "--level", "module",
                       "--no-verify", "-f", "csv"))
    total = data[-1]
    # The Mixed block's 5x5 conv (4 -> 8) becomes 3x3 (4 -> 8) then 3x3 (8 -> 8), at 224x224.
    assert int(total["b_macs"]) - int(total["a_macs"]) == (9 * 4 * 8 + 9 * 8 * 8 - 25 * 4 * 8) * 224 * 224
    # and the added conv brings its own BatchNorm (scale and shift for 8 channels).
    assert int(total["b_params"]) - int(total["a_params"]) == 9 * 4 * 8 + 9 * 8 * 8 - 25 * 4 * 8 + 2 * 8


def test_compare_two_models_by_network():
    data = rows(invoke("compare", "--model", LIKE, "--model", FIVE, "--level", "network",
                       "--no-verify", "-f", "csv"))
    assert data[-1]["row"] == "TOTAL" and data[-1]["a_params"] != data[-1]["b_params"]


def test_check_budgets_on_a_model():
    # stem 3*16*9 at 7x7, Mixed, residual and fc at 16x16 input: MACs worked out in test_capture.
    macs = (9 * 3 * 16 * 49 + 9 * (16 * 8 + 16 * 4 + 9 * 4 * 8 + 16 * 4)
            + 9 * (20 * 20 + 2 * 9 * 20 * 20) + 200)
    over = invoke("check", "--model", LIKE, "--input-size", "16", "--max-macs", str(macs - 1))
    assert over.exit_code == 1 and f"MACs {macs:,} exceed" in over.stderr
    ok = invoke("check", "--model", LIKE, "--input-size", "16", "--max-macs", str(macs))
    assert ok.exit_code == 0, ok.output


def test_diff_a_spec_against_a_model(tmp_path):
    old = tmp_path / "old.yaml"
    assert invoke("export", "--model", LIKE, "-o", str(old)).exit_code == 0
    data = rows(invoke("diff", str(old), "--model", LIKE, "--model-arg", "classes=3", "-f", "csv"))
    # Only the classifier changed: 20 -> 10 became 20 -> 3.
    assert [r["row"] for r in data] == ["fc", "TOTAL"]
    assert (int(data[0]["a_params"]), int(data[0]["b_params"])) == (20 * 10 + 10, 20 * 3 + 3)


def test_sweep_a_model():
    data = rows(invoke("sweep", "--model", LIKE, "--sizes", "16,32", "-f", "csv"))
    assert [r["input"] for r in data] == ["16x16x3", "32x32x3"]
    assert data[0]["params"] == data[1]["params"]
    assert int(data[1]["macs"]) > int(data[0]["macs"])


def test_table_latency_and_bench_on_a_model(tmp_path, monkeypatch):
    monkeypatch.setenv("INCPROF_CACHE", str(tmp_path))  # no calibrated profile: none predicted
    data = rows(invoke("table", "--model", LIKE, "--input-size", "16", "--latency", "--device",
                       "cpu", "--warmup", "1", "--repeats", "2", "-f", "csv"))
    assert data[0]["row"] == "stem" and data[0]["latency_ms"] and "predicted_ms" not in data[0]
    text = invoke("table", "--model", LIKE, "--input-size", "16", "--latency", "--device", "cpu",
                  "--warmup", "1", "--repeats", "2")
    assert ("Predicted beside measured (docs/latency.md): none, no device profile calibrated"
            in " ".join(text.stdout.split()))
    bench = rows(invoke("bench", "--model", LIKE, "--batch-sizes", "1", "--device", "cpu",
                        "--warmup", "1", "--repeats", "2", "-f", "csv"))
    assert bench[0]["batch_size"] == "1"


HARDSWISH = f"{DATA / 'user_models.py'}:hardswish_net"
TAGGER = f"{DATA / 'user_models.py'}:tagger"


def test_table_views_come_from_the_rows_even_where_export_fails(tmp_path):
    # conv 3 -> 4 (3x3) then Hardswish: the spec has no Hardswish, so no export; rows still work
    plot = tmp_path / "rows.png"
    result = invoke("table", "--model", HARDSWISH, "--input-size", "16", "--columns", "memory,rf",
                    "--latency", "--device", "cpu", "--warmup", "1", "--repeats", "2",
                    "--plot", str(plot), "-f", "csv")
    data = rows(result)
    assert [r["row"] for r in data[:2]] == ["0", "1"]
    assert int(data[1]["activation_bytes"]) == 14 * 14 * 4 * 4  # 14x14x4 float32 values
    assert float(data[0]["latency_ms"]) > 0 and plot.stat().st_size > 0
    text = invoke("table", "--model", HARDSWISH, "--input-size", "16", "--columns", "rf")
    assert text.exit_code == 0
    assert "not shown: rf: a receptive field is a spec's geometry" in " ".join(text.stdout.split())


def test_sweep_sequence_lengths_on_a_token_model():
    data = rows(invoke("sweep", "--model", TAGGER, "--sizes", "8", "-f", "csv"))
    assert data[0]["valid"] == "False" and "rejects input" in data[0]["reason"]
    refused = invoke("sweep", "--model", TAGGER, "--seq-lens", "4")
    assert refused.exit_code == 2 and "--seq-len applies to Hugging Face" in refused.stderr


def test_bench_times_the_example_given():
    data = rows(invoke("bench", "--model", TAGGER, "--input", "2x6:int64", "--device", "cpu",
                       "--warmup", "1", "--repeats", "2", "-f", "csv"))
    assert [r["batch_size"] for r in data] == ["2"] and float(data[0]["latency_ms"]) > 0


def test_compare_models_and_specs_by_rows_at_a_depth(tmp_path):
    data = rows(invoke("compare", "--model", LIKE, "--model", LIKE, "--depth", "2", "-f", "csv"))
    by_row = {r["row"]: r for r in data}
    # the Mixed block's 1x1 -> 3x3 branch at 55x55 (224: a 3x3 stride-2 stem to 111, a 2x2 pool)
    assert int(by_row["mixed.b3"]["a_macs"]) == int(by_row["mixed.b3"]["b_macs"]) == \
        55 * 55 * (16 * 4 + 9 * 4 * 8)
    old = tmp_path / "old.yaml"
    assert invoke("export", "--model", LIKE, "-o", str(old)).exit_code == 0
    data = rows(invoke("compare", str(old), "--model", LIKE, "--model-arg", "classes=3", "-f",
                       "csv"))
    by_row = {r["row"]: r for r in data}
    assert (int(by_row["fc"]["a_params"]), int(by_row["fc"]["b_params"])) == (20 * 10 + 10, 20 * 3 + 3)
    assert by_row["stem"]["a_macs"] == by_row["stem"]["b_macs"]


def test_check_a_model_on_its_given_inputs():
    # the tagger's linear (8 -> 5) on 2 x 6 tokens
    ok = invoke("check", "--model", TAGGER, "--input", "2x6:int64", "--max-macs", str(2 * 6 * 8 * 5))
    assert ok.exit_code == 0, ok.output
    over = invoke("check", "--model", TAGGER, "--input", "2x6:int64", "--max-macs", "479")
    assert over.exit_code == 1 and "MACs 480 exceed" in over.stderr


def test_compare_models_on_given_inputs():
    data = rows(invoke("compare", "--model", TAGGER, "--model", TAGGER, "--input", "2x5:int64",
                       "-f", "csv"))
    assert int(data[-1]["a_macs"]) == int(data[-1]["b_macs"]) == 2 * 5 * 8 * 5  # 8 -> 5 per token
    refused = invoke("compare", "factorized", "--model", LIKE, "--input", "1x3x8x8")
    assert refused.exit_code == 2 and "--input applies to --model sides compared" in refused.stderr


def test_compare_a_model_with_its_own_export(tmp_path):
    """A is the side given first; the export's conv1+bn1+act1 joins the model's three rows; the
    export's 1x1x5 and the model's 5 are the same output."""
    model = f"{DATA / 'merged_rows.py'}:merged"
    spec = tmp_path / "merged.yaml"
    assert invoke("export", "--model", model, "--input-size", "8", "-o", str(spec)).exit_code == 0
    data = rows(invoke("compare", "--model", model, "--spec", str(spec), "--input", "1x3x8x8",
                       "-f", "csv"))
    by_row = {r["row"]: r for r in data}
    assert list(by_row) == ["conv1+bn1+act1", "pool", "fc", "TOTAL"]
    conv = 6 * 6 * 3 * 9 * 4  # a 3x3 conv, 3 -> 4 channels, at 6x6
    merged = by_row["conv1+bn1+act1"]
    # the model's conv1 and bn1 params summed (the export folds nothing away: BN's weight and bias)
    assert int(merged["a_params"]) == int(merged["b_params"]) == 3 * 9 * 4 + 2 * 4
    assert int(merged["a_macs"]) == int(merged["b_macs"]) == conv
    text = invoke("compare", "--model", model, "--spec", str(spec), "--input", "1x3x8x8")
    assert text.exit_code == 0, text.output
    flat = " ".join(text.stdout.split())
    assert f"A = {model}" in flat and "B = merged" in flat
    assert "Output sizes differ" not in flat and "Rows only in" not in flat
    swapped = invoke("compare", "--spec", str(spec), "--model", model, "--input", "1x3x8x8")
    assert "A = merged" in " ".join(swapped.stdout.split())


def test_a_row_that_fails_alone_says_why_and_the_others_are_still_timed():
    import torch

    from incprof.analysis.model_views import time_model
    from incprof.capture.inputs import Example
    from incprof.nn.timing import TimingOptions

    class Once(torch.nn.Module):  # runs in the model's first pass, then refuses
        calls = 0

        def forward(self, x):
            Once.calls += 1
            if Once.calls > 1:
                raise RuntimeError("refused after the first call\nsecond line")
            return x

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), Once(), torch.nn.Linear(4, 2))
    Once.calls = -10**6  # no refusal yet
    rows = {"0": model[0], "1": model[1], "unused": torch.nn.Linear(1, 1)}
    stats, env = time_model(model, Example((torch.randn(2, 4),)), TimingOptions(
        device="cpu", warmup=1, repeats=5), rows)
    assert stats.repeats == 5 and rows["0"].repeats == 5 and rows["unused"] == "never called"
    Once.calls = 0  # the pass that captures each row's input is its one call
    rows = {"0": model[0], "1": model[1]}
    stats, env = time_model(model, Example((torch.randn(2, 4),)), TimingOptions(
        device="cpu", warmup=1, repeats=5), rows)
    # the model itself now fails too: each figure is the error's first line, the rest still run
    assert stats == rows["1"] == "refused after the first call"
    assert rows["0"].repeats == 5


def test_a_model_timed_on_a_busy_machine_is_marked_and_its_values_said(monkeypatch):
    import torch

    import incprof.nn.latency as latency
    from incprof.analysis.model_views import time_model
    from incprof.capture.inputs import Example
    from incprof.nn.timing import TimingOptions

    monkeypatch.setattr(latency, "load_average", lambda: 3.5)
    model = torch.nn.Sequential(torch.nn.Linear(4, 4))
    rows = {"0": model[0]}
    stats, env = time_model(model, Example((torch.zeros(2, 4),), {}, "image"), TimingOptions(
        device="cpu", warmup=1, repeats=20, threads=1), rows, "weights as made")
    assert env["busy"] == "load 3.5 > 1 CPU thread"
    assert stats.unstable.endswith(env["busy"]) and rows["0"].unstable.endswith(env["busy"])
    assert (env["weights"], env["inputs"]) == ("weights as made",
                                               "floating inputs standard normal (seed 0)")
