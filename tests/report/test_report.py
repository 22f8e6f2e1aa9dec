"""Reports: reproducible, self-describing, and carrying the figures they cite."""

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")

from conftest import fresh_check
from incprof.report.reports import REGENERATE, inception_v3_report


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.peers
def test_the_report_set_is_the_committed_one(report_folder):
    """A fresh report set, written in this process, is reports/ byte for byte: the committed files
    were written by other processes, on other days (reports/latency/ holds timings: not compared)."""
    reports = ROOT / "reports"
    committed = [p.relative_to(reports) for p in sorted(reports.rglob("*")) if p.is_file()]
    committed = [p for p in committed if p.parts[0] != "latency"]
    assert sorted(p.relative_to(report_folder) for p in report_folder.rglob("*") if p.is_file()) == committed
    for path in committed:
        assert (report_folder / path).read_bytes() == (reports / path).read_bytes(), path


@pytest.mark.slow
@pytest.mark.peers
def test_report_states_summary_conventions_and_command(report_folder):
    out, text = report_folder, (report_folder / "googlenet.md").read_text()
    summary = text.split("\n\n")[2]
    assert "6,998,552 parameters" in summary and "1,582,671,872 MACs" in summary
    assert "2,712 params" in summary and "6,624,904" in summary
    assert "## Conventions" in text and "multiply-accumulates" in text
    assert REGENERATE in text
    for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (out / figure).read_text().startswith("<?xml"), figure


def test_v3_report_checks_the_papers_claims(tmp_path):
    text = inception_v3_report(tmp_path)
    assert "27,161,264" in text and "23,834,568" in text and "5,713,216,096" in text
    assert "conv_3b" in text and "deviation" not in text.split("## The table")[0]


def test_committed_reports_cite_existing_figures():
    reports = ROOT / "reports"
    for md in reports.glob("*.md"):
        for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md.read_text()):
            assert (reports / figure).exists(), (md.name, figure)


@pytest.mark.parametrize("arch, name", [
    ("googlenet", "googlenet"), ("inception_v3", "inception_v3"),
    ("../../etc/x.yaml", "x"), ("/tmp/a b/my net.yml", "my-net"), ("sub/dir/spec", "spec"),
    ("...", "spec"), (".yaml", "yaml"),
])
def test_latency_report_names_stay_inside_the_folder(arch, name):
    from incprof.report.latency import latency_stem

    assert latency_stem(arch, "Intel(R) Xeon(R)", "fp32", 8) == f"{name}-intel-r-xeon-r-fp32-b8"
# ---- the conventions block and footnotes follow the run's metadata
from conftest import DATA  # noqa: E402
from incprof.render import compare as render_compare
from incprof.report import document
from incprof.report import reports as report
from incprof.report import latency as report_latency
from incprof.analysis.claims import check_claims
from incprof.analysis.profile import profile_records
from incprof.spec.registry import resolve
from incprof.analysis.sweep import sweep_records

TINY = str(DATA / "tiny.yaml")


def test_conventions_follow_the_cross_check_batch_and_aux():
    verified = document.conventions([profile_records(TINY, verify=True)])
    assert "Every count is computed twice" in verified and "did not run" not in verified
    assert "batch size 1: MACs are per image" in verified
    assert "Auxiliary heads (head, after pool)" in verified
    assert "'The last row' in the totals is `fc`" in verified
    plain = document.conventions([profile_records(TINY, aux=False, batch_size=8)])
    assert "FlopCounterMode did not run" in plain and "computed twice" not in plain
    assert "whole batch of 8" in plain and "Auxiliary" not in plain
    mixed = document.conventions([profile_records(TINY, verify=True), profile_records(TINY)])
    assert "FlopCounterMode re-counted 1 of the 2 tables" in mixed
    assert "saved = 1 - B/A" not in mixed


def test_latency_report_conventions_say_the_cross_check_did_not_run(tmp_path, monkeypatch):
    from incprof.nn.latency import TimingOptions

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    path = report_latency.latency_report(TINY, tmp_path, 1, TimingOptions(device="cpu", warmup=1,
                                                                   repeats=2))
    assert path.parent == tmp_path / "latency" and path.name.startswith("tiny-")
    text = path.read_text()
    assert "FlopCounterMode did not run" in text and "computed twice" not in text
    assert "Auxiliary heads" not in text.split("## Per row")[0]


def test_sweep_footnote_says_whether_params_change():
    # GoogLeNet's fixed 7x7 average pool gives 2x2x1024 at 256, so the linear layer grows
    differ = render_compare.sweep_grid(sweep_records(resolve("googlenet"), [224, 256])).summary
    assert any("Params differ across these sizes" in s for s in differ)
    same = render_compare.sweep_grid(sweep_records(resolve("inception_v3"), [79, 299])).summary
    assert any("Params are the same at every valid size" in s for s in same)
    assert not any("differ" in s for s in same)


