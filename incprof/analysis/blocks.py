"""A row's layers as a tree of blocks, each with its shapes and counts: what a module diagram
draws (incprof.render.diagram). No torch.

A row is a sequence of layers; a Branches layer is parallel sequences merged by concatenation, a
Residual its body beside its shortcut (the identity when empty) merged by a scaled sum.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..count.analytic import layer_counts
from ..spec.layers import Branches, Layer, Residual, Shape
from ..spec.model import ArchSpec
from ..spec.shapes import place, walk


@dataclass(frozen=True)
class Block:
    """A layer (``layer`` set), a sequence of blocks, or parallel sequences with their merge
    (``merge``: 'concat' or 'sum'; ``scale`` and ``relu``: a residual body's scale, and
    a ReLU after the sum). Counts are per image."""

    params: int
    macs: int
    in_shape: Shape
    out_shape: Shape
    layer: Layer | None = None
    parts: tuple["Block", ...] = ()
    merge: str | None = None
    scale: float = 1.0
    relu: bool = False  # a ReLU after a residual sum

    @property
    def is_sequence(self) -> bool:
        return self.layer is None and self.merge is None


def sequence_block(layers: tuple[Layer, ...], in_shape: Shape) -> Block:
    """The block of a sequence of layers fed ``in_shape``: one part per layer (an empty
    sequence is the identity)."""
    steps, out = walk(layers, in_shape)
    parts = tuple(_layer_block(layer, i, o) for layer, i, o in steps)
    return Block(sum(p.params for p in parts), sum(p.macs for p in parts), in_shape, out,
                 parts=parts)


def _layer_block(layer: Layer, in_shape: Shape, out_shape: Shape) -> Block:
    counts = layer_counts(layer, in_shape, out_shape)
    if isinstance(layer, Branches):
        parts = tuple(sequence_block(b, in_shape) for b in layer.branches)
        return Block(counts.params, counts.macs, in_shape, out_shape, parts=parts, merge="concat")
    if isinstance(layer, Residual):
        parts = (sequence_block(layer.body, in_shape), sequence_block(layer.shortcut, in_shape))
        return Block(counts.params, counts.macs, in_shape, out_shape, parts=parts, merge="sum",
                     scale=layer.scale, relu=layer.relu)
    return Block(counts.params, counts.macs, in_shape, out_shape, layer=layer)


def row_blocks(spec: ArchSpec, input_hw=None) -> list[tuple[str, str, Block]]:
    """Every main row of ``spec`` (no aux heads) as (name, type, block), in network order."""
    types = {row.name: row.type for row in spec.rows}
    return [(p.name, types[p.name], sequence_block(p.layers, p.in_shape))
            for p in place(spec, input_hw) if not p.is_aux]
