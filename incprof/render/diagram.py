"""Module diagrams drawn the way the Inception papers draw them, with their counts: the input at
the bottom, the branches side by side, the merge (concatenation, or a residual's scaled sum) on top;
each layer and branch annotated with its params and MACs, and a branch with its share of the
module. A whole network is a column of rows, each a compact box. Presentation only: the blocks
and their counts come from incprof.analysis.blocks; figures are saved by plot.save_figure.

Drawn with matplotlib on a canvas measured in points (1 unit = 1 pt), laid out here: boxes are
sized from Agg's own text metrics, so no label can overlap another or leave its box.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..analysis.blocks import Block
from ..spec.layers import (LRN, AdaptiveAvgPool, Conv, Dropout, GlobalAvgPool, Linear, Pool, ReLU,
                           Separable, Softmax)
from ..spec.shapes import format_shape
from ..units import human
from .text import plot_label

FONT = 8  # points
LINE = 10.5  # points between two lines of text
PAD = 4  # inside a box
GAP_X, GAP_Y = 12, 14  # between branches; between a box and the next
COLORS = {"conv": "#e5f5e0", "pool": "#deebf7", "merge": "#fdd0a2", "io": "#eeeeee",
          "other": "#f7f7f7"}


@lru_cache(maxsize=2048)
def text_width(text: str, bold: bool = False) -> float:
    """The width in points of ``text`` at FONT, measured with Agg's text metrics (the ones the
    figures are cropped with)."""
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(size=FONT, weight="bold" if bold else "normal")
    width, _, _ = _renderer().get_text_width_height_descent(text, prop, ismath=False)
    return width


@lru_cache(maxsize=1)
def _renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, 72)  # 72 dpi: one pixel is one point


@dataclass
class Laid:
    """A laid-out piece: its size in points and what to draw, in its own coordinates (origin at
    its bottom left); it is entered at its bottom centre and left at its top centre."""

    width: float
    height: float
    items: list = field(default_factory=list)

    def moved(self, dx: float, dy: float) -> list:
        """Its items shifted by (dx, dy)."""
        out = []
        for kind, *args in self.items:
            if kind == "box":
                x, y, w, h, lines, color = args
                out.append((kind, x + dx, y + dy, w, h, lines, color))
            elif kind == "line":
                x0, y0, x1, y1 = args
                out.append((kind, x0 + dx, y0 + dy, x1 + dx, y1 + dy))
            else:  # text: its centre, lines and size
                x, y, lines, w, h = args
                out.append((kind, x + dx, y + dy, lines, w, h))
        return out


def box(lines: list[tuple[str, bool]], color: str, width: float = 0.0) -> Laid:
    """A box around lines of (text, bold), at least ``width`` wide."""
    w = max([text_width(t, b) for t, b in lines] + [width - 2 * PAD]) + 2 * PAD
    h = LINE * len(lines) + 2 * PAD
    return Laid(w, h, [("box", 0.0, 0.0, w, h, lines, color)])


def label(lines: list[tuple[str, bool]]) -> Laid:
    """Unboxed lines on a white ground (a line passing behind them is hidden)."""
    w = max(text_width(t, b) for t, b in lines) + 2
    h = LINE * len(lines) + 2
    return Laid(w, h, [("text", w / 2, h / 2, lines, w, h)])


def stack(parts: list[Laid], gap: float = GAP_Y) -> Laid:
    """Parts one above the other, centred, the first at the bottom, joined by lines."""
    width = max(p.width for p in parts)
    items, y = [], 0.0
    for i, part in enumerate(parts):
        if i:
            items.append(("line", width / 2, y - gap, width / 2, y))
        items += part.moved((width - part.width) / 2, y)
        y += part.height + gap
    return Laid(width, y - gap, items)


def side_by_side(parts: list[Laid], merge: list[tuple[str, bool]],
                 notes: list[list[tuple[str, bool]]]) -> Laid:
    """Parallel parts between a fork and a merge bar as wide as they are, each with a note just
    below the merge (a branch's totals)."""
    notes_laid = [label(n) if n else None for n in notes]
    slots = [max(p.width, n.width if n else 0) for p, n in zip(parts, notes_laid)]
    width = sum(slots) + GAP_X * (len(parts) - 1)
    merge_box = box(merge, COLORS["merge"], width)
    width = max(width, merge_box.width)
    tallest = max(p.height for p in parts)
    note_height = max((n.height for n in notes_laid if n), default=0)
    fork = GAP_Y
    top = fork + tallest + GAP_Y / 2 + note_height + GAP_Y / 2
    items, x = [], (width - sum(slots) - GAP_X * (len(parts) - 1)) / 2
    centres = []
    for part, note, slot in zip(parts, notes_laid, slots):
        cx = x + slot / 2
        centres.append(cx)
        items += part.moved(cx - part.width / 2, fork)
        items.append(("line", cx, fork + part.height, cx, top))
        if note:
            items += note.moved(cx - note.width / 2, fork + tallest + GAP_Y / 2)
        items.append(("line", cx, fork / 2, cx, fork))
        x += slot + GAP_X
    items.append(("line", width / 2, 0.0, width / 2, fork / 2))
    if len(centres) > 1:
        items.append(("line", centres[0], fork / 2, centres[-1], fork / 2))
    items += merge_box.moved((width - merge_box.width) / 2, top)
    return Laid(width, top + merge_box.height, items)


def kernel_text(kernel, stride=(1, 1)) -> str:
    """'3x3', with '/2' for a stride of 2."""
    text = f"{kernel[0]}x{kernel[1]}"
    if tuple(stride) != (1, 1):
        text += f"/{stride[0]}" if stride[0] == stride[1] else f"/{stride[0]}x{stride[1]}"
    return text


def layer_text(layer) -> tuple[str, str]:
    """A layer's kind, kernel and filters as the papers label it, and its colour's key."""
    if isinstance(layer, Conv):
        groups = f", {layer.groups} groups" if layer.groups > 1 else ""
        bn = "+BN" if layer.bn_eps else ""
        return f"{kernel_text(layer.kernel, layer.stride)} conv{bn}, {layer.out}{groups}", "conv"
    if isinstance(layer, Separable):
        bn = "+BN" if layer.bn_eps else ""
        return f"{kernel_text(layer.kernel, layer.stride)} separable{bn}, {layer.out}", "conv"
    if isinstance(layer, Pool):
        return f"{kernel_text(layer.kernel, layer.stride)} {layer.kind} pool", "pool"
    if isinstance(layer, Linear):
        return f"linear, {layer.out}", "conv"
    if isinstance(layer, GlobalAvgPool):
        return "global avg pool", "pool"
    if isinstance(layer, AdaptiveAvgPool):
        return f"adaptive avg pool to {layer.size[0]}x{layer.size[1]}", "pool"
    if isinstance(layer, Dropout):
        return f"dropout {layer.p:.0%}", "other"
    if isinstance(layer, LRN):
        return f"LRN, size {layer.size}", "other"
    names = {ReLU: "ReLU", Softmax: "softmax"}
    return names.get(type(layer), type(layer).__name__), "other"


def counts_text(params: int, macs: int) -> str:
    """'110.6K params, 86.7M MACs'; a part without either says so."""
    if not params and not macs:
        return "no params, no MACs"
    return f"{human(params)} params, {human(macs)} MACs"


def share(part: int, whole: int) -> str:
    """A part's share of a whole, in whole percent ('<1%' for a small non-zero one)."""
    if not whole:
        return "0%"
    pct = 100 * part / whole
    return "<1%" if 0 < pct < 0.5 else f"{pct:.0f}%"


def merge_text(block: Block) -> list[tuple[str, bool]]:
    """The merge bar of a parallel block: the concatenation, or the residual sum with its
    scale, and the shape it gives."""
    shape = format_shape(block.out_shape)
    if block.merge == "concat":
        return [(f"concatenate channels: {shape}", True)]
    scale = "" if block.scale == 1 else f"{block.scale:g} x "
    relu = ", then ReLU" if block.relu else ""
    return [(f"sum: {scale}body + shortcut{relu}: {shape}", True)]


def lay_block(block: Block, whole: Block) -> Laid:
    """The detailed drawing of a block: a box per layer with its counts, branches side by side
    each noted with its totals and its share of ``whole``'s MACs."""
    if block.layer is not None:
        text, kind = layer_text(block.layer)
        return box([(text, True), (counts_text(block.params, block.macs), False)], COLORS[kind])
    if block.is_sequence:
        if not block.parts:
            return label([("identity", False)])
        return stack([lay_block(p, whole) for p in block.parts])
    names = ["body", "shortcut"] if block.merge == "sum" else ["branch"] * len(block.parts)
    notes = []
    for name, part in zip(names, block.parts):
        if part.params or part.macs:
            notes.append([(f"{name}: {counts_text(part.params, part.macs)}", False),
                          (f"{share(part.macs, whole.macs)} of the MACs, "
                           f"{share(part.params, whole.params)} of the params", False)])
        else:
            notes.append([])
    return side_by_side([lay_block(p, whole) for p in block.parts], merge_text(block), notes)


def module_laid(title: str, block: Block) -> Laid:
    """A row drawn in full: its input, its layers, and a title with its totals on top."""
    laid = stack([box([(f"input {format_shape(block.in_shape)}", True)], COLORS["io"]),
                  lay_block(block, block),
                  box([(f"output {format_shape(block.out_shape)}", True)], COLORS["io"])])
    head = label([(plot_label(title), True),
                  (f"{counts_text(block.params, block.macs)} per image", False)])
    return _titled(laid, head)


def _titled(laid: Laid, head: Laid) -> Laid:
    """``laid`` with ``head`` above it, unjoined."""
    width = max(laid.width, head.width)
    items = laid.moved((width - laid.width) / 2, 0.0)
    items += head.moved((width - head.width) / 2, laid.height + GAP_Y / 2)
    return Laid(width, laid.height + GAP_Y / 2 + head.height, items)


def beside(figures: list[Laid], gap: float = 3 * GAP_X) -> Laid:
    """Whole figures side by side, bottoms aligned, unjoined."""
    items, x = [], 0.0
    for laid in figures:
        items += laid.moved(x, 0.0)
        x += laid.width + gap
    return Laid(x - gap, max(f.height for f in figures), items)


def compact_text(block: Block) -> str:
    """A row's structure on one line: layers joined by arrows, branches in brackets split by
    bars, a residual as its sum."""
    if block.layer is not None:
        return layer_text(block.layer)[0]
    if block.is_sequence:
        return " > ".join(compact_text(p) for p in block.parts) or "identity"
    inner = " | ".join(compact_text(p) for p in block.parts)
    if block.merge == "concat":
        return f"[{inner}] concatenated"
    scale = "" if block.scale == 1 else f"{block.scale:g} x "
    body, shortcut = (compact_text(p) for p in block.parts)
    return f"sum of {scale}[{body}] and [{shortcut}]" + (", then ReLU" if block.relu else "")


def _runs(rows: list[tuple[str, str, Block]]) -> list[list[tuple[str, str, Block]]]:
    """Consecutive rows that repeat one another (same type, structure, counts and output), in
    runs: a network that stacks a module ten times draws it once, marked x10."""
    runs: list[list[tuple[str, str, Block]]] = []
    for row in rows:
        _, kind, block = row
        key = (kind, compact_text(block), block.params, block.macs, block.out_shape)
        if runs and (runs[-1][0][1], compact_text(runs[-1][0][2]), runs[-1][0][2].params,
                     runs[-1][0][2].macs, runs[-1][0][2].out_shape) == key:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def network_laid(title: str, rows: list[tuple[str, str, Block]]) -> Laid:
    """A whole network as a column of rows, bottom to top, each a compact box: its name, type
    and output shape, its structure on one line, its counts and its share of the network's
    MACs; a run of repeated rows is one box."""
    total_params = sum(b.params for _, _, b in rows)
    total_macs = sum(b.macs for _, _, b in rows)
    contents = []
    for run in _runs(rows):
        (name, kind, block), times = run[0], len(run)
        if times > 1:
            name = f"{name} to {run[-1][0]} ({times} times)"
        lines = [(plot_label(f"{name}: {kind}, output {format_shape(block.out_shape)}"), True)]
        if compact_text(block) != kind:
            lines.append((plot_label(compact_text(block)), False))
        if block.params or block.macs:
            each = "each " if times > 1 else ""
            lines.append((f"{each}{counts_text(block.params, block.macs)} "
                          f"({share(block.macs * times, total_macs)} of the network's MACs"
                          f"{' together' if times > 1 else ''})", False))
        merged = block.parts and any(p.merge for p in block.parts)
        contents.append((lines, COLORS["merge"] if merged else COLORS["conv"] if block.macs
                         else COLORS["pool"]))
    width = max(text_width(t, b) for lines, _ in contents for t, b in lines) + 2 * PAD
    first = rows[0][2].in_shape
    column = [box([(f"input {format_shape(first)}", True)], COLORS["io"], width)]
    column += [box(lines, color, width) for lines, color in contents]
    head = label([(plot_label(title), True),
                  (f"{counts_text(total_params, total_macs)} per image, no aux heads", False)])
    return _titled(stack(column, gap=GAP_Y / 2 + 2), head)


def draw_laid(laid: Laid, path: str | Path) -> None:
    """Draw a laid-out figure at one point per unit, and save it (plot.save_figure)."""
    from matplotlib.patches import Rectangle

    from .plot import _pyplot, save_figure

    plt = _pyplot()
    margin = 4
    fig = plt.figure(figsize=((laid.width + 2 * margin) / 72, (laid.height + 2 * margin) / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-margin, laid.width + margin)
    ax.set_ylim(-margin, laid.height + margin)
    ax.set_axis_off()
    for kind, *args in laid.items:
        if kind == "line":
            x0, y0, x1, y1 = args
            ax.plot([x0, x1], [y0, y1], color="#555555", linewidth=0.8, zorder=1)
        elif kind == "box":
            x, y, w, h, lines, color = args
            ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="#555555",
                                   linewidth=0.8, zorder=2))
            _lines(ax, x + w / 2, y + h / 2, lines)
        else:  # on a white ground that hides the lines passing behind it
            x, y, lines, w, h = args
            ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, facecolor="white",
                                   edgecolor="none", zorder=2))
            _lines(ax, x, y, lines)
    save_figure(fig, path)


def _lines(ax, x: float, y: float, lines) -> None:
    """Lines of text centred on (x, y), one below the other."""
    top = y + LINE * (len(lines) - 1) / 2
    for i, (text, bold) in enumerate(lines):
        ax.text(x, top - i * LINE, text, ha="center", va="center_baseline", fontsize=FONT,
                fontweight="bold" if bold else "normal", zorder=3)


def draw_module(title: str, block: Block, path: str | Path,
                variant: tuple[str, Block] | None = None) -> None:
    """One row drawn in full; with ``variant`` (its title and block, on the same input), that
    drawing first and the row beside it, as GoogLeNet's Figure 2 sets its two modules."""
    figures = [module_laid(title, block)]
    if variant is not None:
        figures.insert(0, module_laid(*variant))
    draw_laid(beside(figures), path)


def draw_network(title: str, rows: list[tuple[str, str, Block]], path: str | Path) -> None:
    """A whole network as a column of compact row boxes (see network_laid)."""
    draw_laid(network_laid(title, rows), path)
