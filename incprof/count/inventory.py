"""The inventory of ops a spec's network runs at inference, as plain data for the referee
(incprof.referee.conventions): MACs and params from incprof.count.analytic, shapes from the spec's
shape inference, without torch. A spec's ops are the same at the aten level and the module level:
every layer is its module. A model's recorded inventory is incprof.capture.inventory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Softmax)
from ..spec.shapes import numel, rule, walk
from .analytic import layer_counts


@dataclass(frozen=True)
class Op:
    """One op that runs at inference. A spec's ops are per image: shapes (C, H, W), or (F,) once
    flattened; a model's cover the ``batch`` it ran on, shapes (batch included) as they ran."""

    kind: str  # conv, linear, batchnorm, relu, maxpool, avgpool, adaptive_avgpool, lrn, softmax,
    #            dropout, add, scale, concat
    in_shape: tuple
    out_shape: tuple
    macs: int = 0
    params: int = 0
    bias: bool = False
    size: int = 0  # an LRN's window across channels
    batch: int = 0  # the images a model's op covers; 0 for a spec's op (one image)
    detail: tuple = ()  # what a kind's own formula needs
    within: tuple = ()  # a model's module call: the kinds of the module calls around it
    copies: int = 1  # a model's module call: the module's paths in the module tree (shared: 2+)
    module: str = ""  # a model's module call: the module's class name
    weights: tuple = ()  # a model's leaf module call: (name, elements) of each parameter


def spec_ops(layers: tuple[Layer, ...], in_shape: tuple) -> list[Op]:
    """The ops a layer sequence runs at inference, in order, as ``incprof.nn.build`` builds them."""
    ops: list[Op] = []
    for layer, i, o in walk(layers, in_shape)[0]:
        ops += rule(OP_RULES, layer)(layer, i, o)
    return ops


def _after(layer, shape: tuple) -> list[Op]:
    """BatchNorm and ReLU fused into a Conv, Separable or Linear layer."""
    ops = []
    if getattr(layer, "bn_eps", None) is not None:
        ops.append(Op("batchnorm", shape, shape, params=2 * shape[0]))
    if layer.relu:
        ops.append(Op("relu", shape, shape))
    return ops


def _conv_ops(layer: Conv, i: tuple, o: tuple) -> list[Op]:
    weights = layer_counts(layer, i, o).weights
    return [Op("conv", i, o, weights * o[1] * o[2], weights + layer.out * layer.bias, layer.bias),
            *_after(layer, o)]


def _separable_ops(layer: Separable, i: tuple, o: tuple) -> list[Op]:
    """The depthwise conv (no bias), then the pointwise conv, as incprof.nn.build builds them."""
    counts = layer_counts(layer, i, o)
    mid = (i[0] * layer.multiplier, o[1], o[2])
    pointwise = mid[0] * layer.out
    return [Op("conv", i, mid, counts.macs - pointwise * o[1] * o[2], counts.weights - pointwise),
            Op("conv", mid, o, pointwise * o[1] * o[2], pointwise + layer.out * layer.bias,
               layer.bias), *_after(layer, o)]


def _linear_ops(layer: Linear, i: tuple, o: tuple) -> list[Op]:
    flat, out = (numel(i),), (layer.out,)
    return [Op("linear", flat, out, layer_counts(layer, i, o).macs,
               flat[0] * layer.out + layer.out * layer.bias, layer.bias), *_after(layer, out)]


def _residual_ops(layer: Residual, i: tuple, o: tuple) -> list[Op]:
    ops = spec_ops(layer.body, i) + spec_ops(layer.shortcut, i)
    ops += [Op("scale", o, o)] if layer.scale != 1 else []
    return ops + [Op("add", o, o)] + ([Op("relu", o, o)] if layer.relu else [])


def _one(kind: str):
    return lambda layer, i, o: [Op(kind, i, o)]


# The ops each layer type runs at inference, per type (incprof.spec.shapes.rule: a missing type is an
# error, not free).
OP_RULES = {
    Conv: _conv_ops, Separable: _separable_ops, Linear: _linear_ops,
    Pool: lambda layer, i, o: [Op(f"{layer.kind}pool", i, o,
                                  detail=(layer.kernel[0] * layer.kernel[1],))],
    GlobalAvgPool: _one("adaptive_avgpool"), AdaptiveAvgPool: _one("adaptive_avgpool"),
    LRN: lambda layer, i, o: [Op("lrn", i, o, size=layer.size)],
    Softmax: _one("softmax"), ReLU: _one("relu"), Dropout: _one("dropout"),
    Branches: lambda layer, i, o: [op for b in layer.branches for op in spec_ops(b, i)]
    + [Op("concat", o, o)],
    Residual: _residual_ops,
}


def network_ops(spec, input_hw=None) -> list[Op]:
    """The inference ops of a spec's main rows (aux heads do not run in eval mode), in order."""
    from ..spec.shapes import place

    return [op for p in place(spec, input_hw) if not p.is_aux
            for op in spec_ops(p.layers, p.in_shape)]
