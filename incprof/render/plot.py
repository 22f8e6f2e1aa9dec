"""Matplotlib figures (headless). Presentation only: they take Records, and save reproducibly."""

from __future__ import annotations

import io
import math
from pathlib import Path

from ..errors import UsageError
from ..records import Records
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


def save_figure(fig, path: str | Path) -> None:
    """Save ``fig`` atomically as PNG or SVG, without timestamps or version stamps, so the same
    figure gives the same bytes."""
    from ..files import write_atomic

    path = Path(path)
    check_plot_path(path)
    suffix = path.suffix.lower()
    metadata = {"Software": None} if suffix == ".png" else {"Date": None, "Creator": None}
    # The tight crop, measured with Agg's text metrics: the SVG backend's measure each label as a
    # path, which doubles the time to save an SVG. Agg's hinted glyphs measure slightly wider, so
    # the crop keeps a few points more margin.
    crop = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)  # savefig's default pad
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


def macs_by_kind_bars(profile: Records, path: str | Path) -> None:
    """Stacked bars of MACs per row (rows with MACs only), split by conv kind (a profile)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if not r["aux"] and r["macs"] > 0]
    if not rows:
        raise NothingToPlot("no row has MACs (no conv or linear layer outside the aux heads)")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.8))
    bottom = [0.0] * len(rows)
    x = list(range(len(rows)))
    for column, (label, color) in KIND_COLORS.items():
        values = [r[column] / 1e6 for r in rows]
        if any(values):
            ax.bar(x, values, 0.7, bottom=bottom, label=label, color=color)
            bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylim(0, max(bottom) * 1.08)
    ax.set_xticks(x, [plot_label(r["row"]) for r in rows], rotation=45, ha="right")
    ax.set_xlabel("row")
    ax.set_ylabel(f"MACs (millions, batch {meta['batch_size']})")
    total = profile.attrs["totals"]["macs"]
    ax.set_title(f"{plot_label(meta['title'])}: MACs per row by conv kind "
                 f"({total / 1e9:.2f} G in all)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
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
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = list(range(len(labels)))
    bars = ax.bar(x, ours, 0.6, color="#1b9e77", label="computed by incprof")
    ax.bar_label(bars, labels=[f"{v:.1f}%" for v in ours], fontsize=8, padding=2)
    marks = [(i, v) for i, v in enumerate(paper) if v is not None]
    ax.scatter([i for i, _ in marks], [v for _, v in marks], color="black", marker="_", s=600,
               linewidths=2, zorder=3, label="stated in the v3 paper")
    ax.set_xticks(x, labels, rotation=20, ha="right")
    ax.set_ylabel("MACs saved (%)")
    ax.set_ylim(0, 100)
    meta = rules.attrs["meta"]
    ax.set_title(f"MACs saved per factorization ({meta['cin']} -> {meta['cout']} channels, per "
                 "output position)\nand per grid reduction (against conv then pool)")
    ax.legend(loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    save_figure(fig, path)


def rows_params_macs_bars(profile: Records, path: str | Path) -> None:
    """Two panels of per-row bars: params and MACs (rows with parameters, aux heads excluded)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if not r["aux"] and r["params"] > 0]
    if not rows:
        raise NothingToPlot("no row has parameters")
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)
    x = list(range(len(rows)))
    for ax, column, label, color in ((top, "params", "params (millions)", "#7570b3"),
                                     (bottom, "macs", f"MACs (millions, batch "
                                                      f"{meta['batch_size']})", "#d95f02")):
        values = [r[column] / 1e6 for r in rows]
        bars = ax.bar(x, values, 0.7, color=color)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v < 10 else f"{v:.0f}" for v in values],
                     fontsize=7, padding=2)
        ax.set_ylabel(label)
        ax.set_ylim(0, max(values) * 1.15 or 1)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    bottom.set_xticks(x, [plot_label(r["row"]) for r in rows], rotation=45, ha="right")
    bottom.set_xlabel("row")
    t = profile.attrs["totals"]
    top.set_title(f"{plot_label(meta['title'])}: params and MACs per row "
                  f"({t['params'] / 1e6:.2f}M params, {t['macs'] / 1e9:.2f} G MACs, no aux heads)")
    save_figure(fig, path)


def paper_vs_measured_bars(profile: Records, path: str | Path) -> None:
    """Per row, the paper's printed params and ops beside incprof's (log scale, rows the paper
    prints figures for)."""
    meta = profile.attrs["meta"]
    rows = [r for r in profile.rows if r["paper_params"] is not None or r["paper_ops"] is not None]
    if not rows:
        raise NothingToPlot("the spec prints no params or ops to compare with")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    x = list(range(len(rows)))
    width = 0.4
    for ax, ours, paper, label in ((axes[0], "params", "paper_params", "params"),
                                   (axes[1], "macs", "paper_ops", "MACs (paper: ops)")):
        ax.bar([i - width / 2 for i in x], [int(r[paper] or 0) for r in rows], width,
               label="printed in the paper", color="#bbbbbb")
        ax.bar([i + width / 2 for i in x], [r[ours] for r in rows], width,
               label="computed by incprof", color="#1b9e77")
        ax.set_yscale("log")
        ax.set_xticks(x, [plot_label(r["row"].replace("inception_", "")) for r in rows],
                      rotation=45, ha="right")
        ax.set_ylabel(f"{label}, per image (log scale)")
        ax.set_xlabel("row")
        for i, flag in enumerate(r["flag"] for r in rows):
            if isinstance(flag, str):
                ax.annotate("flagged", (i, ax.get_ylim()[1]), ha="center", va="top", fontsize=7,
                            color="#d95f02")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[0].legend(loc="lower right", fontsize=8)
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


def family_params_macs(family: Records, path: str | Path) -> None:
    """The family on one chart: params against MACs per image (log-log), one labelled point per
    network, each at its own input size (a ``report.family_records``)."""
    rows = family.rows
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    params = [r["params"] / 1e6 for r in rows]
    macs = [r["macs"] / 1e9 for r in rows]
    ax.scatter(macs, params, color="#1b9e77", s=40, zorder=3)
    placed: list[tuple[float, float]] = []
    for x, y, name, year in sorted(zip(macs, params, (r["arch"] for r in rows),
                                       (r["year"] for r in rows))):
        # a label near earlier ones (within a quarter decade across, 0.08 up) steps down a line
        # and is tied to its point by a leader line
        crowd = sum(abs(math.log10(x / px)) < 0.25 and abs(math.log10(y / py)) < 0.08
                    for px, py in placed)
        placed.append((x, y))
        ax.annotate(f"{name} ({year})", (x, y), textcoords="offset points",
                    xytext=(6 + 14 * bool(crowd), 4 - 13 * crowd), fontsize=8,
                    arrowprops=dict(arrowstyle="-", color="#999999", linewidth=0.6,
                                    shrinkA=0, shrinkB=3) if crowd else None)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per image (G, conv and linear, at the network's own input size)")
    ax.set_ylabel("params (millions, no aux heads)")
    ax.set_title("The Inception family: params against MACs (inference, paper flavour)")
    ax.grid(which="both", alpha=0.3)
    ax.set_axisbelow(True)
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
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("incprof's prediction for the tool (G, the tool's own unit)")
    ax.set_ylabel("the tool's reported total (G)")
    ax.set_title("Peer counters: reported against predicted (batch 1, each network's own input)")
    ax.grid(which="both", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(fontsize=8)
    save_figure(fig, path)
