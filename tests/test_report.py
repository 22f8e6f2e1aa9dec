"""Reports: reproducible, self-describing, and carrying the figures they cite."""

import re

import pytest

pytest.importorskip("torch")

from incprof.report import REGENERATE, googlenet_report, inception_v3_report  # noqa: E402


@pytest.fixture(scope="module")
def googlenet_md(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    return out, googlenet_report(out)


def test_report_is_reproducible(googlenet_md, tmp_path):
    _, text = googlenet_md
    assert googlenet_report(tmp_path) == text


def test_report_states_summary_conventions_and_command(googlenet_md):
    out, text = googlenet_md
    summary = text.split("\n\n")[2]
    assert "6,998,552 parameters" in summary and "1,582,671,872 MACs" in summary
    assert "2,712 params" in summary and "6,624,904" in summary
    assert "## Conventions" in text and "multiply-accumulates" in text
    assert REGENERATE in text
    for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (out / figure).read_text().startswith("<?xml"), figure


def test_v3_report_checks_the_papers_claims(tmp_path):
    text = inception_v3_report(tmp_path)
    assert "27,161,264" in text and "23.8M" in text and "5.71 G" in text
    assert "conv_3b" in text and "deviation" not in text.split("## The table")[0]


def test_committed_reports_cite_existing_figures():
    from pathlib import Path

    reports = Path(__file__).resolve().parent.parent / "reports"
    for md in reports.glob("*.md"):
        for figure in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md.read_text()):
            assert (reports / figure).exists(), (md.name, figure)


@pytest.mark.parametrize("arch, name", [
    ("googlenet", "googlenet"), ("inception_v3", "inception_v3"),
    ("../../etc/x.yaml", "x"), ("/tmp/a b/my net.yml", "my-net"), ("sub/dir/spec", "spec"),
    ("...", "spec"), (".yaml", "yaml"),
])
def test_latency_report_names_stay_inside_the_folder(arch, name):
    from incprof.report import latency_stem

    assert latency_stem(arch, "Intel(R) Xeon(R)", "fp32", 8) == f"{name}-intel-r-xeon-r-fp32-b8"
