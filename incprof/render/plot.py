"""Matplotlib figures (headless). Presentation only: they take Records, and save reproducibly."""

from __future__ import annotations

import io
from pathlib import Path

from ..errors import UsageError
from ..records import Records
from ..units import human
from .text import plot_label

FORMATS = (".png", ".svg")


class NothingToPlot(UsageError):
    """The data has nothing a figure could show (no rows, or no MACs); the reason is one line."""


def check_plot_path(path: str | Path) -> None:
    """Refuse a plot path whose extension matplotlib is not asked to write (.png or .svg), before
    any work is done."""
    if Path(path).suffix.lower() not in FORMATS:
        raise UsageError(f"plot file {path} must end in .png or .svg")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # usetex off whatever a matplotlibrc says: user text goes through text.plot_label instead.
    plt.rcParams.update({"svg.hashsalt": "incprof", "font.size": 10, "text.usetex": False})
    return plt


def figure_crop(fig):
    """The area of ``fig`` that save_figure writes, in inches: the figure laid out (a layout
    engine runs at draw time), then cropped to what it draws."""
    fig.draw_without_rendering()
    # The tight crop, measured with Agg's text metrics: the SVG backend's measure each label as a
    # path, which doubles the time to save an SVG. Agg's hinted glyphs measure slightly wider, so
    # the crop keeps a few points more margin.
    return fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)  # savefig's default pad


def save_figure(fig, path: str | Path) -> None:
    """Save ``fig`` atomically as PNG or SVG, without timestamps or version stamps, so the same
    figure gives the same bytes."""
    from ..files import write_atomic

    path = Path(path)
    check_plot_path(path)
    suffix = path.suffix.lower()
    metadata = {"Software": None} if suffix == ".png" else {"Date": None, "Creator": None}
    crop = figure_crop(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix[1:], metadata=metadata, dpi=120, bbox_inches=crop)
    _pyplot().close(fig)
    write_atomic(path, buffer.getvalue())


def module_macs_bars(comparison: Records, path: str | Path) -> None:
    """Grouped bars of MACs per module for A and B (a module comparison), or per row with MACs on
    either side (a network comparison)."""
    meta, totals, rows = comparison.attrs["meta"], comparison.attrs["totals"], comparison.rows
    if not rows:
        raise NothingToPlot("the two sides have no rows in common whose layers differ")
    if meta["level"] != "module":
        rows = [r for r in rows if r["a_macs"] > 0 or r["b_macs"] > 0]
    if not any(r["a_macs"] or r["b_macs"] for r in rows):
        raise NothingToPlot("no row the two sides share has MACs (no conv or linear layer)")
    plt = _pyplot()
    names = [plot_label(r["row"].replace("inception_", "")) for r in rows]
    a = [r["a_macs"] for r in rows]
    b = [r["b_macs"] for r in rows]
    label_a, label_b = plot_label(meta["a"]), plot_label(meta["b"])
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = range(len(names))
    width = 0.4
    bars_a = ax.bar([i - width / 2 for i in x], [v / 1e6 for v in a], width, label=label_a,
                    color="#d95f02")
    bars_b = ax.bar([i + width / 2 for i in x], [v / 1e6 for v in b], width, label=label_b,
                    color="#1b9e77")
    if max(a + b) / max(1, min(v for v in a + b if v)) > 30:
        ax.set_yscale("log")
        plain_log(ax.yaxis, suffixes=False)
    for bars in (bars_a, bars_b):
        ax.bar_label(bars, labels=[f"{v.get_height():.0f}" for v in bars], fontsize=7, padding=2)
    ax.set_xticks(list(x), names)
    ax.set_xlabel("Inception module (each at its input shape in " + label_b + ")"
                  if meta["level"] == "module" else "row")
    ax.set_ylabel(f"MACs (millions, batch {meta['batch_size']})")
    what = "module" if meta["level"] == "module" else "row, whole networks"
    ax.set_title(f"MACs per {what}: {label_a} vs {label_b} "
                 f"({totals['a_macs'] / 1e9:.2f} G vs {totals['b_macs'] / 1e9:.2f} G in all, "
                 f"saved = 1 - B/A = {totals['macs_saving_pct']:.1f}%)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    save_figure(fig, path)


KIND_COLORS = {"macs_1x1": ("1x1 convs", "#66a61e"), "macs_nxn": ("n x n convs", "#7570b3"),
               "macs_1xn": ("1 x n / n x 1 convs", "#e7298a"), "macs_linear": ("linear", "#e6ab02")}


def plain_number(value: float, suffixes: bool = True) -> str:
    """A tick value as a plain number (0.5, 20, 1000), with ``suffixes`` K, M or G past a
    thousand (100K, 1M): for an axis of raw counts, not one already in millions."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if suffixes and abs(value) >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def plain_log(axis, suffixes: bool = True) -> None:
    """A log-scaled axis whose ticks read as plain numbers (2, 5, 10, 20, not 2x10^0; see
    plain_number): majors at 1, 2 and 5 times each power of ten (at powers of ten alone past two
    decades), no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    subs = (1.0,) if high > 100 * max(low, 1e-300) else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: plain_number(value, suffixes)))
    axis.set_minor_formatter(NullFormatter())


