"""The exporter's rule per layer type: which aten ops of a torch.export graph are read back as which
spec layer (incprof.capture.export walks the graph and calls these writers), and the layer types no
op chain gives, with the reason. Each writer registers beside its code with ``_writes``; ``clean``
drops the settings a writer gives that are their layer type's defaults (incprof.spec.layers).

torch is not imported here: the graph arrives built.
"""

from __future__ import annotations

from typing import Callable

from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Linear, Pool, ReLU,
                           Residual, Separable, Softmax, defaults)
from ..spec.layer_reader import LAYER_PARSERS
from .export_graph import flat_nodes
from .rows import op_name

# Each layer type the exporter writes, and the aten ops (short names) that start one.
EXPORTED: dict[type, tuple[str, ...]] = {}
# The layer types no chain of aten ops is read back as, and why.
NOT_EXPORTED = {
    LRN: "torch runs a LocalResponseNorm as a chain of mul, pad, avg_pool3d, add, pow and div ops, "
         "which the exporter does not read back as one layer",
}
# Ops on one tensor: each one's writer, ``write(graph, node, short, items)``. It returns a new
# layer, or None where it set a setting of the layer before (``items[-1]``), whose nodes it joins.
WRITERS: dict[str, Callable] = {}
# Ops that combine tensors (a concat, a residual add): ``write(writer, node, fork)`` gives (layer,
# row keys of its nodes), or None where the op is not one the spec has a layer for.
COMBINERS: dict[str, Callable] = {}


def _writes(*types: type, ops: tuple[str, ...], combines: bool = False):
    """Register a writer for the aten ops ``ops``; ``types`` are the layer types it starts (none
    for an op that only sets a setting of the layer before, as a BatchNorm sets a conv's bn_eps)."""

    def register(write):
        for kind in types:
            EXPORTED[kind] = EXPORTED.get(kind, ()) + ops
        for op in ops:
            (COMBINERS if combines else WRITERS)[op] = write
        return write

    return register


def _arg(node, index: int, name: str, default):
    """A node's argument by position, else by keyword, else ``default``."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _pair(value):
    if isinstance(value, (list, tuple)):
        value = list(value)
        return value[0] if len(value) == 1 or value[0] == value[1] else value
    return value


def node_shape(node) -> tuple:
    """The shape of a node's value."""
    return tuple(node.meta["val"].shape)


def _last(items: list, *kinds: str) -> dict | None:
    """The settings of the layer before, if it is of one of ``kinds``."""
    last = items[-1][0] if items else {}
    return next((last[kind] for kind in kinds if kind in last), None)


@_writes(Conv, Separable, ops=("conv2d", "convolution"))
def _conv(g, node, short: str, items: list) -> dict | None:
    """A conv; a 1x1 conv right after a depthwise conv with nothing of its own makes them one
    separable conv."""
    if short == "convolution" and _arg(node, 6, "transposed", False):
        raise g.fail(node, "a transposed conv has no spec layer")
    weight = node_shape(node.args[1])
    stride = _pair(_arg(node, 3, "stride", 1))
    padding = _arg(node, 4, "padding", 0)
    padding = padding if isinstance(padding, str) else _pair(padding)
    dilation = _pair(_arg(node, 5, "dilation", 1))
    groups = _arg(node, 8 if short == "convolution" else 6, "groups", 1)
    if dilation != 1:
        raise g.fail(node, f"dilation {dilation}: the spec's convs are not dilated")
    cin = node_shape(node.args[0])[1]
    bias = _arg(node, 2, "bias", None) is not None
    depthwise = _last(items, "conv")
    if (weight[2:] == (1, 1) and groups == 1 and stride == 1 and padding in (0, "valid")
            and depthwise is not None and depthwise["groups"] > 1
            and depthwise["groups"] == depthwise.get("_cin")
            and not depthwise["bias"] and depthwise["bn_eps"] is None and not depthwise["relu"]):
        items[-1] = ({"separable": {
            "out": weight[0], "kernel": depthwise["kernel"], "stride": depthwise["stride"],
            "padding": depthwise["padding"], "multiplier": depthwise["out"] // depthwise["groups"],
            "bias": bias, "bn_eps": None, "relu": False}}, items[-1][1])
        return None
    return {"conv": {"out": weight[0], "kernel": _pair(list(weight[2:])), "stride": stride,
                     "padding": padding, "groups": groups, "bias": bias, "bn_eps": None,
                     "relu": False, "_cin": cin}}


