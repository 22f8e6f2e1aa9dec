"""The layer types of a spec, as frozen dataclasses, and walks over nested layers. No torch.

A layer type is declared once, here: its fields and their defaults (``settings`` and ``defaults``
read them). The parser's keys and defaults (``layer_reader.LAYER_PARSERS``, each reader registered
beside its method) and the exporter's "is this a default" (``capture.export_layers.clean``) come
from these fields. Each concern keeps its rule per type in a table in its own module, beside the
rules: shapes and depth (``shapes.SHAPE_RULES``, ``DEPTH_RULES``), counts (``analytic.COUNT_RULES``;
the types with MACs also in ``MAC_CLASSES``), receptive fields and peak memory
(``geometry.FIELD_RULES``, ``PEAK_RULES``), the memory estimate (``limits.TEMPORARY_RULES``), the
op inventory (``count.inventory.OP_RULES``), building (``build.BUILD_RULES``) and export (the aten
ops each type is read back from, ``export_layers.EXPORTED``, or why not, ``NOT_EXPORTED``).
tests/spec/test_layer_types.py fails until every table has every type.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Union

from .fields import Pair

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class Conv:
    """2-D convolution, optionally followed by BatchNorm (``bn_eps`` set) and ReLU."""

    out: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    groups: int = 1
    bias: bool = True
    bn_eps: float | None = None
    relu: bool = True
    role: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over a fixed window."""

    kind: str  # "max" or "avg"
    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    ceil_mode: bool = False
    role: str | None = None
    count_include_pad: bool = True  # average pools: whether padded zeros count in the mean
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class GlobalAvgPool:
    """Adaptive average pooling to 1x1."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Adaptive average pooling to a fixed ``size`` (H, W), whatever the input size; the window of
    output i spans input rows floor(i*H/h) to ceil((i+1)*H/h), as in torch's AdaptiveAvgPool2d."""

    size: Pair
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class LRN:
    """Local response normalization across channels (Caffe / torch semantics)."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Dropout:
    """Dropout with drop probability ``p`` (identity in eval mode)."""

    p: float
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Linear:
    """Fully connected layer on the flattened input, optionally followed by ReLU."""

    out: int
    bias: bool = True
    relu: bool = False
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Softmax:
    """Softmax over classes."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Separable:
    """Depthwise-separable convolution: a depthwise conv (``multiplier`` filters per input channel,
    no bias, nothing between the two) then a 1x1 pointwise conv, optionally followed by BatchNorm
    (``bn_eps`` set) and ReLU; ``bias`` is the pointwise conv's."""

    out: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    multiplier: int = 1
    bias: bool = True
    bn_eps: float | None = None
    relu: bool = True
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ReLU:
    """A ReLU on its own (not in place), where a network applies it before a layer."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Residual:
    """A body of layers added to a shortcut of the same input (identity when ``shortcut`` is
    empty): ``body(x) * scale + shortcut(x)``, then ReLU if ``relu``."""

    body: tuple["Layer", ...]
    shortcut: tuple["Layer", ...] = ()
    scale: float = 1.0
    relu: bool = False
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Branches:
    """Parallel branches on the same input, concatenated on channels."""

    branches: tuple[tuple["Layer", ...], ...]
    line: int = field(default=0, compare=False)


Layer = Union[Conv, Separable, Pool, GlobalAvgPool, AdaptiveAvgPool, LRN, ReLU, Dropout, Linear,
              Softmax, Branches, Residual]
LAYER_TYPES: tuple[type, ...] = typing.get_args(Layer)


def settings(layer_type: type) -> tuple[str, ...]:
    """The fields of a layer type that a spec sets (every field but ``line``, which says where the
    layer was written)."""
    return tuple(f.name for f in dataclasses.fields(layer_type) if f.name != "line")


def defaults(layer_type: type) -> dict[str, object]:
    """The settings of a layer type that have a default, with it; the others are required."""
    out: dict[str, object] = {}
    for f in dataclasses.fields(layer_type):
        if f.name == "line":
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def sublayers(layer: Layer) -> tuple[tuple[Layer, ...], ...]:
    """The layer sequences nested in a layer: a Branches' branches, a Residual's body and
    shortcut; none for the others."""
    if isinstance(layer, Branches):
        return layer.branches
    if isinstance(layer, Residual):
        return (layer.body, layer.shortcut)
    return ()


def with_sublayers(layer: Layer, parts: tuple[tuple[Layer, ...], ...]) -> Layer:
    """A container layer with its nested sequences replaced (the inverse of ``sublayers``)."""
    if isinstance(layer, Branches):
        return dataclasses.replace(layer, branches=parts)
    if isinstance(layer, Residual):
        return dataclasses.replace(layer, body=parts[0], shortcut=parts[1])
    return layer


def leaves(layers: tuple[Layer, ...]):
    """Every layer that is not a Branches or Residual, depth first (the layers inside them
    included: a residual's body, then its shortcut)."""
    for layer in layers:
        parts = sublayers(layer)
        if parts:
            for part in parts:
                yield from leaves(part)
        else:
            yield layer


def replace_layers(layers: tuple[Layer, ...], fn) -> tuple[Layer, ...]:
    """Rebuild a layer tuple bottom-up; ``fn(layer)`` returns a tuple of layers to put in its place."""
    out: list[Layer] = []
    for layer in layers:
        parts = sublayers(layer)
        if parts:
            layer = with_sublayers(layer, tuple(replace_layers(part, fn) for part in parts))
        out.extend(fn(layer))
    return tuple(out)
