"""Architecture specs: YAML -> frozen dataclasses, checked against the printed columns; the
registry of built-in tables. No torch.

A spec is a list of rows, one per row of a paper's layer table. Each row holds the paper's printed columns
(type, patch size/stride, output size, depth, filter counts, params, ops) and the layers that build it.
The GoogLeNet filter columns (``ch1x1 ... pool_proj``, named as in torchvision) are shorthand: they expand
into parallel branches of convs tagged with a ``role``, which the variant rewrites use. The layer types
live in incprof/layers.py and their shape rules in incprof/shapes.py; both are re-exported here.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import SpecError, quoted
from .fields import Pair
# The layer types and the shape rules, re-exported: most modules read them through incprof.spec.
from .layers import (LAYER_TYPES, LRN, AdaptiveAvgPool, Branches, Conv, Dropout,
                     GlobalAvgPool, Layer, Linear, Pool, ReLU, Residual, Separable, Shape, Softmax,
                     leaves, replace_layers, sublayers)
from .shapes import (Placed, depth, flat_after, format_shape, layer_out_shape,
                     place, walk)

__all__ = [
    "FILTER_COLUMNS", "MAX_INPUT_SIDE", "MAX_NESTING", "Printed", "Alternative", "Row", "AuxHead",
    "Published", "ArchSpec", "printed_mismatches", "parse_spec", "load_spec", "tables_dir",
    "available", "is_path", "resolve",
    # re-exported from incprof.layers and incprof.shapes
    "LAYER_TYPES", "LRN", "AdaptiveAvgPool", "Branches", "Conv", "Dropout", "GlobalAvgPool", "Layer",
    "Linear", "Pool", "ReLU", "Residual", "Separable", "Shape", "Softmax", "leaves",
    "replace_layers", "sublayers", "Placed", "depth", "flat_after", "format_shape",
    "layer_out_shape", "place", "walk",
]
from .yamlio import load_yaml

FILTER_COLUMNS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
MAX_INPUT_SIDE = 1 << 14
MAX_NESTING = 16  # branches inside branches (the built-in tables nest 2 deep)


# ------------------------------------------------------------------------------------------- rows/specs
@dataclass(frozen=True)
class Printed:
    """A row's figures as the paper prints them (strings kept verbatim, numbers parsed)."""

    patch: str | None = None
    output_size: str | None = None
    depth: int | None = None
    params: str | None = None
    ops: str | None = None
    params_value: int | None = None
    ops_value: int | None = None


@dataclass(frozen=True)
class Alternative:
    """A different reading of a row that explains its printed figures (counted without biases)."""

    note: str
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Row:
    """One row of the layer table: its name, printed columns and the layers that build it."""

    name: str
    type: str
    layers: tuple[Layer, ...]
    filters: dict = field(default_factory=dict, compare=False)
    printed: Printed = Printed()
    note: str | None = None
    alternative: Alternative | None = None
    deviation: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AuxHead:
    """An auxiliary classifier fed by the output of row ``after``; it runs in training only."""

    name: str
    after: str
    layers: tuple[Layer, ...]
    loss_weight: float | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Published:
    """A whole-network figure published by a reference implementation, for one flavour, one aux
    setting and one input size (None: the spec's own)."""

    source: str
    flavor: str = "paper"
    aux: bool = False
    params: int | None = None
    macs: str | None = None  # as printed, e.g. "5.713G": compared at that precision
    input: Pair | None = None


@dataclass(frozen=True)
class ArchSpec:
    """A whole architecture: input shape, rows, auxiliary heads and paper-level figures."""

    name: str
    title: str
    source: str
    input: Shape
    rows: tuple[Row, ...]
    aux: tuple[AuxHead, ...] = ()
    paper_depth: int | None = None
    year: int | None = None  # the paper's year (its first arXiv version)
    flavors: dict = field(default_factory=dict, compare=False)
    published: tuple[Published, ...] = ()
    claims: tuple = ()  # claims.Claim: the paper's headline claims, checked by incprof.claims
    path: str = ""
    # how the printed columns read: {"params": {"K": 1024}, "ops": {"M": 10**6}}
    paper_units: dict = field(default_factory=dict, compare=False)

    def row(self, name: str) -> Row:
        """The row called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)


def printed_mismatches(row: Row, placed: Placed) -> list[str]:
    """Where the row's printed output size or patch disagrees with its layers (empty if none)."""
    found = []
    printed = row.printed
    if printed.output_size is not None:
        norm = printed.output_size.replace("×", "x").replace(" ", "")
        if norm != format_shape(placed.out_shape):
            found.append(f"printed output size {printed.output_size} but the layers give "
                         f"{format_shape(placed.out_shape)}")
    if printed.patch is not None and re.fullmatch(r"\d+[x×]\d+/\d+", printed.patch.strip()):
        patches = {f"{k[0]}x{k[1]}/{s[0]}" for k, s in _windows(row.layers)}
        if printed.patch.replace("×", "x").strip() not in patches:
            found.append(f"printed patch size/stride {printed.patch} matches no conv or pool in "
                         f"the row (found {', '.join(sorted(patches)) or 'none'})")
    return found


