"""Receptive fields, live activation memory and representation sizes, from the spec alone. No torch.

- Receptive field and jump (effective stride) per axis, at each row's output, in input pixels. A
  layer with kernel k and stride s turns (field, jump) into (field + (k - 1) * jump, jump * s);
  a global pool or a linear layer sees its whole input; an adaptive pool counts as its largest
  window with its largest step between window starts (exact when the size divides the input, an
  upper bound otherwise); parallel branches, and a residual's body and shortcut, take their
  largest field.
- Peak live activations of one inference pass, under this model: a layer's input and output are
  alive while it runs (BatchNorm after a conv also holds the conv's output; ReLU is in place);
  inside a module, its input and every finished branch output stay alive until the concatenation,
  which is alive with them; in a residual block, its input and the body's output stay alive while
  the shortcut runs and until the sum; a separable conv holds its depthwise output too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.fields import Pair
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax, sublayers)
from ..spec.model import ArchSpec
from ..spec.shapes import layer_out_shape, numel, place, rule, walk

BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


@dataclass(frozen=True)
class Field:
    """Receptive field size and jump per axis (height, width), in input pixels."""

    size: Pair = (1, 1)
    jump: Pair = (1, 1)


def _window(layer: Conv | Separable | Pool, field: Field, in_shape: Shape) -> Field:
    return Field(tuple(f + (k - 1) * j for f, k, j in zip(field.size, layer.kernel, field.jump)),
                 tuple(j * s for j, s in zip(field.jump, layer.stride)))


def _whole(layer: GlobalAvgPool | Linear, field: Field, in_shape: Shape) -> Field:
    if in_shape[1:] == (1, 1):
        return field
    return Field(tuple(f + (n - 1) * j for f, n, j in zip(field.size, in_shape[1:], field.jump)),
                 tuple(j * n for j, n in zip(field.jump, in_shape[1:])))


def _adaptive(layer: AdaptiveAvgPool, field: Field, in_shape: Shape) -> Field:
    windows = [adaptive_window(n, out) for n, out in zip(in_shape[1:], layer.size)]
    return Field(tuple(f + (k - 1) * j for f, (k, _), j in zip(field.size, windows, field.jump)),
                 tuple(j * step for j, (_, step) in zip(field.jump, windows)))


def _largest(layer: Branches | Residual, field: Field, in_shape: Shape) -> Field:
    fields = [sequence_field(part, field, in_shape) for part in sublayers(layer)]
    return Field(tuple(max(f.size[i] for f in fields) for i in range(2)),
                 tuple(max(f.jump[i] for f in fields) for i in range(2)))


def _unchanged(layer, field: Field, in_shape: Shape) -> Field:
    return field  # per position: the field is unchanged


# Each layer type's receptive field and jump after it, from the field before it.
FIELD_RULES = {
    Conv: _window, Separable: _window, Pool: _window, GlobalAvgPool: _whole, Linear: _whole,
    AdaptiveAvgPool: _adaptive, Branches: _largest, Residual: _largest,
    LRN: _unchanged, ReLU: _unchanged, Dropout: _unchanged, Softmax: _unchanged,
}


def layer_field(layer: Layer, field: Field, in_shape: Shape) -> Field:
    """The field after one layer."""
    return rule(FIELD_RULES, layer)(layer, field, in_shape)


def adaptive_window(n: int, out: int) -> Pair:
    """An adaptive pool from ``n`` to ``out`` positions on one axis: its largest window and its
    largest step between window starts (``n`` when ``out`` is 1). torch's windows run from
    floor(i*n/out) to ceil((i+1)*n/out)."""
    starts = [i * n // out for i in range(out)]
    ends = [-(-(i + 1) * n // out) for i in range(out)]
    steps = [b - a for a, b in zip(starts, starts[1:])] or [n]
    return (max(e - s for s, e in zip(starts, ends)), max(steps))


def sequence_field(layers: tuple[Layer, ...], field: Field, in_shape: Shape) -> Field:
    """The field after a sequence of layers."""
    shape = in_shape
    for layer in layers:
        field = layer_field(layer, field, shape)
        shape = layer_out_shape(layer, shape)
    return field


def _branches_peak(layer: Branches, shape: Shape, out_shape: Shape, held: int) -> int:
    current, done, peak = numel(shape), 0, 0
    for branch in layer.branches:  # each finished branch output stays alive until the concat
        peak = max(peak, sequence_peak(branch, shape, held + done))
        done += numel(walk(branch, shape)[1])
    return max(peak, held + current + done + numel(out_shape))


def _residual_peak(layer: Residual, shape: Shape, out_shape: Shape, held: int) -> int:
    body = numel(walk(layer.body, shape)[1])  # alive while the shortcut runs, until the sum
    return max(sequence_peak(layer.body, shape, held),
               sequence_peak(layer.shortcut, shape, held + body),
               held + numel(shape) + body + numel(out_shape))


def _conv_peak(layer: Conv | Separable, shape: Shape, out_shape: Shape, held: int) -> int:
    out = numel(out_shape)
    mid = (shape[0] * layer.multiplier * out_shape[1] * out_shape[2]
           if isinstance(layer, Separable) else 0)  # a separable conv's depthwise output
    bn = out if layer.bn_eps is not None else 0  # BatchNorm's output beside the conv's
    return held + numel(shape) + mid + out + bn


def _plain_peak(layer, shape: Shape, out_shape: Shape, held: int) -> int:
    return held + numel(shape) + numel(out_shape)


# Each layer type's peak live elements while it runs, given what the caller holds.
PEAK_RULES = {
    Conv: _conv_peak, Separable: _conv_peak, Branches: _branches_peak, Residual: _residual_peak,
    **{kind: _plain_peak for kind in (Pool, GlobalAvgPool, AdaptiveAvgPool, LRN, ReLU, Dropout,
                                      Linear, Softmax)},
}


def sequence_peak(layers: tuple[Layer, ...], in_shape: Shape, held: int = 0) -> int:
    """Peak live activation elements (per image) while a sequence runs; ``held`` elements are kept
    alive by the caller, and the sequence's input is counted here."""
    peak, shape = held + numel(in_shape), in_shape
    for layer in layers:
        out_shape = layer_out_shape(layer, shape)
        peak = max(peak, rule(PEAK_RULES, layer)(layer, shape, out_shape, held))
        shape = out_shape
    return peak


@dataclass(frozen=True)
class RowGeometry:
    """Receptive field, activations and representation size at a row's (or aux head's) output."""

    field: Field
    output_elements: int
    peak_elements: int
    representation_ratio: float | None  # previous row's output size / this row's


def geometry(spec: ArchSpec, input_hw: Pair | None = None) -> dict[str, RowGeometry]:
    """Per row and aux head: receptive field, output elements, peak live elements, size ratio."""
    result: dict[str, RowGeometry] = {}
    fields: dict[str, Field] = {}
    field, previous = Field(), None
    for p in place(spec, input_hw):
        start = fields[spec_after(spec, p.name)] if p.is_aux else field
        out_field = sequence_field(p.layers, start, p.in_shape)
        size = numel(p.out_shape)
        ratio = None
        if not p.is_aux:
            ratio = round((previous if previous is not None else numel(p.in_shape)) / size, 2)
            fields[p.name], field, previous = out_field, out_field, size
        result[p.name] = RowGeometry(out_field, size, sequence_peak(p.layers, p.in_shape), ratio)
    return result


def spec_after(spec: ArchSpec, head: str) -> str:
    """The row an aux head reads from."""
    return next(h.after for h in spec.aux if h.name == head)
