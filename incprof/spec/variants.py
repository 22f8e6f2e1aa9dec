"""Spec -> spec rewrites: flavours of a reference implementation and the named variants that
`incprof compare` accepts (the v3 paper's factorizations and grid reductions are in
incprof.spec.factorize)."""

from __future__ import annotations

import dataclasses

from ..errors import SpecError, quoted
from .layer_reader import DROPPABLE
from .factorize import GRID_FORMS, factorized, factorized_asym, grid_reduction
from .layers import Branches, Conv, Layer, Pool, leaves, replace_layers
from .model import ArchSpec, Printed, unprinted
from .multipliers import MULTIPLIER_VARIANTS


def flavors(spec: ArchSpec) -> tuple[str, ...]:
    """The flavours a spec can be built in: 'paper' (the spec as written) and those it defines."""
    return ("paper", *spec.flavors)


def apply_flavor(spec: ArchSpec, flavor: str) -> ArchSpec:
    """The spec as a flavour builds it ('paper' leaves it unchanged). A flavour (``flavors:`` in the
    YAML) sets conv options on every conv (``conv``), changes the kernel of convs with a given role
    (``roles``), leaves out layer kinds (``drop``), and gives rows new layers (``replace``)."""
    if flavor == "paper":
        return spec
    if flavor not in spec.flavors:
        raise SpecError(f"unknown flavour {quoted(flavor)} for {spec.name}; choose from "
                        f"{', '.join(flavors(spec))}", path=spec.path)
    body = spec.flavors[flavor]
    dropped = tuple(DROPPABLE[kind] for kind in body["drop"])

    def rewrite(layer: Layer) -> tuple[Layer, ...]:
        if isinstance(layer, dropped):
            return ()
        if isinstance(layer, Conv):
            return (dataclasses.replace(layer, **body["conv"], **body["roles"].get(layer.role, {})),)
        return (layer,)

    def layers_of(item) -> tuple[Layer, ...]:
        layers = replace_layers(body["replace"].get(item.name, item.layers), rewrite)
        if not layers:
            raise SpecError(f"the {flavor} flavour leaves this row with no layers",
                            path=spec.path, line=item.line, row=item.name)
        return layers

    return dataclasses.replace(
        spec, name=f"{spec.name}[{flavor}]",
        rows=tuple(dataclasses.replace(r, layers=layers_of(r)) for r in spec.rows),
        aux=tuple(dataclasses.replace(h, layers=layers_of(h)) for h in spec.aux))


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

    _require_v1_modules(spec, "naive")
    rows = []
    for row in spec.rows:
        if _is_v1_module(row):
            row = dataclasses.replace(row, type=f"{row.type}, naive",
                                      layers=replace_layers(row.layers, rewrite))
        rows.append(dataclasses.replace(row, printed=Printed(), alternative=None, note=None))
    return dataclasses.replace(
        spec, name=f"{spec.name}[naive]", rows=tuple(rows), paper_depth=None,
        title=f"{spec.title}, naive modules: no 1x1 reductions, the pool branch passes all input "
              "channels through")


def _is_v1_module(row) -> bool:
    """A GoogLeNet-style module: given by Table 1's filter columns, with a 1x1 branch and at least
    one reduction (a "reduce" conv or the pool projection)."""
    return "ch1x1" in row.filters and any(role in row.filters for role in REDUCTION_ROLES)


def _require_v1_modules(spec: ArchSpec, variant: str) -> None:
    if not any(_is_v1_module(row) for row in spec.rows):
        raise SpecError(f"the {variant} variant rewrites GoogLeNet-style modules (rows given by the "
                        f"filter columns ch1x1, ch3x3red, ... pool_proj), and {spec.name} has none",
                        path=spec.path)


def _pick(spec: ArchSpec, where: str, kind: type, what: str):
    """The row and the 1-based index (among the row's ``kind`` leaves) that ``where`` names:
    "row" (the row's only one), "row:N" (the N-th, counting from 1) or "row:role"."""
    row_name, _, pick = where.partition(":")
    if row_name not in {r.name for r in spec.rows}:
        raise SpecError(f"no row named {quoted(row_name)} in {spec.name}")
    row = spec.row(row_name)
    found = [leaf for leaf in leaves(row.layers) if isinstance(leaf, kind)]
    matches = [i for i, leaf in enumerate(found, 1)
               if (pick == str(i) or pick == getattr(leaf, "role", None)) or not pick]
    if len(matches) != 1:
        raise SpecError(f"{quoted(where)} matches {len(matches)} of the row's {len(found)} {what}s; "
                        f"name one as '{row_name}:N' (N from 1)" if found else
                        f"the row has no {what}", path=spec.path, line=row.line, row=row.name)
    return row, matches[0]



def _replace_nth(layers: tuple[Layer, ...], kind: type, index: int, fn) -> tuple[Layer, ...]:
    """The layers with the ``index``-th layer of type ``kind`` (counting from 1, depth first,
    inside branches too) replaced by the tuple ``fn(layer)`` gives."""
    seen = 0

    def rewrite(layer: Layer) -> tuple[Layer, ...]:
        nonlocal seen
        if isinstance(layer, kind):
            seen += 1
            if seen == index:
                return fn(layer)
        return (layer,)

    return replace_layers(layers, rewrite)