@_writes(ops=("batch_norm", "_native_batch_norm_legit_no_training"))
def _batch_norm(g, node, short: str, items: list) -> None:
    """A BatchNorm right after a conv: the conv's bn_eps."""
    eps = node.args[-1] if short != "batch_norm" else _arg(node, 7, "eps", 1e-5)
    conv = _last(items, "conv", "separable")
    if conv is None or conv["bn_eps"] is not None or conv["relu"]:
        raise g.fail(node, "a BatchNorm that does not follow a conv directly has no spec layer")
    if _arg(node, 1, "weight", None) is None or _arg(node, 2, "bias", None) is None:
        raise g.fail(node, "a BatchNorm without scale and shift has no spec layer")
    conv["bn_eps"] = eps


@_writes(ReLU, ops=("relu", "relu_"))
def _relu(g, node, short: str, items: list) -> dict | None:
    """The relu of the conv, linear layer or residual block before, else a ReLU of its own."""
    target = _last(items, "conv", "separable") or _last(items, "linear", "residual")
    if target is not None and not target["relu"]:
        target["relu"] = True
        return None
    return {"relu": {}}


@_writes(Pool, ops=("max_pool2d", "avg_pool2d"))
def _pool(g, node, short: str, items: list) -> dict:
    kernel = _pair(node.args[1])
    stride = _pair(_arg(node, 2, "stride", None) or node.args[1])
    pool = {"kernel": kernel, "stride": stride, "padding": _pair(_arg(node, 3, "padding", 0)),
            "ceil_mode": bool(_arg(node, 5 if short == "max_pool2d" else 4, "ceil_mode", False))}
    if short == "max_pool2d" and _pair(_arg(node, 4, "dilation", 1)) != 1:
        raise g.fail(node, "a dilated max pool has no spec layer")
    if short == "avg_pool2d":
        if _arg(node, 6, "divisor_override", None) is not None:
            raise g.fail(node, "an average pool with a divisor override has no spec layer")
        pool["count_include_pad"] = bool(_arg(node, 5, "count_include_pad", True))
    return {"maxpool" if short == "max_pool2d" else "avgpool": pool}


@_writes(GlobalAvgPool, AdaptiveAvgPool, ops=("adaptive_avg_pool2d", "_adaptive_avg_pool2d"))
def _adaptive(g, node, short: str, items: list) -> dict:
    size = _pair(node.args[1])
    return {"global_avgpool": {}} if size == 1 else {"adaptive_avgpool": {"size": size}}


@_writes(GlobalAvgPool, ops=("mean",))
def _mean(g, node, short: str, items: list) -> dict:
    dims = sorted(d % 4 for d in _arg(node, 1, "dim", []))
    if len(node_shape(node.args[0])) != 4 or dims != [2, 3]:
        raise g.fail(node, "a mean over other than the spatial dims has no spec layer")
    return {"global_avgpool": {}}


@_writes(Linear, ops=("linear",))
def _linear(g, node, short: str, items: list) -> dict:
    if len(node_shape(node.args[0])) != 2:
        raise g.fail(node, "a linear layer on a tensor that is not flat (N, features) has no spec "
                     "layer")
    return {"linear": {"out": node_shape(node.args[1])[0],
                       "bias": _arg(node, 2, "bias", None) is not None, "relu": False}}


@_writes(Dropout, ops=("dropout", "dropout_", "feature_dropout"))
def _dropout(g, node, short: str, items: list) -> dict:
    return {"dropout": {"p": float(_arg(node, 1, "p", 0.5))}}


@_writes(Softmax, ops=("softmax", "_softmax"))
def _softmax(g, node, short: str, items: list) -> dict:
    if _arg(node, 1, "dim", None) not in (1, -1) or len(node_shape(node)) != 2:
        raise g.fail(node, "a softmax over other than the classes has no spec layer")
    return {"softmax": {}}


