"""Spec -> torch ``nn.Module``: one top-level child per table row, named after the row."""

from __future__ import annotations

import torch
from torch import nn

from .spec import (LRN, AdaptiveAvgPool, ArchSpec, Branches, Conv, Dropout, GlobalAvgPool, Layer,
                   Linear, Pair, Pool, ReLU, Residual, Separable, Shape, Softmax, place, walk)


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
        self.row_names = [p.name for p in placed if not p.is_aux]
        flat = False
        for p in placed[:len(self.row_names)]:
            module, flat = _sequence(p.layers, p.in_shape, flat)
            self.add_module(p.name, module)
        self.aux = nn.ModuleDict({p.name: _sequence(p.layers, p.in_shape, False)[0]
                                  for p in placed if p.is_aux})
        self.aux_after = {h.name: h.after for h in spec.aux}

    def forward(self, x: torch.Tensor):
        aux_outputs = []
        for name in self.row_names:
            x = self._modules[name](x)
            if self.training:
                aux_outputs += [head(x) for head_name, head in self.aux.items()
                                if self.aux_after[head_name] == name]
        return (x, *aux_outputs) if aux_outputs else x


def build(spec: ArchSpec, input_hw: Pair | None = None) -> Network:
    """The paper-faithful network of a spec (use a variant of the spec for other flavours)."""
    return Network(spec, input_hw)


def _sequence(layers: tuple[Layer, ...], in_shape: Shape,
              flat: bool) -> tuple[nn.Sequential, bool]:
    """Modules for a layer sequence; ``flat`` says whether the input arrives flattened (N, C)."""
    modules = []
    for layer, shape, _ in walk(layers, in_shape)[0]:
        if flat and not isinstance(layer, (Linear, Dropout, Softmax)):
            modules.append(nn.Unflatten(1, (-1, 1, 1)))
            flat = False
        modules.append(_layer(layer, shape, flat))
        flat = flat or isinstance(layer, Linear)
    return nn.Sequential(*modules), flat


def _layer(layer: Layer, shape: Shape, flat: bool) -> nn.Module:
    if isinstance(layer, Conv):
        parts: list[nn.Module] = [nn.Conv2d(shape[0], layer.out, layer.kernel, layer.stride,
                                            layer.padding, groups=layer.groups, bias=layer.bias)]
        if layer.bn_eps is not None:
            parts.append(nn.BatchNorm2d(layer.out, eps=layer.bn_eps))
        if layer.relu:
            parts.append(nn.ReLU(inplace=True))
        return nn.Sequential(*parts)
    if isinstance(layer, Separable):
        mid = shape[0] * layer.multiplier
        parts = [nn.Conv2d(shape[0], mid, layer.kernel, layer.stride, layer.padding,
                           groups=shape[0], bias=False),
                 nn.Conv2d(mid, layer.out, 1, bias=layer.bias)]
        if layer.bn_eps is not None:
            parts.append(nn.BatchNorm2d(layer.out, eps=layer.bn_eps))
        if layer.relu:
            parts.append(nn.ReLU(inplace=True))
        return nn.Sequential(*parts)
    if isinstance(layer, Pool):
        if layer.kind == "max":
            return nn.MaxPool2d(layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode)
        return nn.AvgPool2d(layer.kernel, layer.stride, layer.padding, ceil_mode=layer.ceil_mode,
                            count_include_pad=layer.count_include_pad)
    if isinstance(layer, GlobalAvgPool):
        return nn.AdaptiveAvgPool2d(1)
    if isinstance(layer, AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(layer.size)
    if isinstance(layer, LRN):
        return nn.LocalResponseNorm(layer.size, layer.alpha, layer.beta, layer.k)
    if isinstance(layer, Dropout):
        return nn.Dropout(layer.p)
    if isinstance(layer, Linear):
        features = shape[0] * shape[1] * shape[2]
        parts = ([] if flat else [nn.Flatten(1)]) + [nn.Linear(features, layer.out, bias=layer.bias)]
        if layer.relu:
            parts.append(nn.ReLU(inplace=True))
        return nn.Sequential(*parts)
    if isinstance(layer, Softmax):
        return nn.Softmax(dim=1)
    if isinstance(layer, ReLU):
        return nn.ReLU()  # not in place: a residual's shortcut may still read the input
    if isinstance(layer, Residual):
        return Add(_sequence(layer.body, shape, False)[0],
                   _sequence(layer.shortcut, shape, False)[0] if layer.shortcut else None,
                   layer.scale, layer.relu)
    if isinstance(layer, Branches):
        return Concat([_sequence(b, shape, False)[0] for b in layer.branches])
    raise TypeError(f"no module for layer type {type(layer).__name__}")