def set_stride(spec: ArchSpec, where: str, stride: int | tuple[int, int]) -> ArchSpec:
    """One conv with a new stride (padding kept): ``where`` is "row", "row:N" (the N-th conv of
    the row, counting from 1, inside branches too) or "row:role"."""
    stride = (stride, stride) if isinstance(stride, int) else tuple(stride)
    if len(stride) != 2 or min(stride) < 1:
        raise SpecError(f"a stride is one or two positive integers, got {stride}")
    row, index = _pick(spec, where, Conv, "conv")
    layers = _replace_nth(row.layers, Conv, index,
                          lambda conv: (dataclasses.replace(conv, stride=stride),))
    rows = [dataclasses.replace(r, layers=layers) if r is row else r for r in spec.rows]
    label = f"{where} stride {stride[0]}" + (f"x{stride[1]}" if stride[1] != stride[0] else "")
    return unprinted(spec, rows, f"{spec.name}[{label}]", f"{spec.title}, {label}")


def drop_pool(spec: ArchSpec, where: str) -> ArchSpec:
    """One max or average pool removed: ``where`` is "row" (the row's only pool) or "row:N" (its
    N-th pool). A row left with no layers is removed; an aux head that hung on it moves to the
    row before."""
    row, index = _pick(spec, where, Pool, "pool")
    layers = _replace_nth(row.layers, Pool, index, lambda pool: ())
    if any(isinstance(layer, Branches) and not all(layer.branches) for layer in layers):
        raise SpecError("dropping this pool leaves an empty branch", path=spec.path,
                        line=row.line, row=row.name)
    names = [r.name for r in spec.rows]
    at = names.index(row.name)
    if layers:
        rows = [dataclasses.replace(r, layers=layers) if r is row else r for r in spec.rows]
        aux = spec.aux
    else:
        if at == 0:
            raise SpecError("dropping the first row's only layer leaves nothing before the next "
                            "row's aux heads", path=spec.path, line=row.line, row=row.name)
        rows = [r for r in spec.rows if r is not row]
        aux = tuple(dataclasses.replace(h, after=names[at - 1]) if h.after == row.name else h
                    for h in spec.aux)
    label = f"no pool at {where}"
    return unprinted(spec, rows, f"{spec.name}[{label}]", f"{spec.title}, {label}", aux=aux)


# The v3 paper's low-resolution experiment (Szegedy et al., arXiv:1512.00567, section 9): "One
# simple way to ensure constant effort is to reduce the strides of the first two layer in the case
# of lower resolution input, or by simply removing the first pooling layer of the network", with
# (1) 299x299, stride 2 and max pooling after the first layer, (2) 151x151, stride 1 and max
# pooling, (3) 79x79, stride 1 and no pooling after the first layer. Our reading on
# tables/inception_v3.yaml: of the first two layers (conv_1a 3x3/2, conv_2a 3x3/1) only conv_1a
# has a stride to reduce, so "stride 1" is conv_1a's stride; "the first pooling layer" is pool_1,
# the 3x3/2 max pool after conv_2b. At 151 this gives exactly the 299 network's grids from conv_1a
# on (151 - 2 = 149 = (299 - 3) / 2 + 1); at 79 the grids stay larger than 79 alone would give
# (75x75 into conv_3b, 36x36 into the 35x35 modules) but conv_2a and conv_2b run on 75x75 where
# the 299 network has 147x147.
LOWRES_CHANGES = {299: "unchanged: conv_1a at stride 2, pool_1 kept",
                  151: "conv_1a at stride 1, pool_1 kept",
                  79: "conv_1a at stride 1, no pool_1"}
LOWRES_SIDES = tuple(LOWRES_CHANGES)


def lowres(spec: ArchSpec, side: int) -> ArchSpec:
    """Inception-v3 as the paper's low-resolution experiment builds it for a ``side`` x ``side``
    input (299: unchanged; 151: conv_1a at stride 1; 79: also without pool_1)."""
    if side not in LOWRES_SIDES:
        raise SpecError(f"the paper's low-resolution networks take {LOWRES_SIDES}, not {side}")
    names = {r.name for r in spec.rows}
    if not {"conv_1a", "pool_1"} <= names:
        raise SpecError(f"lowres_{side} rewrites Inception-v3's stem (conv_1a, pool_1), which "
                        f"{spec.name} does not have; use --arch inception_v3")
    if side == 299:
        out = spec
    elif side == 151:
        out = set_stride(spec, "conv_1a", 1)
    else:
        out = drop_pool(set_stride(spec, "conv_1a", 1), "pool_1")
    return dataclasses.replace(out, name=f"{spec.name}[lowres {side}]",
                               input=(spec.input[0], side, side),
                               title=f"{spec.title}, low-resolution experiment: {side}x{side} "
                                     f"input, {LOWRES_CHANGES[side]}")


def reduced(spec: ArchSpec) -> ArchSpec:
    """The spec as written: GoogLeNet's modules with their 1x1 reductions (Figure 2b). A spec
    without such modules is refused, as for ``naive``."""
    _require_v1_modules(spec, "reduced")
    return spec


def _variant(rewrite, description: str, **arguments):
    """A named variant: ``rewrite(spec, **arguments)``, with the one-line description that
    `incprof list` shows."""
    def variant(spec: ArchSpec) -> ArchSpec:
        return rewrite(spec, **arguments)

    variant.__doc__ = description
    return variant


# Named variants that `incprof compare` accepts, each a rewrite of a base architecture.
VARIANTS = {"reduced": reduced, "naive": naive, "factorized": factorized,
            "factorized_asym": factorized_asym,
            **{f"grid_{form.replace(' ', '_')}": _variant(
                grid_reduction, f"Every stride-2 max pool before a module as a {form} grid "
                "reduction that doubles the channels (v3 paper, section 5).", form=form)
               for form in sorted(GRID_FORMS, key=lambda form: form != "parallel")},
            **{f"lowres_{side}": _variant(
                lowres, f"The v3 paper's low-resolution network for {side}x{side} inputs "
                "(section 9): the first layers' strides and pool changed to keep the cost.",
                side=side) for side in LOWRES_SIDES},
            **MULTIPLIER_VARIANTS}
