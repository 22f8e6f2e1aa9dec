"""Matplotlib figures (headless). Presentation only: they take DataFrames, and save reproducibly."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from .errors import SpecError

FORMATS = (".png", ".svg")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "incprof", "font.size": 10})
    return plt


def save_figure(fig, path: str | Path) -> None:
    """Save ``fig`` atomically as PNG or SVG, without timestamps or version stamps, so the same
    figure gives the same bytes."""
    from .files import write_atomic

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise SpecError(f"plot file {path} must end in .png or .svg")
    metadata = {"Software": None} if suffix == ".png" else {"Date": None, "Creator": None}
    buffer = io.BytesIO()
    fig.savefig(buffer, format=suffix[1:], metadata=metadata, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    write_atomic(path, buffer.getvalue())


def module_macs_bars(df: pd.DataFrame, path: str | Path) -> None:
    """Grouped bars of MACs per module for A and B (a module comparison DataFrame)."""
    plt = _pyplot()
    meta = df.attrs["meta"]
    names = [n.replace("inception_", "") for n in df["row"]]
    a = [int(v) for v in df["a_macs"]]
    b = [int(v) for v in df["b_macs"]]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    x = range(len(names))
    width = 0.4
    bars_a = ax.bar([i - width / 2 for i in x], [v / 1e6 for v in a], width, label=meta["a"],
                    color="#d95f02")
    bars_b = ax.bar([i + width / 2 for i in x], [v / 1e6 for v in b], width, label=meta["b"],
                    color="#1b9e77")
    if max(a + b) / max(1, min(v for v in a + b if v)) > 30:
        ax.set_yscale("log")
    for bars in (bars_a, bars_b):
        ax.bar_label(bars, labels=[f"{v.get_height():.0f}" for v in bars], fontsize=7, padding=2)
    ax.set_xticks(list(x), names)
    ax.set_xlabel("Inception module (each at its input shape in " + meta["b"] + ")"
                  if meta["level"] == "module" else "row")
    ax.set_ylabel(f"MACs (millions, batch {meta['batch_size']})")
    total_a, total_b = df.attrs["totals"]["a_macs"], df.attrs["totals"]["b_macs"]
    ax.set_title(f"MACs per module: {meta['a']} vs {meta['b']} "
                 f"({total_a / 1e9:.2f} G vs {total_b / 1e9:.2f} G in all, "
                 f"{df.attrs['totals']['macs_saving_pct']:.0f}% saved)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    save_figure(fig, path)
