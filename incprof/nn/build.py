"""Spec -> torch ``nn.Module``: one module per table row, in order, and one per aux head.

Row names stay out of torch's attribute namespace: rows live in ``Network.rows`` and heads in
``Network.aux`` (ModuleLists), so any name, such as ``forward``, ``training``, ``a.b`` or ``_x``,
builds. ``Network.row(name)`` finds a row's module, ``Network.module_name(name)`` its qualified name
(``rows.3``, ``aux.0``), the key the cross-check (incprof.nn.crosscheck) uses.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec.fields import Pair
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax)
from ..spec.model import ArchSpec
from ..spec.shapes import KEEPS_FLAT, flat_after, place, rule, walk


class Concat(nn.Module):
    """Parallel branches on one input, concatenated on channels (an Inception module)."""

    def __init__(self, branches: list[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class Add(nn.Module):
    """A residual block: ``body(x) * scale + shortcut(x)`` (identity shortcut when there is none),
    then ReLU if asked. The shortcut is registered first, as the reference implementations that
    have one do (timm's Xception), so that their weights load by order."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None, scale: float,
                 relu: bool) -> None:
        super().__init__()
        self.shortcut = shortcut
        self.body = body
        self.scale = scale
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if self.scale != 1:
            out = out * self.scale
        out = out + (x if self.shortcut is None else self.shortcut(x))
        return out if self.relu is None else self.relu(out)


class Network(nn.Module):
    """The built architecture. Rows run in order; aux heads run in training mode only.

    ``forward`` returns the main output in eval mode, and ``(main, *aux_outputs)`` in training mode
    when the spec has auxiliary heads.
    """

    def __init__(self, spec: ArchSpec, input_hw: Pair | None = None) -> None:
        super().__init__()
        placed = place(spec, input_hw)
        main = [p for p in placed if not p.is_aux]
        self.row_names = [p.name for p in main]
        self.aux_names = [h.name for h in spec.aux]
        self.aux_after = [self.row_names.index(h.after) for h in spec.aux]
        rows, flat_after = [], []
        flat = False
        for p in main:
            module, flat = _sequence(p.layers, p.in_shape, flat)
            rows.append(module)
            flat_after.append(flat)
        self.rows = nn.ModuleList(rows)
        self.aux = nn.ModuleList(_sequence(p.layers, p.in_shape, flat_after[after])[0]
                                 for p, after in zip(placed[len(main):], self.aux_after))
        self._keys = {name: f"rows.{i}" for i, name in enumerate(self.row_names)}
        self._keys.update({name: f"aux.{i}" for i, name in enumerate(self.aux_names)})

    def row(self, name: str) -> nn.Module:
        """The module of the row or aux head called ``name``."""
        return self.get_submodule(self.module_name(name))

    def module_name(self, name: str) -> str:
        """The qualified module name (as in ``named_modules``) of a row or aux head."""
        return self._keys[name]

    def forward(self, x: torch.Tensor, with_aux: bool | None = None):
        """Rows in order; the aux heads too, on the rows they follow, in training mode or when
        ``with_aux`` says so (the cross-check counts them in eval mode)."""
        heads = self.training if with_aux is None else with_aux
        aux_outputs = []
        for i, row in enumerate(self.rows):
            x = row(x)
            if heads:
                aux_outputs += [head(x) for head, after in zip(self.aux, self.aux_after)
                                if after == i]
        return (x, *aux_outputs) if aux_outputs else x


WEIGHTS = ("random", "zero", "empty")


