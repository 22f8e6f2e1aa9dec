"""Every figure incprof draws reads well: measured from the rendered text extents, no two labels
overlap, no label leaves the figure, a label inside an axes stays inside it, and no text is
rotated (so the extents are the text's own rectangles). Tick labels are plain numbers."""

from dataclasses import replace

import pytest

from incprof.analysis.blocks import row_blocks, sequence_block
from incprof.analysis.compare import compare_modules_records, compare_networks_records, resolve_side
from incprof.analysis.lab import factorization_records, grid_records
from incprof.analysis.profile import profile_records
from incprof.records import Records
from incprof.render import diagram, plot
from incprof.spec.registry import available, resolve

TOLERANCE = 0.5  # pixels: extents that share an edge do not overlap


def _drawn_texts(fig):
    """The visible, non-empty Text artists that a draw of ``fig`` paints (ticks outside the view,
    and every tick of an axes drawn without axes, are left out, as matplotlib leaves them out)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            shown = {id(t) for t in axis._update_ticks()} if ax.axison else set()
            if not ax.axison:
                hidden.update({id(axis.label), id(axis.offsetText)})
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if id(tick) not in shown:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()
            and id(t) not in hidden ]


def _text_extent(text, renderer):
    """The text's own box: an annotation's leader line is a line, not text."""
    from matplotlib.text import Annotation, Text

    if isinstance(text, Annotation):
        text.update_positions(renderer)
    return Text.get_window_extent(text, renderer)


def faults(fig) -> list[str]:
    """What makes ``fig`` hard to read, one line each (empty: nothing)."""
    crop = plot.figure_crop(fig).transformed(fig.dpi_scale_trans)  # what save_figure writes
    renderer = fig.canvas.get_renderer()
    texts = _drawn_texts(fig)
    boxes = [_text_extent(t, renderer) for t in texts]
    out = []
    for i, (text, bbox) in enumerate(zip(texts, boxes)):
        name = repr(text.get_text())
        if text.get_rotation() not in (0, 90):
            out.append(f"{name} is rotated {text.get_rotation()}")
        if (bbox.x0 < crop.x0 - 1 or bbox.x1 > crop.x1 + 1 or bbox.y0 < crop.y0 - 1
                or bbox.y1 > crop.y1 + 1):
            out.append(f"{name} leaves the figure")
        ax = text.axes
        inside = ax is not None and text in ax.texts
        frame = ax.bbox.padded(TOLERANCE) if ax is not None else None
        if inside and not (frame.contains(bbox.x0, bbox.y0) and frame.contains(bbox.x1, bbox.y1)):
            out.append(f"{name} runs past its axes")
        for other, obox in zip(texts[i + 1:], boxes[i + 1:]):
            width = min(bbox.x1, obox.x1) - max(bbox.x0, obox.x0)
            height = min(bbox.y1, obox.y1) - max(bbox.y0, obox.y0)
            if width > TOLERANCE and height > TOLERANCE:
                out.append(f"{name} overlaps {other.get_text()!r}")
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis) if ax.axison else ():
            for tick in axis._update_ticks():
                label = tick.label1.get_text()
                if any(mark in label for mark in ("$", "\\times", "×", "^", "e+", "e-")):
                    out.append(f"tick label {label!r} is not a plain number")
    return out


@pytest.fixture
def checked(monkeypatch):
    """Every figure saved while the test runs is checked as it is saved; yields the list of
    (path, faults)."""
    found = []
    original = plot.save_figure

    def save(fig, path):
        found.append((str(path), faults(fig)))
        original(fig, path)

    monkeypatch.setattr(plot, "save_figure", save)
    return found


def _latency_profile(arch):
    """A profile with latencies filled in (a figure of measured times, from made-up ones: the
    layout, not the numbers, is under test)."""
    profile = profile_records(arch, aux=False)
    rows = [{**r, "latency_ms": 0.05 + r["macs"] / 2e8} for r in profile.rows]
    meta = {**profile.attrs["meta"],
            "latency_env": {"device": "cpu (a test)", "dtype": "fp32", "batch_size": 1}}
    return Records(profile.columns, rows, {**profile.attrs, "meta": meta})


def _referee_rows():
    """Totals shaped like the referee's: each tool's unit on each network (reported equals
    predicted; the layout is under test)."""
    rows = []
    for name in available():
        t = profile_records(name, aux=False).attrs["totals"]
        for tool, value in (("fvcore", t["macs"]), ("flop_counter", 2 * t["macs"]),
                            ("ptflops", t["macs"] + t["other_ops"]), ("thop", t["macs"]),
                            ("torchinfo", t["macs"])):
            rows.append({"tool": tool, "predicted": value, "reported": value})
    return rows


def _plots(out):
    naive, reduced = resolve_side("naive"), resolve_side("reduced")
    modules = compare_modules_records(naive, reduced, labels=("naive", "reduced"))
    network = compare_networks_records(naive, reduced, labels=("naive", "reduced"))
    plot.module_macs_bars(modules, out / "modules.png")
    plot.module_macs_bars(replace(network, rows=[r for r in network.rows if r["a_macs"] > 0]),
                          out / "network.png")
    plot.savings_bars(factorization_records(), grid_records(), out / "savings.png")
    for arch in ("googlenet", "inception_v3", "inception_resnet_v2"):
        profile = profile_records(arch)
        plot.macs_by_kind_bars(profile, out / f"{arch}-kinds.png")
        plot.rows_params_macs_bars(profile, out / f"{arch}-rows.png")
        plot.latency_vs_macs(_latency_profile(arch), out / f"{arch}-latency.png")
    plot.paper_vs_measured_bars(profile_records("googlenet"), out / "googlenet-paper.png")
    from incprof.report.reports import family_records

    plot.family_params_macs(family_records(), out / "family.png")
    plot.referee_scatter(_referee_rows(), out / "referee.png")


def _diagrams(out):
    for name in available():
        spec = resolve(name)
        rows = row_blocks(spec)
        diagram.draw_network(spec.title, rows, out / f"{name}.png")
        drawn = set()  # every kind of module of every family network, once
        for row, kind, block in rows:
            if any(part.merge for part in block.parts) and kind not in drawn:
                drawn.add(kind)
                diagram.draw_module(f"{row}: {kind}", block, out / f"{name}-{row}.png")
    base = resolve("googlenet")
    (block,) = [b for n, _, b in row_blocks(base) if n == "inception_3a"]
    naive = sequence_block(resolve_side("naive").row("inception_3a").layers, block.in_shape)
    diagram.draw_module("inception_3a", block, out / "figure2.png", variant=("naive", naive))


@pytest.mark.slow
def test_every_plot_reads_well(tmp_path, checked):
    _plots(tmp_path)
    assert len(checked) == 15
    assert [(path, fault) for path, faults_ in checked for fault in faults_] == []


@pytest.mark.slow
def test_every_diagram_reads_well(tmp_path, checked):
    _diagrams(tmp_path)
    assert len(checked) >= 2 * len(available())
    assert [(path, fault) for path, faults_ in checked for fault in faults_] == []


def test_the_checker_finds_an_overlap_and_a_label_past_the_axes(tmp_path, checked):
    """The check can fail: two labels on one spot, one past the right edge of its axes."""
    fig = plot._pyplot().figure(figsize=(3, 2))
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.5, 0.5, "another")
    ax.text(0.95, 0.2, "past the edge")
    plot.save_figure(fig, tmp_path / "bad.png")
    (_, found), = checked
    assert "'one label' overlaps 'another'" in found
    assert "'past the edge' runs past its axes" in found
