"""Spec -> spec rewrites: flavours of a reference implementation and architectural variants."""

from __future__ import annotations

import dataclasses

from .errors import SpecError
from .spec import LRN, ArchSpec, Branches, Conv, Layer, Pool, Printed, leaves, replace_layers

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
                        + (f" at {where!r}" if where else ""))
    label = {"asymmetric": f"{kernel}x{kernel}->1x{kernel}+{kernel}x1",
             "stack": f"{kernel}x{kernel}->2x{(kernel + 1) // 2}x{(kernel + 1) // 2}"}[rule]
    return dataclasses.replace(spec, name=f"{spec.name}[{label}]", rows=tuple(rows),
                               paper_depth=None, published=(),
                               title=f"{spec.title}, {label} ({changed} convs)")


def factorized(spec: ArchSpec) -> ArchSpec:
    """Every 5x5 conv inside a module as two stacked 3x3 (the v3 paper's first factorization)."""
    return factorize(spec, "stack", 5, modules_only=True)


def factorized_asym(spec: ArchSpec) -> ArchSpec:
    """``factorized``, then every 3x3 conv inside a module as 1x3 followed by 3x1."""
    return factorize(factorized(spec), "asymmetric", 3, modules_only=True)


GRID_FORMS = ("parallel", "conv_then_pool", "pool_then_conv")


def grid_reduction(spec: ArchSpec, form: str, rows: tuple[str, ...] | None = None) -> ArchSpec:
    """Turn stride-2 max-pool rows into a grid reduction that doubles the channels (v3 paper,
    section 5): ``parallel`` (a 3x3/2 conv to k beside the pool, concatenated), ``conv_then_pool``
    (a 3x3 conv to 2k, then the pool) or ``pool_then_conv`` (the pool, then a 3x3 conv to 2k).
    By default every pool row that feeds a module with parallel branches is rewritten; the wider
    output flows on, since every later layer infers its input channels."""
    if form not in GRID_FORMS:
        raise SpecError(f"unknown grid reduction form {form!r}; choose from {', '.join(GRID_FORMS)}")
    from .spec import place

    placed = {p.name: p for p in place(spec) if not p.is_aux}
    names = [r.name for r in spec.rows]
    if rows is None:
        rows = tuple(name for name, after in zip(names, names[1:])
                     if _is_reduction_pool(spec.row(name))
                     and any(isinstance(layer, Branches) for layer in spec.row(after).layers))
    new_rows = []
    for row in spec.rows:
        if row.name in rows:
            if not _is_reduction_pool(row):
                raise SpecError("a grid reduction replaces a row that is one stride-2 max pool",
                                path=spec.path, line=row.line, row=row.name)
            (pool,) = row.layers
            k = placed[row.name].in_shape[0]
            template = {"kernel": (3, 3), "padding": (1, 1), "bias": _conv_default(spec, "bias"),
                        "bn_eps": _conv_default(spec, "bn_eps")}
            layers = {
                "parallel": (Branches(((Conv(out=k, stride=(2, 2), **template),), (pool,))),),
                "conv_then_pool": (Conv(out=2 * k, **template), pool),
                "pool_then_conv": (pool, Conv(out=2 * k, **template)),
            }[form]
            row = dataclasses.replace(row, type=f"{row.type}, {form.replace('_', ' ')} reduction",
                                      layers=layers, printed=Printed(), note=None)
        else:
            row = dataclasses.replace(row, printed=Printed(), alternative=None, note=None)
        new_rows.append(row)
    return dataclasses.replace(spec, name=f"{spec.name}[grid {form}]", rows=tuple(new_rows),
                               paper_depth=None, published=(),
                               title=f"{spec.title}, {form.replace('_', ' ')} grid reductions at "
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
    return {"bias": True, "bn_eps": None}[key]


def reduced(spec: ArchSpec) -> ArchSpec:
    """The spec as written: GoogLeNet's modules with their 1x1 reductions (Figure 2b)."""
    return spec


def _grid_variant(form: str):
    """The ``grid_<form>`` variant: ``grid_reduction`` with one form, described for `incprof list`."""
    def variant(spec: ArchSpec) -> ArchSpec:
        return grid_reduction(spec, form)

    variant.__doc__ = (f"Every stride-2 max pool before a module as a {form.replace('_', ' ')} "
                       "grid reduction that doubles the channels (v3 paper, section 5).")
    return variant


# Named variants that `incprof compare` accepts, each a rewrite of a base architecture.
VARIANTS = {"reduced": reduced, "naive": naive, "factorized": factorized,
            "factorized_asym": factorized_asym,
            **{f"grid_{form}": _grid_variant(form) for form in GRID_FORMS}}
