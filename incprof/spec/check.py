"""A parsed spec checked against its own printed columns: output sizes, depths and patches. No torch."""

from __future__ import annotations

import re

from ..errors import SpecError
from .layers import Conv, Layer, Pool, Separable, leaves
from .model import ArchSpec, Row
from .shapes import Placed, depth, format_shape, place, walk


def printed_mismatches(row: Row, placed: Placed) -> list[str]:
    """Where the row's printed output size or patch disagrees with its layers (empty if none)."""
    found = []
    printed = row.printed
    if printed.output_size is not None:
        norm = printed.output_size.replace("×", "x").replace(" ", "")
        if norm != format_shape(placed.out_shape):
            found.append(f"printed output size {printed.output_size} but the layers give "
                         f"{format_shape(placed.out_shape)}")
    if printed.patch is not None and re.fullmatch(r"\d+[x×]\d+/\d+", printed.patch.strip()):
        patches = {f"{k[0]}x{k[1]}/{s[0]}" for k, s in _windows(row.layers)}
        if printed.patch.replace("×", "x").strip() not in patches:
            found.append(f"printed patch size/stride {printed.patch} matches no conv or pool in "
                         f"the row (found {', '.join(sorted(patches)) or 'none'})")
    return found


def check(spec: ArchSpec) -> None:
    """Compare inferred shapes, depths and patches with the printed columns. A row with a
    ``deviation`` must disagree with its printed columns, and says why."""
    for row, placed in zip(spec.rows, place(spec)):
        def fail(message: str) -> SpecError:
            return SpecError(message, path=spec.path, line=row.line, row=row.name)

        if row.printed.depth is not None and row.printed.depth != depth(row.layers):
            raise fail(f"printed depth {row.printed.depth} but the layers have "
                       f"{depth(row.layers)} layers with parameters on the longest path")
        if row.alternative:
            try:
                alt_shape = walk(row.alternative.layers, placed.in_shape)[1]
            except SpecError as exc:
                raise exc.located(path=spec.path, line=row.line, row=row.name) from None
            if alt_shape != placed.out_shape:
                raise fail(f"the alternative gives {format_shape(alt_shape)}, the row "
                           f"{format_shape(placed.out_shape)}")
        mismatches = printed_mismatches(row, placed)
        if mismatches and not row.deviation:
            raise fail(mismatches[0] + " (add a 'deviation' to the row if this is intended)")
        if row.deviation and not mismatches:
            raise fail("the row has a 'deviation' but its printed columns match the layers")


def _windows(layers: tuple[Layer, ...]):
    return ((leaf.kernel, leaf.stride) for leaf in leaves(layers)
            if isinstance(leaf, (Conv, Separable, Pool)))
