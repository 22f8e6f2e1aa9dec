"""The command line, driven through typer's CliRunner, asserting on data."""

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA, fresh_check, invoke


def test_table_json():
    result = invoke("table", "--arch", "googlenet", "--format", "json", "--no-verify")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["params"] == 6_998_552 and data["meta"]["flavor"] == "paper"


def test_table_verified_torchvision_csv():
    pytest.importorskip("torch")
    result = invoke("table", "--flavor", "torchvision", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = {r["row"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    assert rows["TOTAL"]["params"] == "6624904"
    assert rows["inception_3a"]["check_macs"] == rows["inception_3a"]["macs"]


def test_table_text_default(tmp_path):
    result = invoke("table", "--no-verify")
    assert result.exit_code == 0
    assert "inception_3a" in result.stdout and "6,998,552" in result.stdout


def test_output_file_and_markdown(tmp_path):
    out = tmp_path / "g.md"
    result = invoke("table", "--no-verify", "-f", "markdown", "-o", str(out))
    assert result.exit_code == 0
    assert out.read_text().startswith("| row | type |")
    assert result.stdout == ""


def test_options_change_the_numbers():
    result = invoke("table", "--no-verify", "-f", "json", "--batch-size", "2", "--no-aux",
                    "--input-size", "256x256")
    data = json.loads(result.stdout)
    assert data["meta"]["input"] == [3, 256, 256] and data["meta"]["aux_heads"] == {}
    conv1 = data["rows"][0]
    assert conv1["macs"] == 2 * 7 * 7 * 3 * 64 * 128 * 128


def test_user_spec():
    result = invoke("table", "--spec", str(DATA / "tiny.yaml"), "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["params"] == 112 + 139 + 45


@pytest.mark.parametrize("args, message", [
    (("table", "--arch", "nosuch"), "unknown architecture 'nosuch'"),
    (("table", "--input-size", "big"), "--input-size must be"),
    (("table", "--input-size", "100", "--no-verify"), "shrinks to nothing"),
])
def test_usage_errors_are_one_line_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_bad_spec_file_is_one_line_exit_2(write_spec):
    path = write_spec("name: t\ninput: [3, 8, 8]\nrows:\n  - name: a\n    type: x\n"
                      "    layers: [{conv: {out: 0, kernel: 1}}]\n")
    result = invoke("table", "--spec", str(path), "--no-verify")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {path}:6: row 'a': out must be >= 1, got 0"


def test_python_tag_is_refused(write_spec):
    path = write_spec("name: !!python/object/apply:os.system ['echo pwned']\n")
    result = invoke("table", "--spec", str(path))
    assert result.exit_code == 2 and "not allowed" in result.stderr


def test_unwritable_output(tmp_path):
    result = invoke("table", "--no-verify", "-f", "csv", "-o", str(tmp_path / "nodir" / "x.csv"))
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_list_names_every_architecture_and_variant_on_a_line_of_its_own():
    from incprof.spec.registry import available
    from incprof.spec.variants import VARIANTS

    result = invoke("list")
    assert result.exit_code == 0
    firsts = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")]
    assert firsts == [*available(), *VARIANTS]
    assert all(len(line.split()) > 3 for line in result.stdout.splitlines()[1:] if line[:2] == "  ")


HELP = fresh_check(
    "cli: --help",
    "import sys; from typer.testing import CliRunner; from incprof.cli.app import app; "
    "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output; "
    "r = CliRunner().invoke(app, ['table', '--help']); assert r.exit_code == 0; "
    "bad = [m for m in ('torch', 'fvcore', 'pandas', 'matplotlib') if m in sys.modules]; "
    "assert not bad, bad", forbid=("torch", "fvcore", "pandas", "matplotlib"))


def test_help_does_not_import_torch(fresh):
    assert fresh[HELP] == {"imported": []}


FORMATS = ["table", "markdown", "csv", "json"]
NO_VERIFY = {fmt: fresh_check(
    f"cli: table --no-verify -f {fmt}",
    "import sys; from typer.testing import CliRunner; from incprof.cli.app import app; "
    f"r = CliRunner().invoke(app, ['table', '--no-verify', '-f', {fmt!r}]); "
    "assert r.exit_code == 0, r.output; assert 'inception_5b' in r.stdout; "
    "bad = [m for m in ('torch', 'pandas', 'matplotlib', 'fvcore', 'rich.progress') "
    "if m in sys.modules]; assert not bad, bad",
    forbid=("torch", "pandas", "matplotlib", "fvcore", "rich.progress")) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_verify_path_imports_no_torch_pandas_matplotlib_or_fvcore(fmt, fresh):
    """Counting from a spec renders plain records: no heavy library is imported, in any format
    (and no progress display off a terminal)."""
    assert fresh[NO_VERIFY[fmt]] == {"imported": []}


# Every command that counts from specs alone, as a user types it: the rows are plain records, so
# pandas is never imported, nor torch, matplotlib or fvcore.
COUNTING = [["compare", "naive", "reduced", "--no-verify"],
            ["compare", "--level", "network", "googlenet", "inception_v3", "--no-verify"],
            ["diff", "googlenet", "inception_v3"], ["factorize", "--no-verify"],
            ["sweep", "--arch", "inception_v3", "--sizes", "79,151,299"]]
# The commands that build or time the network need torch, but still no pandas.
BUILDING = [["compare", "naive", "reduced"], ["compare", "--level", "network", "googlenet",
                                              "inception_v3"], ["factorize"],
            ["bench", "--spec", str(DATA / "tiny.yaml"), "--batch-sizes", "1,2", "--device",
             "cpu", "--warmup", "1", "--repeats", "2"],
            ["sweep", "--spec", str(DATA / "tiny.yaml"), "--sizes", "8", "--latency",
             "--device", "cpu", "--warmup", "1", "--repeats", "2"]]


def _run_all(name: str, commands: list[list[str]], fmt: str | None, heavy: tuple[str, ...]) -> str:
    """Register a fresh-interpreter check: each command in ``fmt`` (None: as given), none importing
    a ``heavy`` module."""
    code = ("import sys; from typer.testing import CliRunner; from incprof.cli.app import app\n"
            f"for args in {[c + ['-f', fmt] if fmt else c for c in commands]!r}:\n"
            "    r = CliRunner().invoke(app, args)\n"
            "    assert r.exit_code == 0, (args, r.output); assert r.stdout.strip(), args\n"
            f"    bad = [m for m in {heavy!r} if m in sys.modules]; assert not bad, (args, bad)")
    return fresh_check(f"cli: {name}" + (f" -f {fmt}" if fmt else ""), code, forbid=heavy)


COUNTING_CHECKS = {fmt: _run_all("counting commands", COUNTING, fmt,
                                 ("torch", "pandas", "matplotlib", "fvcore", "rich.progress"))
                   for fmt in FORMATS}
BUILDING_CHECKS = {fmt: _run_all("building commands", BUILDING, fmt, ("pandas", "matplotlib"))
                   for fmt in FORMATS}
MODEL = ["--model", f"{DATA / 'user_models.py'}:functional", "--input-size", "16"]
MODEL_CHECKS = {fmt: _run_all(f"table -f {fmt}, check: --model",
                              [["table", *MODEL, "-f", fmt], ["check", *MODEL, "--max-macs", "1G"]],
                              None, ("pandas", "matplotlib"))
                for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_counting_commands_import_no_pandas_torch_matplotlib_or_fvcore(fmt, fresh):
    assert fresh[COUNTING_CHECKS[fmt]] == {"imported": []}


@pytest.mark.parametrize("fmt", FORMATS)
def test_building_commands_import_no_pandas(fmt, fresh):
    pytest.importorskip("torch")
    assert fresh[BUILDING_CHECKS[fmt]] == {"imported": []}


def _run_all(name: str, commands: list[list[str]], fmt: str | None, heavy: tuple[str, ...]) -> str:
    """Register a fresh-interpreter check: each command in ``fmt`` (None: as given), none importing
    a ``heavy`` module."""


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "incprof", "list"], capture_output=True,
                            text=True, check=True)
    assert "googlenet" in result.stdout


def test_compare_json_both_levels():
    result = invoke("compare", "naive", "reduced", "-f", "json", "--no-verify")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"module", "network"}
    assert len(data["module"]["rows"]) == 9
    assert data["network"]["totals"]["b_params"] == 6_998_552


def test_compare_csv_and_plot(tmp_path):
    pytest.importorskip("torch")
    plot = tmp_path / "m.png"
    result = invoke("compare", "naive", "reduced", "--level", "module", "-f", "csv", "--plot",
                    str(plot))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[-1]["row"] == "TOTAL" and rows[0]["level"] == "module"
    assert rows[0]["a_check_macs"] == rows[0]["a_macs"]
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_compare_mobilenet_multipliers_from_the_cli():
    """MobileNet's Table 6 width 0.5 network (149M mult-adds, 1.3M params) and Table 4's full-conv
    one, as variants of --arch mobilenet_v1; at module level a thinned row cannot run on the
    other's input, and the refusal says what to do."""
    result = invoke("compare", "mobilenet_v1", "width_0.5", "--arch", "mobilenet_v1",
                    "--no-verify", "--level", "network", "-f", "csv")
    assert result.exit_code == 0, result.output
    total = list(csv.DictReader(io.StringIO(result.stdout)))[-1]
    assert (total["b_macs"], total["b_params"]) == ("149497088", "1331592")
    dense = invoke("compare", "mobilenet_v1", "dense", "--arch", "mobilenet_v1", "--no-verify",
                   "--level", "network", "-f", "csv")
    assert list(csv.DictReader(io.StringIO(dense.stdout)))[-1]["b_params"] == "29294088"
    refused = invoke("compare", "mobilenet_v1", "width_0.5", "--arch", "mobilenet_v1",
                     "--no-verify")
    assert refused.exit_code == 2 and "--level network" in refused.output


def test_compare_with_spec_files_and_text():
    result = invoke("compare", "--spec", str(DATA / "tiny.yaml"), "--spec",
                    str(DATA / "tiny.yaml"), "--no-verify", "--level", "network")
    assert result.exit_code == 0, result.output
    assert "A = tiny vs B = tiny, whole networks" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("compare", "naive"), "exactly two sides"),
    (("compare", "naive", "bogus"), "'bogus' is neither a variant"),
    (("compare", "naive", "reduced", "--plot", "x.gif", "--no-verify"), ".png or .svg"),
])
def test_compare_errors(args, message):
    result = invoke(*args)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_factorize_json_and_plot(tmp_path):
    pytest.importorskip("torch")
    plot = tmp_path / "s.svg"
    result = invoke("factorize", "--width", "32", "--size", "9", "-f", "json", "--plot", str(plot))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rules = {r["rule"]: r for r in data["rules"]["rows"]}
    assert rules["5x5 -> two 3x3"]["saving_per_position_pct"] == 28.0
    assert all(r["check_agrees"] for r in data["rules"]["rows"])
    assert data["grid_reduction"]["rows"][0]["macs_per_d2k2"] == 18
    assert plot.read_text().startswith("<?xml")