def test_v3_claims_verdicts():
    claims = {(c["claim"], c["source"]): c for c in check_claims(resolve("inception_v3"))}
    # torchvision publishes 27,161,264 params with the aux head; the head is 1x1 768 -> 128 + BN,
    # 5x5 128 -> 768 + BN and a linear 768 -> 1000: 3,326,696, leaving 23,834,568 < 25M.
    aux = 768 * 128 + 2 * 128 + 25 * 128 * 768 + 2 * 768 + 768 * 1000 + 1000
    without = claims[("fewer than 25 million parameters", "abstract")]
    with_aux = claims[("fewer than 25 million parameters", "abstract (counting the aux head)")]
    assert without["computed"] == 27_161_264 - aux < 25_000_000 and without["verdict"] == "holds"
    assert with_aux["computed"] == 27_161_264 and with_aux["verdict"] == "does not hold"
    # torchvision's 5.713 G rounds to 6, not 5
    macs = claims[("about 5 billion multiply-adds", "abstract")]
    assert macs["shown"] == "6G" and macs["verdict"] == "does not hold"
    vs_g1 = claims[("computation cost is only about 2.5 higher than that of GoogLeNet", "section 6")]
    assert vs_g1["shown"] == "3.6x" and vs_g1["verdict"] == "does not hold"


def test_v3_report_checks_bn_inception_only_with_its_table(tmp_path, monkeypatch):
    text = inception_v3_report(tmp_path)
    (row,) = [line for line in text.splitlines() if "Ioffe et al." in line]
    assert "does not hold" in row and "not checked" not in row
    monkeypatch.setattr("incprof.spec.registry.available", lambda: ["googlenet", "inception_v3"])
    text = inception_v3_report(tmp_path)
    (row,) = [line for line in text.splitlines() if "Ioffe et al." in line]
    assert "not checked: bn_inception is not in tables/ yet" in row


def test_v3_report_builds_the_low_resolution_experiment(tmp_path):
    text = inception_v3_report(tmp_path)
    section = text.split("## The low-resolution experiment")[1].split("\n## ")[0]
    assert "| lowres_79 | 79x79x3 |" in section and "| lowres_151 | 151x151x3 |" in section
    assert "Verdict: the claim does not hold" in section  # lowres_79 is 6.15% cheaper
    assert "-6.15%" in section
    assert "not the paper's experiment" in text


def test_family_report_has_every_network_and_its_claims(tmp_path):
    from incprof.spec.registry import available

    text = report.family_report(tmp_path)
    table = text.split("## Side by side")[1].split("\n## ")[0]
    for name in available():
        assert f"| {name} |" in table
        if resolve(name).claims:
            assert f"### {name}:" in text
    assert (tmp_path / "family-params-vs-macs.svg").read_text().startswith("<?xml")
    # Xception's Table 3 figure for itself holds; its figure for Inception-v3 does not
    assert "| Xception: 22,855,952 parameters | Table 3 |" in text
    row = next(line for line in text.splitlines() if line.startswith("| Inception V3: 23,626,728"))
    assert "| does not hold | inception_v3, paper flavour" in row


def test_reports_load_each_builtin_table_once(tmp_path, monkeypatch):
    """The family and v3 reports name each table many times (profiles, claims, ratios): each
    built-in YAML file is read once."""
    from incprof.spec import registry as spec_module

    spec_module._builtin.cache_clear()
    loads = []
    original = spec_module.load_spec
    monkeypatch.setattr(spec_module, "load_spec", lambda path: loads.append(str(path)) or
                        original(path))
    report.family_report(tmp_path)
    report.inception_v3_report(tmp_path)
    assert loads and len(loads) == len(set(loads))
    spec_module._builtin.cache_clear()


REPORT = fresh_check(
    "report: incprof report",
    "import os, sys; from typer.testing import CliRunner; from incprof.cli.app import app; "
    "r = CliRunner().invoke(app, ['report', '--out', folder]); "
    "assert r.exit_code == 0, r.output; "
    "assert 'pandas' not in sys.modules, 'pandas imported'; value = sorted(os.listdir(folder))",
    forbid=("pandas",))


def test_report_command_renders_without_pandas(fresh):
    """`incprof report` builds its tables and figures from plain records: pandas is never imported
    (the Python API's DataFrames are the only use of it)."""
    result = fresh[REPORT]
    assert result.get("imported") == [], result
    assert {"family.md", "googlenet-rows.svg"} <= set(result["value"])