def build(spec: ArchSpec, input_hw: Pair | None = None, *, weights: str = "random") -> Network:
    """The paper-faithful network of a spec (use a variant of the spec for other flavours).

    ``weights`` says what torch.nn.init's initialisers do: ``"random"`` draws as torch does;
    ``"zero"`` zeroes every weight, for counters that run arithmetic whose values never matter;
    ``"empty"`` leaves the memory as allocated, for a count that runs no arithmetic at all (the
    cross-check's empty batch), and touches none of it. Either of the last two builds GoogLeNet in
    milliseconds."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
    if weights == "random":
        return Network(spec, input_hw)
    with _skip_init(zero=weights == "zero"):
        return Network(spec, input_hw)


def _skip_init(zero: bool):
    """A TorchFunctionMode under which torch.nn.init's in-place initialisers leave their tensor as
    it is, or zero it."""
    from torch.overrides import TorchFunctionMode

    class SkipInit(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if getattr(func, "__module__", None) == "torch.nn.init" and \
                    func.__name__.endswith("_"):
                tensor = args[0] if args else kwargs["tensor"]
                if zero:
                    with torch.no_grad():
                        tensor.zero_()
                return tensor
            return func(*args, **(kwargs or {}))

    return SkipInit()


def _sequence(layers: tuple[Layer, ...], in_shape: Shape,
              flat: bool) -> tuple[nn.Sequential, bool]:
    """Modules for a layer sequence; ``flat`` says whether the input arrives flattened (N, C)."""
    modules = []
    for layer, shape, _ in walk(layers, in_shape)[0]:
        if flat and not isinstance(layer, _TAKES_FLAT):
            modules.append(nn.Unflatten(1, (-1, 1, 1)))
            flat = False
        modules.append(rule(BUILD_RULES, layer)(layer, shape, flat))
        flat = flat_after((layer,), flat)
    return nn.Sequential(*modules), flat


# Layers that read a flattened (N, features) input as it is; others get it back as (N, C, 1, 1).
_TAKES_FLAT = (Linear, Branches, *KEEPS_FLAT)


def _conv(layer: Conv | Separable, shape: Shape, flat: bool) -> nn.Module:
    if isinstance(layer, Separable):  # depthwise, then pointwise
        mid = shape[0] * layer.multiplier
        parts: list[nn.Module] = [nn.Conv2d(shape[0], mid, layer.kernel, layer.stride,
                                            layer.padding, groups=shape[0], bias=False),
                                  nn.Conv2d(mid, layer.out, 1, bias=layer.bias)]
    else:
        parts = [nn.Conv2d(shape[0], layer.out, layer.kernel, layer.stride, layer.padding,
                           groups=layer.groups, bias=layer.bias)]
    if layer.bn_eps is not None:
        parts.append(nn.BatchNorm2d(layer.out, eps=layer.bn_eps))
    if layer.relu:
        parts.append(nn.ReLU(inplace=True))
    return nn.Sequential(*parts)


def _pool(layer: Pool, shape: Shape, flat: bool) -> nn.Module:
    if layer.kind == "max":
        return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode)
    return nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode,
                        count_include_pad=layer.count_include_pad)


def _linear(layer: Linear, shape: Shape, flat: bool) -> nn.Module:
    features = shape[0] * shape[1] * shape[2]
    parts = ([] if flat else [nn.Flatten(1)]) + [nn.Linear(features, layer.out, bias=layer.bias)]
    if layer.relu:
        parts.append(nn.ReLU(inplace=True))
    return nn.Sequential(*parts)


def _residual(layer: Residual, shape: Shape, flat: bool) -> nn.Module:
    return Add(_sequence(layer.body, shape, False)[0],
               _sequence(layer.shortcut, shape, False)[0] if layer.shortcut else None,
               layer.scale, layer.relu)


# Each layer type's module, from the layer, its input shape and whether that input is flat.
BUILD_RULES = {
    Conv: _conv, Separable: _conv, Pool: _pool, Linear: _linear, Residual: _residual,
    GlobalAvgPool: lambda layer, shape, flat: nn.AdaptiveAvgPool2d(1),
    AdaptiveAvgPool: lambda layer, shape, flat: nn.AdaptiveAvgPool2d(layer.size),
    LRN: lambda layer, shape, flat: nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta,
                                                         layer.k),
    Dropout: lambda layer, shape, flat: nn.Dropout(layer.p),
    Softmax: lambda layer, shape, flat: nn.Softmax(dim=1),
    ReLU: lambda layer, shape, flat: nn.ReLU(),  # not in place: a shortcut may still read it
    # shape inference made every branch end alike, flat or not
    Branches: lambda layer, shape, flat: Concat([_sequence(b, shape, flat)[0]
                                                 for b in layer.branches]),
}
