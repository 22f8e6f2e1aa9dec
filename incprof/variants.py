"""Spec -> spec rewrites: flavours of a reference implementation and architectural variants."""

from __future__ import annotations

import dataclasses

from .errors import SpecError
from .spec import LRN, ArchSpec, Conv, Layer, replace_layers

FLAVORS = ("paper", "torchvision")


def torchvision_flavor(spec: ArchSpec) -> ArchSpec:
    """torchvision's deviations: conv (no bias) + BatchNorm(eps 0.001) + ReLU, no LRN, and a 3x3
    kernel in the "5x5" branch (pytorch/vision#906); rows listed under the spec's
    ``flavors.torchvision.replace`` get the layers given there."""

    def rewrite(layer: Layer) -> tuple[Layer, ...]:
        if isinstance(layer, LRN):
            return ()
        if isinstance(layer, Conv):
            changes: dict = {"bias": False, "bn_eps": 1e-3}
            if layer.role == "ch5x5":
                changes.update(kernel=(3, 3), padding=(1, 1))
            return (dataclasses.replace(layer, **changes),)
        return (layer,)

    replaced = spec.flavors.get("torchvision", {}).get("replace", {})

    def layers_of(item) -> tuple[Layer, ...]:
        layers = replace_layers(replaced.get(item.name, item.layers), rewrite)
        if not layers:
            raise SpecError("the torchvision flavour leaves this row with no layers",
                            path=spec.path, line=item.line, row=item.name)
        return layers

    return dataclasses.replace(
        spec, name=f"{spec.name}[torchvision]",
        rows=tuple(dataclasses.replace(r, layers=layers_of(r)) for r in spec.rows),
        aux=tuple(dataclasses.replace(h, layers=layers_of(h)) for h in spec.aux))


def apply_flavor(spec: ArchSpec, flavor: str) -> ArchSpec:
    """The spec as built by ``flavor`` ('paper' leaves it unchanged)."""
    if flavor == "paper":
        return spec
    if flavor == "torchvision":
        return torchvision_flavor(spec)
    raise SpecError(f"unknown flavour {flavor!r}; choose from {', '.join(FLAVORS)}")