def test_factorize_text_and_errors():
    result = invoke("factorize", "--no-verify", "--grid-kernel", "1")
    assert result.exit_code == 0 and "2d²k²" in result.stdout
    result = invoke("factorize", "--grid-size", "35", "--no-verify")
    assert result.exit_code == 2 and "even" in result.stderr
    result = invoke("factorize", "--grid-kernel", "2", "--no-verify")
    assert result.exit_code == 2 and "odd" in result.stderr


def test_table_plot_and_v3(tmp_path):
    plot = tmp_path / "v3.png"
    result = invoke("table", "--arch", "inception_v3", "--no-verify", "-f", "json", "--plot",
                    str(plot))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["params_with_aux"] == 27_161_264
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_compare_reduced_factorized():
    result = invoke("compare", "reduced", "factorized", "--level", "module", "-f", "json",
                    "--no-verify")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["module"]["rows"]
    assert len(rows) == 9 and all(r["a_output"] == r["b_output"] for r in rows)


@pytest.mark.parametrize("args, code, message", [
    (("check", "--max-params", "7M", "--max-macs", "1.6G"), 0, "ok: googlenet: params 6,998,552"),
    (("check", "--max-params", "6,998,552"), 0, "ok:"),
    (("check", "--max-params", "6998551"), 1, "params 6,998,552 exceed the budget of 6,998,551"),
    (("check", "--max-macs", "1.5G"), 1, "MACs 1,582,671,872 exceed the budget"),
    (("check", "--arch", "inception_v3", "--max-params", "25M"), 0, "23,834,568"),
    (("check",), 2, "give at least one budget"),
    (("check", "--max-params", "lots"), 2, "--max-params must be a count"),
])
def test_check_budgets(args, code, message):
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert message in (result.stdout if code == 0 else result.stderr)