def _row_axes(plt, count: int, panels: int = 1, width: float = 10):
    """A figure of ``panels`` side by side sharing one row axis, tall enough for ``count`` row
    labels, rows in network order from the top."""
    fig, axes = plt.subplots(1, panels, sharey=True, figsize=(width, 1.6 + 0.2 * count),
                             squeeze=False, layout="constrained")
    axes = list(axes[0])
    axes[0].invert_yaxis()
    return fig, axes


def _end_labels(ax, bars, labels) -> None:
    """Each bar's value at its end, with room made for the longest label inside the axes."""
    ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
    low, high = ax.get_xlim()
    ax.set_xlim(low, high * 1.25)


def macs_by_kind_bars(profile: Records, path: str | Path) -> None:
    """Stacked bars of MACs per row (rows with MACs only), split by conv kind (a profile)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if not r["aux"] and r["macs"] > 0]
    if not rows:
        raise NothingToPlot("no row has MACs (no conv or linear layer outside the aux heads)")
    plt = _pyplot()
    fig, (ax,) = _row_axes(plt, len(rows))
    left = [0.0] * len(rows)
    y = list(range(len(rows)))
    for column, (label, color) in KIND_COLORS.items():
        values = [r[column] / 1e6 for r in rows]
        if any(values):
            ax.barh(y, values, 0.7, left=left, label=label, color=color)
            left = [b + v for b, v in zip(left, values)]
    ax.set_xlim(0, max(left) * 1.08)
    ax.set_yticks(y, [plot_label(r["row"]) for r in rows], fontsize=8)
    ax.set_xlabel(f"MACs (millions, batch {meta['batch_size']})")
    total = profile.attrs["totals"]["macs"]
    ax.set_title(f"{plot_label(meta['title'])}: MACs per row by conv kind "
                 f"({total / 1e9:.2f} G in all)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    save_figure(fig, path)


def savings_bars(rules: Records, grid: Records, path: str | Path) -> None:
    """Bars of the saving of each factorization rule (per output position) and of each grid
    reduction against conv-then-pool (lab.factorization_records and lab.grid_records), with the
    v3 paper's stated figures as markers."""
    plt = _pyplot()
    reductions = grid.rows[1:]  # the first form is conv then pool itself
    labels = [r["rule"] for r in rules.rows] + [f"grid: {g['form']}" for g in reductions]
    ours = [r["saving_per_position_pct"] for r in rules.rows] + [
        round((1 - g["relative_to_conv_then_pool"]) * 100, 1) for g in reductions]
    paper = [r["paper_saving_pct"] for r in rules.rows + reductions]
    fig, (ax,) = _row_axes(plt, len(labels) + 6, width=9)
    y = list(range(len(labels)))
    bars = ax.barh(y, ours, 0.6, color="#1b9e77", label="computed by incprof")
    ax.bar_label(bars, labels=[f"{v:.1f}%" for v in ours], fontsize=8, padding=4)
    marks = [(i, v) for i, v in enumerate(paper) if v is not None]
    ax.scatter([v for _, v in marks], [i for i, _ in marks], color="black", marker="|", s=400,
               linewidths=2, zorder=3, label="stated in the v3 paper")
    ax.set_yticks(y, labels)
    ax.set_xlabel("MACs saved (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(len(labels) + 1.2, -0.6)  # room for the legend under the bars
    meta = rules.attrs["meta"]
    ax.set_title(f"MACs saved per factorization ({meta['cin']} -> {meta['cout']} channels, per "
                 "output position)\nand per grid reduction (against conv then pool)")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    save_figure(fig, path)


def rows_params_macs_bars(profile: Records, path: str | Path) -> None:
    """Two panels of per-row bars, side by side: params and MACs (rows with parameters, aux
    heads excluded)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if not r["aux"] and r["params"] > 0]
    if not rows:
        raise NothingToPlot("no row has parameters")
    plt = _pyplot()
    fig, (left, right) = _row_axes(plt, len(rows), panels=2)
    y = list(range(len(rows)))
    for ax, column, label, color in ((left, "params", "params (millions)", "#7570b3"),
                                     (right, "macs", f"MACs (millions, batch "
                                                     f"{meta['batch_size']})", "#d95f02")):
        values = [r[column] / 1e6 for r in rows]
        bars = ax.barh(y, values, 0.7, color=color)
        ax.set_xlim(0, max(values) or 1)
        _end_labels(ax, bars, [human(r[column]) for r in rows])
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    left.set_yticks(y, [plot_label(r["row"]) for r in rows], fontsize=8)
    t = profile.attrs["totals"]
    fig.suptitle(f"{plot_label(meta['title'])}: params and MACs per row\n"
                 f"({t['params'] / 1e6:.2f}M params, {t['macs'] / 1e9:.2f} G MACs, no aux heads)")
    save_figure(fig, path)


def paper_vs_measured_bars(profile: Records, path: str | Path) -> None:
    """Per row, the paper's printed params and ops beside incprof's (log scale, rows the paper
    prints figures for; a flagged row's label says so)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if r["paper_params"] is not None or r["paper_ops"] is not None]
    if not rows:
        raise NothingToPlot("the spec prints no params or ops to compare with")
    plt = _pyplot()
    fig, axes = _row_axes(plt, 2 * len(rows), panels=2, width=11)
    y = list(range(len(rows)))
    height = 0.4
    for ax, ours, paper, label in (
            (axes[0], "params", "paper_params", "params (log scale)"),
            (axes[1], "macs", "paper_ops",
             f"MACs (paper: ops), batch {meta['batch_size']} (log scale)")):
        ax.barh([i - height / 2 for i in y], [int(r[paper] or 0) for r in rows], height,
                label="printed in the paper", color="#bbbbbb")
        ax.barh([i + height / 2 for i in y], [r[ours] for r in rows], height,
                label="computed by incprof", color="#1b9e77")
        ax.set_xscale("log")
        plain_log(ax.xaxis)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].set_yticks(y, [plot_label(r["row"].replace("inception_", "")) +
                           (" (flagged)" if isinstance(r["flag"], str) else "") for r in rows],
                       fontsize=8)
    axes[0].legend(loc="lower left", bbox_to_anchor=(0, 1.01), ncol=2, fontsize=8)
    fig.suptitle(f"{plot_label(meta['title'])}: the paper's params and ops against computed ones")
    save_figure(fig, path)


def latency_vs_macs(profile: Records, path: str | Path) -> None:
    """Per row, in network order, measured latency beside MACs: two bar panels sharing one row
    axis, so every row (pools included) has its own label and where time and work disagree
    shows."""
    meta = profile.attrs["meta"]
    env = meta["latency_env"]
    rows = [r for r in profile.rows if not r["aux"] and r["latency_ms"] is not None]
    if not rows:
        raise NothingToPlot("no row was timed")
    plt = _pyplot()
    y = list(range(len(rows)))
    fig, (left, right) = plt.subplots(1, 2, sharey=True, figsize=(10, 1.5 + 0.24 * len(rows)))
    left.barh(y, [r["latency_ms"] for r in rows], 0.7, color="#1b9e77")
    right.barh(y, [r["macs"] / 1e6 for r in rows], 0.7, color="#7570b3")
    left.set_yticks(y, [plot_label(r["row"]) for r in rows], fontsize=8)
    left.invert_yaxis()
    left.set_xlabel("latency (ms, median)")
    right.set_xlabel(f"MACs (millions, batch {meta['batch_size']})")
    for ax in (left, right):
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    fig.suptitle(f"{plot_label(meta['title'])}: latency and MACs per row\n"
                 f"{plot_label(env['device'])}, {env['dtype']}, batch {env['batch_size']}")
    save_figure(fig, path)


def place_labels(ax, points: list[tuple[float, float]], texts: list[str]) -> None:
    """Label each point beside it, trying spots round it, nearest first, and taking the first that
    overlaps no label placed before and stays inside the axes (the axes' limits must be set); a
    label set further off than the first ring is tied to its point by a thin line."""
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    spots = []
    for reach in (1, 2.5, 4.5, 6.5, 9):
        spots += [((6 * reach, 3 * reach), "left", "bottom"),
                  ((6 * reach, -3 * reach), "left", "top"),
                  ((-6 * reach, 3 * reach), "right", "bottom"),
                  ((-6 * reach, -3 * reach), "right", "top"),
                  ((0, 7 * reach), "center", "bottom"), ((0, -7 * reach), "center", "top")]
    placed = []
    for point, text in zip(points, texts):
        for offset, ha, va in spots:
            far = abs(offset[1]) > 7
            label = ax.annotate(text, point, textcoords="offset points", xytext=offset, ha=ha,
                                va=va, fontsize=8, arrowprops=dict(
                                    arrowstyle="-", color="#555555", linewidth=0.8, shrinkA=0,
                                    shrinkB=3) if far else None)
            box = _text_box(label, renderer)
            inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
            if inside and not any(box.overlaps(other) for other in placed):
                break
            label.remove()
        else:
            label = ax.annotate(text, point, textcoords="offset points", xytext=(6, 3),
                                fontsize=8)
            box = _text_box(label, renderer)
        placed.append(box)


def _text_box(label, renderer):
    """An annotation's text alone (not its leader line), in display units."""
    from matplotlib.text import Text

    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer).frozen()


