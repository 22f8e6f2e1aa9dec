"""Spec -> spec rewrites: flavours of a reference implementation and architectural variants."""

from __future__ import annotations

import dataclasses

from ..errors import SpecError, quoted
from .layer_reader import DROPPABLE
from .layers import Branches, Conv, Layer, Pool, defaults, leaves, replace_layers
from .model import ArchSpec, Printed
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


def factor_asymmetric(conv: Conv) -> tuple[Conv, Conv]:
    """n x n -> 1 x n followed by n x 1 (v3 paper, section 3.2), both at the conv's output width.
    Strides and paddings split by axis, so the output shape is unchanged."""
    n = conv.kernel[0]
    if conv.kernel != (n, n) or n < 3 or n % 2 == 0 or conv.groups != 1:
        raise SpecError(f"the asymmetric rule needs an odd square kernel of 3 or more and no "
                        f"groups, got {conv.kernel[0]}x{conv.kernel[1]}", line=conv.line)
    (sh, sw), (ph, pw) = conv.stride, conv.padding
    return (dataclasses.replace(conv, kernel=(1, n), stride=(1, sw), padding=(0, pw)),
            dataclasses.replace(conv, kernel=(n, 1), stride=(sh, 1), padding=(ph, 0)))


def factor_stack(conv: Conv) -> tuple[Conv, Conv]:
    """n x n -> two stacked m x m with 2m - 1 = n (5x5 -> two 3x3, 3x3 -> two 2x2; v3 paper,
    section 3.1), both at the conv's output width; the padding is split so the shape is unchanged."""
    n = conv.kernel[0]
    if conv.kernel != (n, n) or n < 3 or conv.stride != (1, 1) or conv.groups != 1:
        raise SpecError(f"the stack rule needs a square stride-1 kernel of 3 or more and no groups, "
                        f"got {conv.kernel[0]}x{conv.kernel[1]}/{conv.stride[0]}", line=conv.line)
    m, p = (n + 1) // 2, conv.padding[0]
    if conv.padding[1] != p:
        raise SpecError("the stack rule needs the same padding on both axes", line=conv.line)
    first = -(-p // 2)
    return (dataclasses.replace(conv, kernel=(m, m), padding=(first, first)),
            dataclasses.replace(conv, kernel=(m, m), padding=(p - first, p - first)))


RULES = {"asymmetric": factor_asymmetric, "stack": factor_stack}


def factorize(spec: ArchSpec, rule: str, kernel: int, where: str | None = None,
              modules_only: bool = False) -> ArchSpec:
    """Apply a factorization rule to every square ``kernel`` x ``kernel`` conv of the spec, of the
    rows with parallel branches (``modules_only``), of one row (``where="row"``), or to one conv
    (``where="row:role"`` or ``where="row:N"``, the N-th conv of the row, counting from 1)."""
    if rule not in RULES:
        raise SpecError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")
    row_name, _, pick = (where or "").partition(":")
    if row_name and row_name not in {r.name for r in spec.rows}:
        raise SpecError(f"no row named {row_name!r} in {spec.name}")
    changed = 0
    rows = []
    for row in spec.rows:
        eligible = (not row_name or row.name == row_name) and (
            not modules_only or any(isinstance(layer, Branches) for layer in row.layers))
        seen = 0

        def rewrite(layer: Layer) -> tuple[Layer, ...]:
            nonlocal seen, changed
            if not isinstance(layer, Conv):
                return (layer,)
            seen += 1
            wanted = (not pick or pick == layer.role or pick == str(seen))
            if not (eligible and wanted and layer.kernel == (kernel, kernel)):
                return (layer,)
            changed += 1
            try:
                return RULES[rule](layer)
            except SpecError as exc:
                raise exc.located(path=spec.path, row=row.name) from None

        layers = replace_layers(row.layers, rewrite)
        if layers != row.layers:
            row = dataclasses.replace(row, layers=layers, alternative=None, note=None,
                                      printed=dataclasses.replace(row.printed, depth=None,
                                                                  params=None, ops=None,
                                                                  params_value=None,
                                                                  ops_value=None))
        rows.append(row)
    if not changed:
        raise SpecError(f"the {rule} rule matched no {kernel}x{kernel} conv in {spec.name}"
                        + (f" at {where!r}" if where else ""), path=spec.path)
    label = {"asymmetric": f"{kernel}x{kernel}->1x{kernel}+{kernel}x1",
             "stack": f"{kernel}x{kernel}->2x{(kernel + 1) // 2}x{(kernel + 1) // 2}"}[rule]
    return dataclasses.replace(spec, name=f"{spec.name}[{label}]", rows=tuple(rows),
                               paper_depth=None, published=(), refereed=(),
                               title=f"{spec.title}, {label} ({changed} convs)")


def factorized(spec: ArchSpec) -> ArchSpec:
    """Every 5x5 conv inside a module as two stacked 3x3 (the v3 paper's first factorization)."""
    return factorize(spec, "stack", 5, modules_only=True)


def factorized_asym(spec: ArchSpec) -> ArchSpec:
    """``factorized``, then every 3x3 conv inside a module as 1x3 followed by 3x1."""
    return factorize(factorized(spec), "asymmetric", 3, modules_only=True)


# The v3 paper's grid reductions (section 5), each from d x d x k to (d/2) x (d/2) x 2k: the two it
# argues against, then its own. A variant's name spells the form with underscores
# (grid_conv_then_pool); `incprof list` shows the paper's own form first.
GRID_FORMS = {
    "conv then pool": "stride-1 conv k -> 2k on the d x d grid, then 3x3/2 max pool",
    "pool then conv": "3x3/2 max pool, then conv k -> 2k on the d/2 grid (a bottleneck)",
    "parallel": "stride-2 conv k -> k beside a stride-2 max pool, concatenated to 2k (v3 Fig. 10)",
}


def _known_grid_form(form: str) -> None:
    if form not in GRID_FORMS:
        raise SpecError(f"unknown grid reduction form {form!r}; choose from {', '.join(GRID_FORMS)}")


def grid_layers(form: str, pool: Pool, conv: Conv) -> tuple[Layer, ...]:
    """The layers of a grid reduction around a stride-2 ``pool``, from ``conv`` (k -> k, stride
    1): widened to 2k after or before the pool, or with stride 2 beside it (``parallel``)."""
    _known_grid_form(form)
    if form == "parallel":
        return (Branches(((dataclasses.replace(conv, stride=(2, 2)),), (pool,))),)
    wide = dataclasses.replace(conv, out=2 * conv.out)
    return (wide, pool) if form == "conv then pool" else (pool, wide)


def grid_reduction(spec: ArchSpec, form: str, rows: tuple[str, ...] | None = None) -> ArchSpec:
    """Turn stride-2 max-pool rows into a grid reduction that doubles the channels (v3 paper,
    section 5): ``parallel`` (a 3x3/2 conv to k beside the pool, concatenated), ``conv then pool``
    (a 3x3 conv to 2k, then the pool) or ``pool then conv`` (the pool, then a 3x3 conv to 2k).
    By default every pool row that feeds a module with parallel branches is rewritten; the wider
    output flows on, since every later layer infers its input channels."""
    _known_grid_form(form)
    from .shapes import place

    placed = {p.name: p for p in place(spec) if not p.is_aux}
    names = [r.name for r in spec.rows]
    if rows is None:
        rows = tuple(name for name, after in zip(names, names[1:])
                     if _is_reduction_pool(spec.row(name))
                     and any(isinstance(layer, Branches) for layer in spec.row(after).layers))
        if not rows:
            raise SpecError(f"the grid reductions rewrite stride-2 max-pool rows that feed a module "
                            f"with parallel branches, and {spec.name} has none", path=spec.path)
    new_rows = []
    for row in spec.rows:
        if row.name in rows:
            if not _is_reduction_pool(row):
                raise SpecError("a grid reduction replaces a row that is one stride-2 max pool",
                                path=spec.path, line=row.line, row=row.name)
            (pool,) = row.layers
            conv = Conv(out=placed[row.name].in_shape[0], kernel=(3, 3), padding=(1, 1),
                        bias=_conv_default(spec, "bias"), bn_eps=_conv_default(spec, "bn_eps"))
            layers = grid_layers(form, pool, conv)
            row = dataclasses.replace(row, type=f"{row.type}, {form} reduction",
                                      layers=layers, printed=Printed(), note=None)
        else:
            row = dataclasses.replace(row, printed=Printed(), alternative=None, note=None)
        new_rows.append(row)
    return dataclasses.replace(spec, name=f"{spec.name}[grid {form.replace(' ', '_')}]",
                               rows=tuple(new_rows), paper_depth=None, published=(), refereed=(),
                               title=f"{spec.title}, {form} grid reductions at "
                                     f"{', '.join(rows)}")


def _is_reduction_pool(row) -> bool:
    return (len(row.layers) == 1 and isinstance(row.layers[0], Pool)
            and row.layers[0].kind == "max" and row.layers[0].stride == (2, 2))


def _conv_default(spec: ArchSpec, key: str):
    """The bias / bn_eps the spec's first conv uses, so new convs match the architecture."""
    for row in spec.rows:
        for layer in leaves(row.layers):
            if isinstance(layer, Conv):
                return getattr(layer, key)
    return defaults(Conv)[key]


def _pick(spec: ArchSpec, where: str, kind: type, what: str):
    """The row and the 1-based index (among the row's ``kind`` leaves) that ``where`` names:
    "row" (the row's only one), "row:N" (the N-th, counting from 1) or "row:role"."""
    row_name, _, pick = where.partition(":")
    if row_name not in {r.name for r in spec.rows}:
        raise SpecError(f"no row named {row_name!r} in {spec.name}")
    row = spec.row(row_name)
    found = [leaf for leaf in leaves(row.layers) if isinstance(leaf, kind)]
    matches = [i for i, leaf in enumerate(found, 1)
               if (pick == str(i) or pick == getattr(leaf, "role", None)) or not pick]
    if len(matches) != 1:
        raise SpecError(f"{where!r} matches {len(matches)} of the row's {len(found)} {what}s; "
                        f"name one as '{row_name}:N' (N from 1)" if found else
                        f"the row has no {what}", path=spec.path, line=row.line, row=row.name)
    return row, matches[0]


def _unprinted(spec: ArchSpec, rows, name: str, title: str, **changes) -> ArchSpec:
    """``spec`` with new rows and no printed figures: a rewrite changes shapes downstream, so
    the paper's sizes, params and ops no longer apply."""
    rows = tuple(dataclasses.replace(r, printed=Printed(), alternative=None, note=None,
                                     deviation=None) for r in rows)
    return dataclasses.replace(spec, name=name, title=title, rows=rows, paper_depth=None,
                               published=(), refereed=(), **changes)


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
    return _unprinted(spec, rows, f"{spec.name}[{label}]", f"{spec.title}, {label}")


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
    return _unprinted(spec, rows, f"{spec.name}[{label}]", f"{spec.title}, {label}", aux=aux)


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
