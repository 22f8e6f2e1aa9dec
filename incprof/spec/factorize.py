"""The v3 paper's rewrites of convolutions and grids, on any spec: the factorizations (section 3:
n x n as 1 x n then n x 1, or as two stacked smaller convs) and the grid reductions (section 5)."""

from __future__ import annotations

import dataclasses

from ..errors import SpecError, quoted
from .layers import Branches, Conv, Layer, Pool, defaults, leaves, replace_layers
from .model import ArchSpec, Printed


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
        raise SpecError(f"unknown rule {quoted(rule)}; choose from {', '.join(RULES)}")
    row_name, _, pick = (where or "").partition(":")
    if row_name and row_name not in {r.name for r in spec.rows}:
        raise SpecError(f"no row named {quoted(row_name)} in {spec.name}")
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
                        + (f" at {quoted(where)}" if where else ""), path=spec.path)
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
        raise SpecError(f"unknown grid reduction form {quoted(form)}; choose from {', '.join(GRID_FORMS)}")


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