def test_diff_lists_changed_rows(write_spec):
    text = (DATA / "tiny.yaml").read_text().replace("linear: {out: 5}", "linear: {out: 7}")
    text = text.replace("1x1x5", "1x1x7")
    changed = write_spec(text, "tiny2.yaml")
    result = invoke("diff", str(DATA / "tiny.yaml"), str(changed), "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["diff"]["rows"]
    assert [r["row"] for r in rows] == ["fc"]
    assert (rows[0]["a_params"], rows[0]["b_params"]) == (45, 8 * 7 + 7)


@pytest.mark.slow
@pytest.mark.peers
def test_report_command(reference_reports):
    names = set(reference_reports)
    assert {"googlenet.md", "naive-vs-reduced.md", "factorizations.md", "inception_v3.md",
            "referee.md"} <= names
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")]


@pytest.mark.slow
@pytest.mark.peers
def test_report_without_referee_runs_no_peer(reference_reports, tmp_path, monkeypatch):
    """Without --referee, the peers never run and referee.md is not written; the other reports
    are the same bytes."""
    import incprof.referee.peers

    monkeypatch.setattr(incprof.referee.peers, "run", lambda *a: pytest.fail("a peer ran"))
    result = invoke("report", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(written) == set(reference_reports) - {"referee.md", "referee-reported-vs-predicted.svg"}
    assert all(data == reference_reports[name][0] for name, data in written.items())


def default_sigint():
    """In a child: Ctrl-C acts again, even where this test runs with SIGINT ignored (a background
    job of a non-interactive shell)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
@pytest.mark.peers
def test_an_interrupted_report_leaves_every_file_whole(reference_reports, tmp_path):
    """SIGINT or SIGKILL, sent as soon as the file a reference run wrote at some fraction of its
    run is replaced, leaves each file old or whole and new, and no temp file. The runs overlap."""
    order = sorted(reference_reports, key=lambda name: reference_reports[name][1])
    old = {name: f"old {name}\n".encode() for name in reference_reports}
    runs = []
    for sig, fraction in [(signal.SIGINT, 0.0), (signal.SIGINT, 0.5), (signal.SIGKILL, 0.7)]:
        out = tmp_path / f"{sig.name}-{fraction}"
        out.mkdir()
        for name, data in old.items():
            (out / name).write_bytes(data)
        process = subprocess.Popen([sys.executable, "-m", "incprof", "report", "--referee",
                                    "--out", str(out)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=default_sigint)
        runs.append((sig, order[int(fraction * (len(order) - 1))], out, process))
    deadline = time.monotonic() + 900
    waiting = list(runs)
    while waiting:
        assert time.monotonic() < deadline, "a report never wrote its trigger file"
        for run in list(waiting):
            sig, trigger, out, process = run
            if (out / trigger).read_bytes() != old[trigger] or process.poll() is not None:
                process.send_signal(sig)
                waiting.remove(run)
        time.sleep(0.02)
    for sig, trigger, out, process in runs:
        _, stderr = process.communicate(timeout=900)
        assert sorted(os.listdir(out)) == sorted(reference_reports)  # no temp file
        new = {name for name in old if (out / name).read_bytes() == reference_reports[name][0]}
        assert all((out / name).read_bytes() == old[name] for name in set(old) - new)
        assert trigger in new
        assert process.returncode == (130 if sig == signal.SIGINT else -sig), stderr
        if sig == signal.SIGINT:
            assert "Traceback" not in stderr, stderr
            last = stderr.strip().splitlines()[-1]
            assert last.startswith("interrupted: nothing written to "), last
            for name in order:
                if name.endswith(".md") and name not in new:
                    assert str(out / name) in last


# ---- environment faults, each simulated
def test_missing_dependency_is_a_clear_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # importing torch now raises ImportError
    result = invoke("table", "--verify")
    assert result.exit_code == 2
    assert "torch is not installed" in result.stderr and "--no-verify" in result.stderr


def test_the_cross_check_needs_no_fvcore(monkeypatch):
    pytest.importorskip("torch")
    for name in [m for m in sys.modules if m == "fvcore" or m.startswith("fvcore.")] + ["fvcore"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing fvcore now raises ImportError
    result = invoke("table", "--verify", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["check_agrees"] is True


def test_read_only_output_folder(monkeypatch, tmp_path):
    import incprof.files

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.csv"))

    monkeypatch.setattr(incprof.files.tempfile, "mkstemp", refuse)
    result = invoke("table", "--no-verify", "-f", "csv", "-o", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and "Permission denied" in result.stderr
    assert not (tmp_path / "x.csv").exists()


def test_failed_write_keeps_the_previous_file(tmp_path, full_disk):
    import os

    target = tmp_path / "g.json"
    target.write_text("previous")
    result = invoke("table", "--no-verify", "-f", "json", "-o", str(target))
    assert result.exit_code == 2 and "No space left" in result.stderr
    assert target.read_text() == "previous" and sorted(os.listdir(tmp_path)) == ["g.json"]


def test_memory_limit_refuses_before_building():
    result = invoke("compare", "naive", "reduced", "--level", "network", "--latency",
                    "--max-memory", "100M")
    assert result.exit_code == 2
    assert "would need about" in result.stderr and "set by --max-memory" in result.stderr
    # the cross-check runs on an empty batch: --max-memory limits timing only, and is refused
    # without --latency rather than ignored
    from incprof.analysis.compare import compare_networks_records, resolve_side

    compare_networks_records(resolve_side("naive"), resolve_side("reduced"), verify=True,
                             max_memory=100 * 2**20)
    result = invoke("compare", "naive", "reduced", "--level", "network", "--max-memory", "100M")
    assert (result.exit_code, result.stderr) == (2, "error: --max-memory applies only with --latency\n")


def test_sweep_command():
    result = invoke("sweep", "--arch", "inception_v3", "--sizes", "79,151,299", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["meta"]["min_input_size"] == 75 and len(data["rows"]) == 3
    result = invoke("sweep", "--sizes", "79,abc")
    assert result.exit_code == 2 and "--sizes" in result.stderr


def test_table_columns_option():
    result = invoke("table", "--no-verify", "--columns", "all", "-f", "markdown")
    assert result.exit_code == 0 and "receptive field" in result.stdout
    assert "| 907x907 |" in result.stdout
    result = invoke("table", "--no-verify", "--columns", "speed")
    assert result.exit_code == 2 and "unknown --columns group 'speed'" in result.stderr


def test_table_latency_on_cpu():
    result = invoke("table", "--spec", str(DATA / "tiny.yaml"), "--latency", "--device", "cpu",
                    "--warmup", "1", "--repeats", "2", "--no-verify", "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["meta"]["latency_env"]["device_type"] == "cpu"
    assert all(r["latency_repeats"] == 2 for r in data["rows"] if not r["aux"])
    result = invoke("table", "--spec", str(DATA / "tiny.yaml"), "--latency", "--device", "cpu",
                    "--warmup", "1", "--repeats", "2", "--no-verify")
    assert "MACHINE-DEPENDENT" in result.stdout and "Whole network (eval" in result.stdout


def test_latency_errors_exit_2():
    if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = invoke("table", "--latency", "--device", "cuda", "--no-verify")
    assert result.exit_code == 2 and "CUDA is not available" in result.stderr


def test_bench_and_compare_latency():
    result = invoke("bench", "--spec", str(DATA / "tiny.yaml"), "--batch-sizes", "1,2",
                    "--device", "cpu", "--warmup", "1", "--repeats", "2", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [r["batch_size"] for r in rows] == [1, 2]
    assert all(r["images_per_s"] == pytest.approx(r["batch_size"] / (r["latency_ms"] / 1000),
                                                  rel=1e-3) for r in rows)
    result = invoke("compare", "naive", "reduced", "--level", "module", "--latency", "--device",
                    "cpu", "--warmup", "1", "--repeats", "2", "--no-verify", "-f", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["module"]["rows"]
    assert all(r["a_latency_ms"] > 0 and r["b_latency_ms"] > 0 for r in rows)
    result = invoke("bench", "--batch-sizes", "0")
    assert result.exit_code == 2 and "--batch-sizes" in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--max-nodes", "50", "table", "--no-verify"), "more than 50 nodes"),
    (("--max-side", "100", "table", "--no-verify", "--input-size", "224"), "from 1 to 100"),
    (("--max-count", "1e6", "table", "--no-verify"), "over the ceiling of 1e+06"),
    (("--max-count", "1e30", "list"), "--max-count must be a number from 1 to 2e15"),
    (("--max-bytes", "100", "table", "--no-verify", "--spec", str(DATA / "tiny.yaml")),
     "over the limit of 100 (--max-bytes)"),
])
def test_ceilings_are_enforced_and_overridable(args, message):
    result = invoke(*args)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert invoke("table", "--no-verify", "-f", "json").exit_code == 0  # defaults restored


def test_each_command_runs_under_its_own_ceilings_and_assigns_no_module_global(monkeypatch):
    """Two commands in one process: the first sees the ceilings it was given, the second the
    defaults; no module's attributes change, and the defaults are in force afterwards."""
    import incprof.analysis.profile
    from incprof.cli import options, output, shell
    from incprof.count import analytic, limits
    from incprof.spec import ceilings, model, parse, registry, yamlio

    seen = []
    original = incprof.analysis.profile.profile_records
    monkeypatch.setattr(incprof.analysis.profile, "profile_records",
                        lambda *args, **kwargs: seen.append(ceilings.current()) or original(*args, **kwargs))
    modules = (ceilings, yamlio, parse, model, registry, analytic, limits, options, output, shell)
    before = [dict(vars(module)) for module in modules]
    given = ("--max-nodes", "100000", "--max-bytes", "60000", "--max-side", "300", "--max-count",
             "1e14", "--max-layers", "300")
    assert invoke(*given, "table", "--no-verify", "-f", "json").exit_code == 0
    assert invoke("table", "--no-verify", "-f", "json").exit_code == 0
    assert seen == [ceilings.Ceilings(max_nodes=100_000, max_bytes=60_000, max_side=300,
                                      max_count=10**14, max_layers=300),
                    ceilings.Ceilings(max_nodes=200_000, max_bytes=4 * 1024 * 1024, max_side=16_384,
                                      max_count=10**15, max_layers=2_000)]
    assert [dict(vars(module)) for module in modules] == before
    assert ceilings.current() == seen[1]
    # a command that fails still leaves the defaults in force
    assert invoke("--max-count", "1e6", "table", "--no-verify").exit_code == 2
    assert ceilings.current() == seen[1]


def test_inception_v3_fits_under_raised_and_default_ceilings():
    result = invoke("--max-nodes", "500000", "--max-count", "2e15", "table", "--arch",
                    "inception_v3", "--no-verify", "-f", "json")
    assert result.exit_code == 0


# ---- hostile input files and text: one line, exit code 2, at once
def _one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    assert result.stdout == ""


def test_special_files_are_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo")
    for path, kind in (("/dev/zero", "a character device"), (str(tmp_path / "fifo"), "a FIFO"),
                       (str(tmp_path), "a directory")):
        _one_line_error(invoke("table", "--no-verify", "--spec", path),
                        f"{path}: not a regular file ({kind})")


@pytest.mark.parametrize("old, new, fragment", [
    ("out: 4, kernel: 3", "out: 04, kernel: 3", ":12: row 'conv': YAML 1.1 reads '04' as 4"),
    ("stride: 2}", "stride: 1:30}", ":18: row 'pool': YAML 1.1 reads '1:30' as 90"),
    ("name: conv", 'name: "conv\\x1b[2J"', ":6: row 'conv\\x1b[2J': name contains the control"),
    ("title: Tiny hand-worked spec", "title: " + "t" * 300, ":3: title is 300 characters long"),
])
def test_bad_text_in_a_spec_is_one_line(write_spec, old, new, fragment):
    text = (DATA / "tiny.yaml").read_text()
    assert old in text
    path = write_spec(text.replace(old, new))
    _one_line_error(invoke("table", "--no-verify", "--spec", str(path)), f"{path}{fragment}")


def test_a_row_named_like_a_module_attribute_counts_and_verifies(write_spec):
    pytest.importorskip("torch")
    text = (DATA / "tiny.yaml").read_text().replace("name: pool", "name: forward").replace(
        "after: pool", "after: forward").replace("name: head", "name: training")
    result = invoke("table", "--spec", str(write_spec(text)), "-f", "json")
    assert result.exit_code == 0, result.output
    rows = {r["row"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["training"]["check_params"] == rows["training"]["params"] == 4 * 2 * 2 * 3 + 3


def test_bare_names_ignore_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "googlenet").mkdir()
    (tmp_path / "inception_v3").write_text("name: impostor\n")
    result = invoke("table", "--no-verify", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["params"] == 6_998_552
    result = invoke("table", "--arch", "inception_v3", "--no-verify", "-f", "json")
    assert json.loads(result.stdout)["meta"]["arch"] == "inception_v3"
# ---- devices, dtypes and torch.compile: one line each
@pytest.fixture
def two_gpus(monkeypatch):
    """Pretend this machine has two CUDA devices."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    return torch


@pytest.mark.parametrize("name, message", [
    ("cuda:abc", "--device must be auto, cpu, cuda or cuda:N"),
    ("cuda:-1", "--device must be auto, cpu, cuda or cuda:N"),
    ("cuda:", "--device must be auto, cpu, cuda or cuda:N"),
    ("gpu", "--device must be auto, cpu, cuda or cuda:N"),
    ("cuda:2", "--device cuda:2: only 2 CUDA device(s)"),
])
def test_bad_devices_on_a_cuda_machine(two_gpus, name, message):
    from incprof.errors import UsageError
    from incprof.nn.latency import resolve_device

    with pytest.raises(UsageError, match=re.escape(message)):
        resolve_device(name)
    result = invoke("table", "--spec", str(DATA / "tiny.yaml"), "--latency", "--device", name,
                    "--no-verify")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_good_devices_on_a_cuda_machine(two_gpus):
    from incprof.nn.latency import resolve_device

    torch = two_gpus
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("auto").type == "cuda"


def _tiny_latency(*extra):
    return invoke("table", "--spec", str(DATA / "tiny.yaml"), "--latency", "--device", "cpu",
                  "--warmup", "1", "--repeats", "1", "--no-verify", "-f", "json", *extra)


@pytest.mark.parametrize("make_error", [
    lambda exc, ind: exc.BackendCompilerFailed(lambda: None, ind.InvalidCxxCompiler(), None),
    lambda exc, ind: ind.CppCompileError(["cc", "x.cpp"], "x.cpp:1: error: something"),
])
def test_compile_failures_suggest_dropping_compile(monkeypatch, make_error):
    torch = pytest.importorskip("torch")
    from torch._dynamo import exc
    from torch._inductor import exc as ind

    def failing_compile(model, *args, **kwargs):
        raise make_error(exc, ind)

    monkeypatch.setattr(torch, "compile", failing_compile)
    result = _tiny_latency("--compile")
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --compile failed (") and "drop --compile" in line


@pytest.mark.parametrize("error, code, message", [
    (NotImplementedError("\"slow_conv2d_cpu\" not implemented for 'Half'"), 2,
     "error: --dtype fp16 does not run on cpu for this network: \"slow_conv2d_cpu\" not "
     "implemented for 'Half'"),
    (RuntimeError("Given groups=1, weight of size [4, 3, 3, 3], expected input"), 1,
     "error: internal error: RuntimeError: Given groups=1"),
])
def test_only_the_unsupported_dtype_error_is_a_dtype_message(monkeypatch, error, code, message):
    torch = pytest.importorskip("torch")

    def failing(self, x):
        raise error

    monkeypatch.setattr(torch.nn.Conv2d, "forward", failing)
    result = _tiny_latency("--dtype", "fp16")
    assert result.exit_code == code
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


# ---- discoverable
def test_version_and_short_help():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout == f"incprof {version('incprof')}\n"
    for args in (("-h",), ("table", "-h")):
        result = invoke(*args)
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_compare_help_lists_every_variant():
    from incprof.spec.variants import VARIANTS

    result = invoke("compare", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert [name for name in VARIANTS if name not in text] == []


def test_flags_render_as_flags():
    for command in ("table", "compare", "report", "sweep", "bench", "factorize"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "--help" in result.stdout
        assert "<bool>" not in result.stdout, command


def test_progress_labels_name_each_step():
    pytest.importorskip("torch")
    from incprof.nn.latency import TimingOptions
    from incprof.analysis.profile import profile_records
    from incprof.spec.registry import resolve

    labels = []
    profile_records(str(DATA / "tiny.yaml"), verify=True, progress=labels.append,
                    latency=TimingOptions(device="cpu", warmup=1, repeats=1))
    assert [row.name for row in resolve(str(DATA / "tiny.yaml")).rows] == [
        "conv", "pool", "mixed", "gap", "fc"]
    # the whole network and every row, in five rounds
    rounds = [f"timing {part} (round {n} of 5)" for n in range(1, 6)
              for part in ["the whole network"] + [f"row {row}" for row in
                                                   ("conv", "pool", "mixed", "gap", "fc")]]
    assert labels == ["counting with FlopCounterMode's formulas on an empty batch", *rounds]


def test_every_json_writes_text_as_it_is(tmp_path):
    """One JSON writer (render.json_text): non-ASCII text appears as itself, UTF-8, in every
    command's JSON, as it does in the other formats."""
    title = "Tïny × 名前"
    spec = tmp_path / "tiny.yaml"
    spec.write_text((DATA / "tiny.yaml").read_text(encoding="utf-8").replace(
        "Tiny hand-worked spec", title), encoding="utf-8")
    for args in (["table", "--spec", str(spec), "--no-verify"],
                 ["compare", "googlenet", str(spec), "--no-verify", "--level", "network"],
                 ["diff", "googlenet", str(spec)], ["sweep", "--spec", str(spec)]):
        result = invoke(*args, "-f", "json")
        assert result.exit_code == 0, result.output
        assert title in result.stdout and "\\u" not in result.stdout, args
        assert title in json.dumps(json.loads(result.stdout), ensure_ascii=False), args


def test_plot_names_the_characters_its_font_lacks_in_one_line(tmp_path):
    """A row name the font cannot draw: the figure is written, with one note naming the
    characters instead of matplotlib's two-line warning per glyph and draw."""
    spec = tmp_path / "odd.yaml"
    spec.write_text((DATA / "tiny.yaml").read_text().replace("- name: conv\n",
                                                             "- name: \"conv\\U0006C2C8\"\n", 1))
    plot = tmp_path / "odd.svg"
    result = invoke("table", "--spec", str(spec), "--no-verify", "--plot", str(plot))
    assert result.exit_code == 0, result.stderr
    assert plot.read_text().startswith("<?xml")
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes == [f"note: the font has no glyph for \\U0006c2c8; {plot} draws them as empty "
                     "boxes"]
    assert "UserWarning" not in result.stderr
