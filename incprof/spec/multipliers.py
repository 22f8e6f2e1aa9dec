"""MobileNet's shrinking rewrites as spec -> spec functions on any spec (Howard et al., "MobileNets",
arXiv:1704.04861, sections 3.3 and 3.4 and Table 4): the width multiplier, the resolution
multiplier, and the network with full convolutions in place of its depthwise-separable ones. No
torch."""

from __future__ import annotations

import dataclasses

from ..errors import SpecError
from .layers import Conv, Layer, Separable, replace_layers
from .model import ArchSpec, unprinted

# TF-slim's mobilenet_v1.py thins a layer of d channels to max(int(d * multiplier), min_depth)
# with min_depth 8 (tensorflow/models research/slim/nets/mobilenet_v1.py); the paper's alphas
# (0.75, 0.5, 0.25) give whole numbers on every MobileNet width, so the floor only matters elsewhere.
MIN_DEPTH = 8


def thinned(channels: int, alpha: float) -> int:
    """A layer's width under the width multiplier ``alpha``: TF-slim's max(int(d * alpha), 8),
    never wider than the layer was."""
    return min(channels, max(int(channels * alpha), MIN_DEPTH))



def width(spec: ArchSpec, alpha: float) -> ArchSpec:
    """Every conv (plain, grouped, depthwise or separable) thinned by the width multiplier
    ``alpha`` (0 < alpha <= 1; section 3.3: M input channels become alpha M, N outputs alpha N).
    A depthwise conv (as many groups as outputs) stays depthwise; other grouped convs keep their
    groups. Linear layers keep their widths: the classifier's outputs are the classes."""
    if not 0 < alpha <= 1:
        raise SpecError(f"a width multiplier is in (0, 1], got {alpha}")

    def rewrite(layer: Layer) -> tuple[Layer, ...]:
        if isinstance(layer, Conv):
            out = thinned(layer.out, alpha)
            groups = out if layer.groups == layer.out and layer.groups > 1 else layer.groups
            return (dataclasses.replace(layer, out=out, groups=groups),)
        if isinstance(layer, Separable):
            return (dataclasses.replace(layer, out=thinned(layer.out, alpha)),)
        return (layer,)

    rows = [dataclasses.replace(r, layers=replace_layers(r.layers, rewrite)) for r in spec.rows]
    aux = tuple(dataclasses.replace(h, layers=replace_layers(h.layers, rewrite)) for h in spec.aux)
    return unprinted(spec, rows, f"{spec.name}[width {alpha:g}]", f"{spec.title}, width {alpha:g}",
                     aux=aux, claims=())


def resolution(spec: ArchSpec, side: int) -> ArchSpec:
    """The network unchanged on a ``side`` x ``side`` input (section 3.4: the resolution multiplier
    is set through the input size, and every grid shrinks with it)."""
    if side < 1:
        raise SpecError(f"an input side is a positive integer, got {side}")
    return unprinted(spec, spec.rows, f"{spec.name}[{side}x{side}]",
                     f"{spec.title}, {side}x{side} input", input=(spec.input[0], side, side), claims=())


def _is_depthwise(layer: Layer) -> bool:
    return isinstance(layer, Conv) and layer.groups > 1 and layer.groups == layer.out


def _is_pointwise(layer: Layer) -> bool:
    return isinstance(layer, Conv) and layer.kernel == (1, 1) and layer.groups == 1 \
        and layer.stride == (1, 1)


def dense(spec: ArchSpec) -> ArchSpec:
    """Every depthwise-separable conv as one full conv (MobileNet's Table 4, "Conv MobileNet"): a
    ``separable`` layer, and a depthwise conv followed by a 1x1 conv (in its row, or first in the
    next row, which then goes), become a conv with the depthwise conv's kernel, stride and padding
    and the 1x1 conv's width, BatchNorm and ReLU. An aux head on a row that goes moves to the row
    before."""
    def full(depthwise: Conv, pointwise: Conv) -> Conv:
        return dataclasses.replace(pointwise, kernel=depthwise.kernel, stride=depthwise.stride,
                                   padding=depthwise.padding)

    def merged(layers: tuple[Layer, ...]) -> list[Layer]:
        out: list[Layer] = []
        for layer in layers:
            if out and _is_depthwise(out[-1]) and _is_pointwise(layer):
                out[-1] = full(out[-1], layer)
            elif isinstance(layer, Separable):
                out.append(Conv(out=layer.out, kernel=layer.kernel, stride=layer.stride,
                                padding=layer.padding, bias=layer.bias, bn_eps=layer.bn_eps,
                                relu=layer.relu))
            else:
                out.append(layer)
        return out

    rows, gone, changed = [], {}, False
    for row in spec.rows:
        # separable layers anywhere (inside branches too), then depthwise + 1x1 pairs in the row
        layers = merged(replace_layers(row.layers, lambda layer: tuple(merged((layer,)))))
        if (rows and rows[-1].layers and _is_depthwise(rows[-1].layers[-1]) and layers
                and _is_pointwise(layers[0])):
            previous = rows[-1]
            rows[-1] = dataclasses.replace(previous, layers=(*previous.layers[:-1], full(
                previous.layers[-1], layers[0])))
            layers = layers[1:]
            changed = True
        changed = changed or tuple(layers) != row.layers
        if layers:
            rows.append(dataclasses.replace(row, layers=tuple(layers)))
        else:
            gone[row.name] = rows[-1].name
    if not changed:
        raise SpecError(f"{spec.name} has no depthwise-separable conv to make full", path=spec.path)
    aux = tuple(dataclasses.replace(h, after=gone.get(h.after, h.after)) for h in spec.aux)
    return unprinted(spec, rows, f"{spec.name}[dense]", f"{spec.title}, full convs in place of the "
                     "depthwise-separable ones", aux=aux, claims=())


def _named(rewrite, description: str, **arguments):
    def variant(spec: ArchSpec) -> ArchSpec:
        return rewrite(spec, **arguments)

    variant.__doc__ = description
    return variant


# The shrunk networks of MobileNet's Tables 6, 7 and 4, as variants `incprof compare` names.
MULTIPLIER_VARIANTS = {
    **{f"width_{alpha:g}": _named(width, f"Every conv thinned by the width multiplier {alpha:g} "
                                  "(MobileNet, section 3.3 and Table 6).", alpha=alpha)
       for alpha in (0.75, 0.5, 0.25)},
    **{f"resolution_{side}": _named(resolution, f"The network on a {side}x{side} input "
                                    "(MobileNet's resolution multiplier, section 3.4 and Table 7).",
                                    side=side) for side in (192, 160, 128)},
    "dense": _named(dense, "Full convs in place of the depthwise-separable ones (MobileNet's "
                    "Table 4, Conv MobileNet)."),
}
