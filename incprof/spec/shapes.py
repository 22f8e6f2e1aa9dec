"""Shape inference: each layer type's output shape, depth on the longest path, and the shapes of a
whole spec's rows. No torch. Shapes are ``(C, H, W)`` tuples per image."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SpecError
from .fields import Pair
from .layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool, ReLU,
                     Residual, Separable, Shape, Softmax, sublayers)


def numel(shape: tuple) -> int:
    """The number of elements of a shape, of any rank."""
    return math.prod(shape)


def _conv(layer: Conv, shape: Shape) -> Shape:
    c, h, w = shape
    if c % layer.groups:
        raise SpecError(f"conv input channels ({c}) not divisible by groups ({layer.groups})",
                        line=layer.line)
    return (layer.out, *_window(layer.kernel, layer.stride, layer.padding, False, (h, w),
                                layer.line, "conv"))


def _separable(layer: Separable, shape: Shape) -> Shape:
    return (layer.out, *_window(layer.kernel, layer.stride, layer.padding, False, shape[1:],
                                layer.line, "separable conv"))


def _pool(layer: Pool, shape: Shape) -> Shape:
    return (shape[0], *_window(layer.kernel, layer.stride, layer.padding, layer.ceil_mode,
                               shape[1:], layer.line, f"{layer.kind} pool"))


def _branches(layer: Branches, shape: Shape) -> Shape:
    outs = [walk(branch, shape)[1] for branch in layer.branches]
    if len({o[1:] for o in outs}) > 1:
        shown = ", ".join(f"{o[1]}x{o[2]}" for o in outs)
        raise SpecError(f"branches end at different sizes ({shown}); they cannot be "
                        "concatenated", line=layer.line)
    return (sum(o[0] for o in outs), *outs[0][1:])


def _residual(layer: Residual, shape: Shape) -> Shape:
    body, shortcut = walk(layer.body, shape)[1], walk(layer.shortcut, shape)[1]
    if body != shortcut:
        what = "its input" if not layer.shortcut else "the shortcut's"
        raise SpecError(f"the residual body gives {format_shape(body)} but {what} is "
                        f"{format_shape(shortcut)}; they cannot be added", line=layer.line)
    return body


def _same(layer: Layer, shape: Shape) -> Shape:
    return shape


# Each layer type's output shape for an input shape.
SHAPE_RULES = {
    Conv: _conv, Separable: _separable, Pool: _pool,
    GlobalAvgPool: lambda layer, shape: (shape[0], 1, 1),
    AdaptiveAvgPool: lambda layer, shape: (shape[0], *layer.size),
    Linear: lambda layer, shape: (layer.out, 1, 1),
    LRN: _same, ReLU: _same, Dropout: _same, Softmax: _same,
    Branches: _branches, Residual: _residual,
}

# Each layer type's contribution to the depth: layers with parameters on the longest path.
DEPTH_RULES = {
    Conv: lambda layer: 1, Linear: lambda layer: 1,
    Separable: lambda layer: 1,  # once, as Xception's "36 convolutional layers" count it
    Branches: lambda layer: max(depth(b) for b in layer.branches),
    Residual: lambda layer: max(depth(layer.body), depth(layer.shortcut)),
    **{kind: (lambda layer: 0) for kind in (Pool, GlobalAvgPool, AdaptiveAvgPool, LRN, ReLU,
                                            Dropout, Softmax)},
}


def rule(table: dict, layer: Layer):
    """The entry of a per-layer-type table for ``layer``; a type the table lacks is an error
    (nothing counts as free by omission)."""
    try:
        return table[type(layer)]
    except KeyError:
        raise TypeError(f"no rule for layer type {type(layer).__name__}") from None


def layer_out_shape(layer: Layer, shape: Shape) -> Shape:
    """Output shape of one layer for an input shape (raises SpecError if it does not fit)."""
    return rule(SHAPE_RULES, layer)(layer, shape)


def _window(kernel: Pair, stride: Pair, padding: Pair, ceil: bool, hw: Pair, line: int,
            what: str) -> Pair:
    """PyTorch's output-size rule for convs and pools, per spatial axis (what ``build`` gets).

    floor: ``(n + 2p - k) // s + 1``. ceil (pools only): ``ceil((n + 2p - k) / s) + 1``, less one
    if the last window would start at or past ``n + p``. Caffe's pooling layer (pooling_layer.cpp,
    round_mode CEIL, its default for every pooling method) uses the same ceil formula but drops the
    last window only when the padding is non-zero. The two rules differ only with zero padding and
    a stride larger than the kernel, where Caffe keeps a window that starts past the input; no
    table here has such a pool.
    """
    out = []
    for k, s, p, n in zip(kernel, stride, padding, hw):
        span = n + 2 * p - k
        if span < 0:
            raise SpecError(f"{what} kernel {kernel[0]}x{kernel[1]} is larger than its padded "
                            f"input {hw[0]}x{hw[1]}; the shape shrinks to nothing", line=line)
        size = (-(-span // s) if ceil else span // s) + 1
        if ceil and (size - 1) * s >= n + p:  # the last window must start inside the input
            size -= 1
        out.append(size)
    return (out[0], out[1])


def walk(layers: tuple[Layer, ...], shape: Shape) -> tuple[list[tuple[Layer, Shape, Shape]], Shape]:
    """Each top-level layer with its input and output shape, and the final shape."""
    steps = []
    for layer in layers:
        out = layer_out_shape(layer, shape)
        steps.append((layer, shape, out))
        shape = out
    return steps, shape


def depth(layers: tuple[Layer, ...]) -> int:
    """Layers with parameters on the longest path (the paper's 'depth' column)."""
    return sum(rule(DEPTH_RULES, layer)(layer) for layer in layers)


@dataclass(frozen=True)
class Placed:
    """A row or aux head placed in the network: its input and output shape per image."""

    name: str
    layers: tuple[Layer, ...]
    in_shape: Shape
    out_shape: Shape
    is_aux: bool = False


def place(spec, input_hw: Pair | None = None) -> list[Placed]:
    """Infer every row's (and then every aux head's) input and output shape, in network order."""
    shape: Shape = (spec.input[0], *(input_hw or spec.input[1:]))
    placed: list[Placed] = []
    outputs: dict[str, tuple[Shape, bool]] = {}
    flat = False
    for item, is_aux in (*((r, False) for r in spec.rows), *((h, True) for h in spec.aux)):
        start, flat_in = outputs[item.after] if is_aux else (shape, flat)
        try:
            _, out = walk(item.layers, start)
            flat_out = flat_after(item.layers, flat_in)
        except SpecError as exc:
            raise exc.located(path=spec.path, line=item.line, row=item.name) from None
        placed.append(Placed(item.name, item.layers, start, out, is_aux))
        if not is_aux:
            shape, flat = out, flat_out
            outputs[item.name] = (shape, flat)
    return placed


# Layer types that work on a flattened (N, features) tensor as it is, and keep it flat.
KEEPS_FLAT = (Dropout, Softmax)


def flat_after(layers: tuple[Layer, ...], flat: bool, inside: bool = False) -> bool:
    """Whether layers leave a flattened (N, features) tensor, given whether they get one. A linear
    layer flattens; a spatial layer after it works on a 1x1 map again, except inside branches,
    where that and branches ending some flattened, some spatial are refused (SpecError)."""
    for layer in layers:
        if isinstance(layer, Branches):
            ends = [flat_after(b, flat, True) for b in layer.branches]
            if len(set(ends)) > 1:
                shown = ", ".join("flat" if end else "spatial" for end in ends)
                raise SpecError(f"branches end in different ranks ({shown}: a linear layer "
                                "flattens its branch); they cannot be concatenated", line=layer.line)
            flat = ends[0]
        elif isinstance(layer, Linear):
            flat = True
        elif isinstance(layer, Residual) and any(flat_after(part, False, True)
                                                 for part in sublayers(layer)):
            raise SpecError("a residual body or shortcut ends in a linear layer; the sum needs "
                            "the spatial tensors of convs and pools", line=layer.line)
        elif flat and not isinstance(layer, KEEPS_FLAT):
            if inside:
                what = f"{layer.kind}pool" if isinstance(layer, Pool) else type(layer).__name__
                raise SpecError(f"a {what.lower()} layer follows a linear layer "
                                "inside branches; flat and spatial tensors cannot mix there",
                                line=layer.line)
            flat = False
    return flat


def format_shape(shape: Shape) -> str:
    """'HxWxC', the way the paper prints output sizes."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}"