def _check(spec: ArchSpec) -> None:
    """Compare inferred shapes, depths and patches with the printed columns. A row with a
    ``deviation`` must disagree with its printed columns, and says why."""
    for row, placed in zip(spec.rows, place(spec)):
        def fail(message: str) -> SpecError:
            return SpecError(message, path=spec.path, line=row.line, row=row.name)

        if row.printed.depth is not None and row.printed.depth != depth(row.layers):
            raise fail(f"printed depth {row.printed.depth} but the layers have "
                       f"{depth(row.layers)} layers with parameters on the longest path")
        if row.alternative:
            try:
                alt_shape = walk(row.alternative.layers, placed.in_shape)[1]
            except SpecError as exc:
                raise exc.located(path=spec.path, line=row.line, row=row.name) from None
            if alt_shape != placed.out_shape:
                raise fail(f"the alternative gives {format_shape(alt_shape)}, the row "
                           f"{format_shape(placed.out_shape)}")
        mismatches = printed_mismatches(row, placed)
        if mismatches and not row.deviation:
            raise fail(mismatches[0] + " (add a 'deviation' to the row if this is intended)")
        if row.deviation and not mismatches:
            raise fail("the row has a 'deviation' but its printed columns match the layers")


def _windows(layers: tuple[Layer, ...]):
    return ((leaf.kernel, leaf.stride) for leaf in leaves(layers)
            if isinstance(leaf, (Conv, Separable, Pool)))


def parse_spec(data, path: str = "<spec>") -> ArchSpec:
    """Build and check an ArchSpec from already-loaded YAML data."""
    from .parse import Parser

    spec = Parser(path).parse(data)
    _check(spec)
    return spec


def load_spec(path: str | Path) -> ArchSpec:
    """Load, validate and shape-check a spec file."""
    return parse_spec(load_yaml(path), str(path))


# --------------------------------------------------------------------------------------------- registry
def tables_dir() -> Path:
    """The folder of built-in specs: ``tables/`` beside the package in a checkout (or an editable
    install), ``incprof/tables/`` inside it when installed from a wheel (see pyproject.toml)."""
    here = Path(__file__).resolve().parent
    checkout = here.parent / "tables"
    return checkout if (checkout / "googlenet.yaml").is_file() else here / "tables"


def available() -> list[str]:
    """Names of the built-in architectures."""
    return sorted(p.stem for p in tables_dir().glob("*.yaml"))


def is_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a file rather than a built-in architecture: a Path (as
    ``--spec`` gives), or text with a slash or ending in .yaml or .yml. Files in the working
    directory never shadow a bare name."""
    return (isinstance(name_or_path, Path) or "/" in name_or_path or os.sep in name_or_path
            or name_or_path.endswith((".yaml", ".yml")))


def resolve(name_or_path: str | Path) -> ArchSpec:
    """Load a spec file by path (see ``is_path``), or else a built-in spec by name."""
    if is_path(name_or_path):
        return load_spec(name_or_path)
    if name_or_path not in available():
        raise SpecError(f"unknown architecture {quoted(name_or_path)}; built-in: "
                        f"{', '.join(available())} (or pass a path to a YAML spec)")
    from . import yamlio

    return _builtin(name_or_path, (yamlio.MAX_NODES, yamlio.MAX_BYTES, MAX_INPUT_SIDE))


@functools.lru_cache(maxsize=None)
def _builtin(name: str, ceilings: tuple) -> ArchSpec:
    """A built-in spec, loaded once per process for the ceilings in force (a report names each
    table several times); specs are frozen, so sharing one is safe."""
    return load_spec(tables_dir() / f"{name}.yaml")