@_writes(ops=("mul",))
def _scale(g, node, short: str, items: list) -> dict:
    """A multiplication by a number: the scale of the residual body it ends (a pseudo-layer
    ``_scale`` that the residual's writer takes)."""
    if hasattr(node.args[1], "op") or not isinstance(node.args[1], (int, float)):
        raise g.fail(node, "this op has no spec layer")
    return {"_scale": float(node.args[1])}


@_writes(Branches, ops=("cat", "concat"), combines=True)
def _branches(w, node, fork) -> tuple[dict, list]:
    g, dim = w.g, _arg(node, 1, "dim", 0)
    if dim not in (1, 1 - len(node_shape(node))) or len(node_shape(node)) != 4:
        raise g.fail(node, f"concatenates on dim {dim}; the spec's branches concatenate feature "
                     "maps on channels")
    tensors = [a for a in flat_nodes(node.args[:1])]
    if any(t is fork for t in tensors) or len(tensors) != len(set(tensors)):
        raise g.fail(node, "a branch passes its input through unchanged, which the spec's "
                     "branches cannot express")
    parts = [w.sequence(fork, t) for t in tensors]
    keys = [k for part in parts for _, ks in part for k in ks] + [g.key[node]]
    return {"branches": [[layer for layer, _ in part] for part in parts]}, keys


@_writes(Residual, ops=("add", "add_"), combines=True)
def _residual(w, node, fork) -> tuple[dict, list] | None:
    g = w.g
    if len(g.inputs[node]) != 2 or _arg(node, 2, "alpha", 1) != 1:
        return None
    a, b = node.args[0], node.args[1]
    if a is fork and b is fork:
        raise g.fail(node, "adds a value to itself")
    body_end, short_end = (b, a) if a is fork else (a, b) if b is fork else \
        _body_first(g, fork, a, b)
    body = w.sequence(fork, body_end)
    scale = None
    if body and "_scale" in body[-1][0]:
        scale = body.pop()[0]["_scale"]
    shortcut = [] if short_end is fork else w.sequence(fork, short_end)
    if not body:
        raise g.fail(node, "the residual body has no layers")
    residual = {"body": [layer for layer, _ in body]}
    if shortcut:
        residual["shortcut"] = [layer for layer, _ in shortcut]
    if scale is not None:
        residual["scale"] = scale
    residual["relu"] = False
    keys = [k for _, ks in body + shortcut for k in ks] + [g.key[node]]
    return {"residual": residual}, keys


def _body_first(g, fork, a, b):
    """(body end, shortcut end): the operand scaled by a scalar, else the one run first."""
    scaled = [v for v in (a, b) if op_name(v.target).endswith("mul")
              and not hasattr(v.args[1], "op")]
    if len(scaled) == 1:
        return scaled[0], b if scaled[0] is a else a

    def first(end):
        steps = g.chain(fork, end)
        return g.order[steps[0][0]]
    return tuple(sorted((a, b), key=first))


# Settings written even where they are the default: a relu's default differs between layer types
# (a conv's is true, a linear layer's false), so an exported spec says it outright.
ALWAYS_WRITTEN = ("relu",)


def clean(layer):
    """A written layer (or a list of them, nested) without the writers' private keys (``_cin``)
    and without the settings that are their layer type's defaults."""
    if isinstance(layer, list):
        return [clean(x) for x in layer]
    ((key, settings),) = layer.items()
    if not isinstance(settings, dict):  # branches: lists of layers
        return {key: clean(settings)}
    given = defaults(LAYER_PARSERS[key].type)
    return {key: {name: clean(value) if name in ("body", "shortcut") else value
                  for name, value in settings.items()
                  if not name.startswith("_") and (name in ALWAYS_WRITTEN or name not in given
                                                   or not _is_default(value, given[name]))}}


def _is_default(value, default) -> bool:
    """Whether a written setting (a pair written as one int where both are equal) reads as the
    default."""
    if isinstance(value, int) and not isinstance(value, bool) and isinstance(default, tuple):
        value = (value,) * len(default)
    elif isinstance(value, list):
        value = tuple(value)
    return type(value) is type(default) and value == default
