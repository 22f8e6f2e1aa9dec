"""Spec -> spec rewrites: flavours of a reference implementation and architectural variants."""

from __future__ import annotations

import dataclasses

from .errors import SpecError
from .spec import LRN, ArchSpec, Conv, Layer, Printed, replace_layers

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


REDUCTION_ROLES = ("ch3x3red", "ch5x5red", "pool_proj")


def naive(spec: ArchSpec) -> ArchSpec:
    """The paper's naive Inception module (Figure 2a) in place of every reduced one (Figure 2b).

    The 1x1 "reduce" convs and the pool projection are dropped; the 1x1, 3x3 and 5x5 convs keep
    their widths but now read the module's input, and the 3x3 max pool passes every input channel
    through, so outputs grow from module to module. Printed figures no longer apply and are dropped.
    """

    def rewrite(layer: Layer) -> tuple[Layer, ...]:
        if isinstance(layer, Conv) and layer.role in REDUCTION_ROLES:
            return ()
        return (layer,)

    rows = []
    for row in spec.rows:
        if any(role in row.filters for role in REDUCTION_ROLES) and "ch1x1" in row.filters:
            row = dataclasses.replace(row, type=f"{row.type}, naive",
                                      layers=replace_layers(row.layers, rewrite))
        rows.append(dataclasses.replace(row, printed=Printed(), alternative=None, note=None))
    return dataclasses.replace(
        spec, name=f"{spec.name}[naive]", rows=tuple(rows), paper_depth=None,
        title=f"{spec.title}, naive modules: no 1x1 reductions, the pool branch passes all input "
              "channels through")


def reduced(spec: ArchSpec) -> ArchSpec:
    """The spec as written: GoogLeNet's modules with their 1x1 reductions (Figure 2b)."""
    return spec


# Named variants that `incprof compare` accepts, each a rewrite of a base architecture.
VARIANTS = {"reduced": reduced, "naive": naive}
