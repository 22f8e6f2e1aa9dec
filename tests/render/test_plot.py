"""Figures are written, are the format asked for, and are byte-for-byte reproducible."""

import hashlib

import pytest

from conftest import fresh_check
from incprof.analysis.compare import compare_modules_records, resolve_side
from incprof.errors import UsageError
from incprof.render.plot import NothingToPlot, module_macs_bars


@pytest.fixture(scope="module")
def modules():
    return compare_modules_records(resolve_side("naive"), resolve_side("reduced"),
                                   labels=("naive", "reduced"))


PLOTS = fresh_check(
    "render: naive vs reduced module plot",
    "import hashlib; from pathlib import Path\n"
    "from incprof.analysis.compare import compare_modules_records, resolve_side\n"
    "from incprof.render.plot import module_macs_bars\n"
    "modules = compare_modules_records(resolve_side('naive'), resolve_side('reduced'),\n"
    "                                  labels=('naive', 'reduced'))\n"
    "value = {}\n"
    "for suffix in ('.png', '.svg'):\n"
    "    module_macs_bars(modules, Path(folder) / f'm{suffix}')\n"
    "    value[suffix] = hashlib.sha256((Path(folder) / f'm{suffix}').read_bytes()).hexdigest()")


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_module_plot_is_reproducible(tmp_path, modules, suffix, magic, fresh):
    """Another process (another hash seed, other addresses) writes the same bytes."""
    path = tmp_path / f"a{suffix}"
    module_macs_bars(modules, path)
    assert path.read_bytes().startswith(magic)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert fresh[PLOTS].get("value", {}).get(suffix) == digest, fresh[PLOTS]


def test_svg_names_axes_and_units(tmp_path, modules):
    path = tmp_path / "m.svg"
    module_macs_bars(modules, path)
    text = path.read_text()
    assert "MACs (millions, batch 1)" in text and "naive vs reduced" in text


def test_unknown_plot_format(tmp_path, modules):
    with pytest.raises(UsageError, match=".png or .svg"):
        module_macs_bars(modules, tmp_path / "m.jpg")


def test_nothing_to_plot_is_a_clear_error(tmp_path):
    same = compare_modules_records(resolve_side("reduced"), resolve_side("reduced"))
    with pytest.raises(NothingToPlot, match="no rows in common"):
        module_macs_bars(same, tmp_path / "m.svg")
    assert not (tmp_path / "m.svg").exists()


# Degenerate specs: a table and a plot, or one line saying why there is no plot; never a traceback.
POOLS = """name: pools
title: Only pools
input: [3, 8, 8]
rows:
  - {name: pool, type: max pool, layers: [{maxpool: {kernel: 2, stride: 2}}]}
  - {name: gap, type: global avg pool, layers: [{global_avgpool: {}}]}
"""
LINEAR = """name: fc
title: No conv
input: [3, 8, 8]
rows:
  - {name: gap, type: global avg pool, layers: [{global_avgpool: {}}]}
  - {name: fc, type: linear, layers: [{linear: {out: 5}}]}
"""


def invoke(*args):
    from typer.testing import CliRunner

    from incprof.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def test_zero_macs_table_says_why_no_plot(tmp_path, write_spec):
    spec, plot = write_spec(POOLS), tmp_path / "p.svg"
    result = invoke("table", "--spec", spec, "--no-verify", "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "gap" in result.stdout and "params 0" in result.stdout
    assert result.stderr.strip().splitlines() == [f"no plot written to {plot}: no row has MACs "
                                                  "(no conv or linear layer outside the aux heads)"]
    assert not plot.exists()


def test_no_conv_table_plots_the_linear_layer(tmp_path, write_spec):
    plot = tmp_path / "f.svg"
    result = invoke("table", "--spec", write_spec(LINEAR), "--no-verify", "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "<!-- linear -->" in plot.read_text()


@pytest.mark.parametrize("level", ["module", "network"])
def test_zero_macs_compare_says_why_no_plot(tmp_path, write_spec, level):
    a, b = write_spec(POOLS, "a.yaml"), write_spec(LINEAR, "b.yaml")
    plot = tmp_path / "c.svg"
    result = invoke("compare", "--spec", a, "--spec", b, "--no-verify", "--level", level,
                    "--plot", plot)
    assert result.exit_code == 0, result.output
    assert "total" in result.stdout and not plot.exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "no plot written" in result.stderr


@pytest.mark.parametrize("text, last", [(POOLS, "gap"), (LINEAR, "fc")])
def test_sweep_without_conv(write_spec, text, last):
    """With no conv, the feature-map column is the last row's."""
    result = invoke("sweep", "--spec", write_spec(text), "--sizes", "4,8")
    assert result.exit_code == 0, result.output
    assert "8x8x3" in result.stdout and f"{last} output" in result.stdout


def test_network_level_plot_draws_the_network(tmp_path):
    plot = tmp_path / "n.svg"
    result = invoke("compare", "naive", "reduced", "--level", "network", "--no-verify",
                    "--plot", plot)
    assert result.exit_code == 0, result.output
    text = plot.read_text()
    assert "row, whole networks" in text and "<!-- conv1 -->" in text
    assert "Inception module" not in text


def test_unwritable_plot_extension_is_refused_before_the_work(tmp_path):
    missing = tmp_path / "missing.yaml"  # reading it would fail: the plot check comes first
    result = invoke("table", "--spec", missing, "--plot", "out/x.jpg")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: plot file out/x.jpg must end in .png or .svg"


def test_latency_plot_has_every_row_and_no_overlapping_labels(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from conftest import DATA
    from incprof.render import plot as plot_module
    from incprof.nn.latency import TimingOptions
    from incprof.analysis.profile import profile_records

    df = profile_records(str(DATA / "tiny.yaml"), latency=TimingOptions(device="cpu", warmup=1,
                                                                        repeats=3))
    figures = []
    real = plot_module.save_figure
    monkeypatch.setattr(plot_module, "save_figure",
                        lambda fig, path: (figures.append(fig), fig.canvas.draw(),
                                           _boxes(fig, figures), real(fig, path)))
    path = tmp_path / "l.svg"
    plot_module.latency_vs_macs(df, path)
    labels, boxes = figures[1]
    assert labels == ["conv", "pool", "mixed", "gap", "fc"]  # the pools too, in network order
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert path.read_text().startswith("<?xml")


def _boxes(fig, figures):
    ax = fig.axes[0]
    ticks = [t for t in ax.get_yticklabels() if t.get_text()]
    figures.append(([t.get_text() for t in ticks], [t.get_window_extent() for t in ticks]))
