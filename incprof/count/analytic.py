"""Params, MACs and other ops per row, computed from the spec alone. No torch.

Conventions (stated in every output):
- ``params``: every trainable parameter: conv/linear weights and biases, BatchNorm scale and shift.
- ``weights``: conv/linear weights only (no biases, no BN), how the GoogLeNet paper's params column reads.
- ``macs``: multiply-accumulates of conv and linear layers, one MAC per multiply-add, per image:
  ``k_h * k_w * (C_in / groups) * C_out * H_out * W_out`` for a conv, ``in * out`` for a linear layer;
  a separable conv is its depthwise conv (``k_h * k_w * C_in * multiplier * H_out * W_out``) plus its
  1x1 pointwise conv.
- ``activations``: output elements written by every layer (a Branches' concatenation included), per
  image; an upper bound on what one forward pass allocates.
- ``other_ops``: everything that is not a conv/linear MAC, kept apart: one op per window element per
  output for fixed-window pooling; one per input element for adaptive pooling, global included (as
  fvcore counts ``aten::adaptive_avg_pool2d``); 2 per element for BatchNorm (scale and shift),
  ``size`` per element for LRN, 1 per element for ReLU and softmax; a residual sum costs 1 per
  output element, plus 1 for the scaling of its body (when the scale is not 1) and 1 for its ReLU.
  Dropout is none (identity at inference).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec import ceilings
from ..spec.fields import Pair
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax, sublayers)
from ..spec.model import ArchSpec
from ..spec.shapes import Placed, numel, place, rule, walk


@dataclass(frozen=True)
class Counts:
    """Integer counts for one layer, row or network, per image."""

    params: int = 0
    weights: int = 0
    macs: int = 0
    other_ops: int = 0
    activations: int = 0
    mac_outputs: int = 0  # output elements of conv and linear layers (fvcore's activation count)

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.params + other.params, self.weights + other.weights,
                      self.macs + other.macs, self.other_ops + other.other_ops,
                      self.activations + other.activations, self.mac_outputs + other.mac_outputs)


def _conv(layer: Conv, in_shape: Shape, out_shape: Shape) -> Counts:
    kh, kw = layer.kernel
    weights = kh * kw * (in_shape[0] // layer.groups) * layer.out
    params = weights + (layer.out if layer.bias else 0) + (2 * layer.out if layer.bn_eps else 0)
    other = numel(out_shape) * ((2 if layer.bn_eps else 0) + (1 if layer.relu else 0))
    return Counts(params, weights, weights * out_shape[1] * out_shape[2], other,
                  mac_outputs=numel(out_shape))


def _separable(layer: Separable, in_shape: Shape, out_shape: Shape) -> Counts:
    cin, (kh, kw), hw = in_shape[0], layer.kernel, out_shape[1] * out_shape[2]
    mid = cin * layer.multiplier  # depthwise outputs
    depthwise, pointwise = kh * kw * mid, mid * layer.out
    params = depthwise + pointwise + (layer.out if layer.bias else 0) + \
        (2 * layer.out if layer.bn_eps else 0)
    other = numel(out_shape) * ((2 if layer.bn_eps else 0) + (1 if layer.relu else 0))
    return Counts(params, depthwise + pointwise, (depthwise + pointwise) * hw, other,
                  activations=mid * hw, mac_outputs=mid * hw + numel(out_shape))


def _linear(layer: Linear, in_shape: Shape, out_shape: Shape) -> Counts:
    weights = numel(in_shape) * layer.out
    params = weights + (layer.out if layer.bias else 0)
    return Counts(params, weights, weights, layer.out if layer.relu else 0, mac_outputs=layer.out)


def _residual(layer: Residual, in_shape: Shape, out_shape: Shape) -> Counts:
    # the sum, the scaling of the body and the ReLU after the sum: one op per element each
    extra = 1 + (layer.scale != 1) + layer.relu
    return sequence_counts(layer.body, in_shape) + sequence_counts(layer.shortcut, in_shape) + \
        Counts(other_ops=extra * numel(out_shape))


def _per_output(layer, in_shape: Shape, out_shape: Shape) -> Counts:
    return Counts(other_ops=numel(out_shape))


def _per_input(layer, in_shape: Shape, out_shape: Shape) -> Counts:
    return Counts(other_ops=numel(in_shape))


# Each layer type's counts from its input and output shapes (see the module's docstring).
COUNT_RULES = {
    Conv: _conv, Separable: _separable, Linear: _linear,
    Pool: lambda layer, i, o: Counts(other_ops=layer.kernel[0] * layer.kernel[1] * numel(o)),
    GlobalAvgPool: _per_input, AdaptiveAvgPool: _per_input,
    LRN: lambda layer, i, o: Counts(other_ops=layer.size * numel(o)),
    Softmax: _per_output, ReLU: _per_output,
    Dropout: lambda layer, i, o: Counts(),  # the identity at inference
    Branches: lambda layer, i, o: sum((sequence_counts(b, i) for b in layer.branches), Counts()),
    Residual: _residual,
}


def layer_counts(layer: Layer, in_shape: Shape, out_shape: Shape) -> Counts:
    """Counts of one layer (a Branches or Residual: the sum of its parts)."""
    return rule(COUNT_RULES, layer)(layer, in_shape, out_shape)


def sequence_counts(layers: tuple[Layer, ...], in_shape: Shape) -> Counts:
    """Counts of a sequence of layers starting from ``in_shape``."""
    steps, _ = walk(layers, in_shape)
    total = Counts()
    for layer, i, o in steps:
        total += layer_counts(layer, i, o) + Counts(activations=numel(o))
    return total


@dataclass(frozen=True)
class RowCounts:
    """A placed row (or aux head) with its counts per image."""

    placed: Placed
    counts: Counts


INT64_MAX = 2**63 - 1
# The most bytes per value any figure multiplies a count by (fp32 activation bytes).
WIDEST_VALUE_BYTES = 4
# The largest batch any analysis or command takes: the highest --max-count (2e15) per image times it
# still fits a 64-bit integer.
MAX_BATCH = 4096


def count_spec(spec: ArchSpec, input_hw: Pair | None = None,
               batch_size: int = 1) -> list[RowCounts]:
    """Counts per image for every row and aux head of a spec, in network order. Raises
    ResourceError past the ``max_count`` ceiling (ceilings.py) of params, MACs or activations per
    image, or when a total times ``batch_size`` (in bytes, up to WIDEST_VALUE_BYTES per value; for
    activations, twice the total plus the input, which bounds the peak live values) would not fit
    a 64-bit integer, so that no later arithmetic in numpy or torch can overflow."""
    from ..errors import ResourceError

    counted = [RowCounts(p, sequence_counts(p.layers, p.in_shape)) for p in place(spec, input_hw)]
    max_count = ceilings.current().max_count
    for what in ("params", "macs", "activations", "other_ops"):
        total = sum(getattr(rc.counts, what) for rc in counted)
        if total > max_count:
            raise ResourceError(f"the spec has {total:.3g} {what} per image, over the ceiling "
                                f"of {max_count:.0e} (raise it with incprof --max-count)",
                                path=spec.path)
        if what == "activations":  # peak live values: the input, a BN output beside its conv's
            total = 2 * total + numel(counted[0].placed.in_shape)
        if total * batch_size * WIDEST_VALUE_BYTES > INT64_MAX:
            raise ResourceError(f"the spec has {total:.3g} {what} per image; at batch "
                                f"{batch_size} their total in bytes would overflow 64-bit "
                                "integers; lower --batch-size", path=spec.path)
    return counted


def _kernel_class(layer: Conv | Separable) -> str:
    kh, kw = layer.kernel
    if kh == kw == 1:
        return "1x1 conv"
    return "n x n conv" if kh == kw else "1 x n / n x 1 conv"


def _merge(out: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for kind, macs in more.items():
        out[kind] = out.get(kind, 0) + macs
    return out


def _separable_classes(layer: Separable, i: Shape, o: Shape) -> dict[str, int]:
    """The depthwise part by its kernel, the pointwise part as a 1x1 conv."""
    pointwise = i[0] * layer.multiplier * layer.out * o[1] * o[2]
    depthwise = {_kernel_class(layer): layer_counts(layer, i, o).macs - pointwise}
    return _merge(depthwise, {"1x1 conv": pointwise})


def _parts_classes(layer: Branches | Residual, i: Shape, o: Shape) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in sublayers(layer):
        _merge(out, macs_by_kind(part, i))
    return out


# Each layer type's MACs per image by class: the convs by kernel shape, linear layers, and the parts
# of a Branches or Residual one by one. Only the types that can have MACs have a class; a layer with
# MACs and no class is an error.
MAC_CLASSES = {
    Conv: lambda layer, i, o: {_kernel_class(layer): layer_counts(layer, i, o).macs},
    Separable: _separable_classes,
    Linear: lambda layer, i, o: {"linear": layer_counts(layer, i, o).macs},
    Branches: _parts_classes, Residual: _parts_classes,
}


def layer_macs_by_kind(layer: Layer, in_shape: Shape, out_shape: Shape) -> dict[str, int]:
    """MACs per image of one layer by class ('1x1 conv', 'n x n conv', '1 x n / n x 1 conv',
    'linear'); none for a layer without MACs."""
    if type(layer) not in MAC_CLASSES and not layer_counts(layer, in_shape, out_shape).macs:
        return {}
    return rule(MAC_CLASSES, layer)(layer, in_shape, out_shape)


def macs_by_kind(layers: tuple[Layer, ...], in_shape: Shape) -> dict[str, int]:
    """MACs per image of a layer sequence, by class (``layer_macs_by_kind``)."""
    out: dict[str, int] = {}
    for layer, i, o in walk(layers, in_shape)[0]:
        _merge(out, layer_macs_by_kind(layer, i, o))
    return out