def _log_limits(ax, xs: list[float], ys: list[float], room: float = 1.6) -> None:
    """Log-log limits with room round the points for their labels, ticks as plain numbers."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(min(xs) / room, max(xs) * room)
    ax.set_ylim(min(ys) / room, max(ys) * room)
    plain_log(ax.xaxis, suffixes=False)
    plain_log(ax.yaxis, suffixes=False)


def family_params_macs(family: Records, path: str | Path) -> None:
    """The family on one chart: params against MACs per image (log-log), one labelled point per
    network, each at its own input size (a ``report.family_records``)."""
    rows = family.rows
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    params = [r["params"] / 1e6 for r in rows]
    macs = [r["macs"] / 1e9 for r in rows]
    ax.scatter(macs, params, color="#1b9e77", s=40, zorder=3)
    _log_limits(ax, macs, params, room=2.2)
    ax.set_xlabel("MACs per image (G, conv and linear, at the network's own input size)")
    ax.set_ylabel("params (millions, no aux heads)")
    ax.set_title("The Inception family: params against MACs (inference, paper flavour)")
    ax.grid(which="both", alpha=0.3)
    ax.set_axisbelow(True)
    place_labels(ax, list(zip(macs, params)),
                 [f"{r['arch']} ({r['year']})" for r in rows])
    save_figure(fig, path)


def referee_scatter(rows: list[dict], path: str | Path) -> None:
    """Each peer's reported total against incprof's prediction for it (log-log), one marker per
    tool and network; every point on the diagonal is a residual of zero. ``rows`` are dicts with
    the keys tool, predicted and reported."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 6))
    markers = "osD^vP*X"
    for i, tool in enumerate(sorted({r["tool"] for r in rows})):
        group = [r for r in rows if r["tool"] == tool]
        ax.scatter([r["predicted"] / 1e9 for r in group], [r["reported"] / 1e9 for r in group],
                   marker=markers[i % len(markers)], s=36, alpha=0.8, label=tool, zorder=3)
    low = min(r["predicted"] for r in rows) / 1e9 / 1.2
    high = max(r["predicted"] for r in rows) / 1e9 * 1.2
    ax.plot([low, high], [low, high], color="#888888", linewidth=1, zorder=2,
            label="reported = predicted")
    _log_limits(ax, [low, high], [low, high], room=1.0)
    ax.set_xlabel("incprof's prediction for the tool (G, the tool's own unit)")
    ax.set_ylabel("the tool's reported total (G, the same unit)")
    ax.set_title("Peer counters: reported against predicted (batch 1, each network's own input)")
    ax.grid(which="both", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8)
    save_figure(fig, path)
