"""The spec's data model: an architecture as frozen dataclasses (rows, aux heads, the papers' claims,
published and refereed figures), as the one reader (incprof.spec.parse) makes it. No torch.

A spec is a list of rows, one per row of a paper's layer table. Each row holds the paper's printed columns
(type, patch size/stride, output size, depth, filter counts, params, ops) and the layers that build it.
The GoogLeNet filter columns (``ch1x1 ... pool_proj``, named as in torchvision) are shorthand: they expand
into parallel branches of convs tagged with a ``role``, which the variant rewrites use. The layer types
live in incprof/spec/layers.py and their shape rules in incprof/spec/shapes.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..units import PrintedNumber, read_printed
from .fields import Pair
from .layers import Layer, Shape

FILTER_COLUMNS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
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


# ------------------------------------------------------------------------------- whole-network figures
FIGURE_SUFFIXES = "KMG"  # a whole-network figure as printed: 5.713G, 42.68M, 6624904
QUANTITIES = ("params", "params_with_aux", "macs", "macs_alternative", "depth", "conv_depth",
              "macs_share", "params_share", "receptive_field", "passes", "accuracy", "speed")
# Quantities a cost count cannot judge: shown with the verdict "not a cost claim: not checked".
NOT_COST = ("accuracy", "speed")
# The layer kinds a share (macs_share, params_share) is of: MobileNet's Table 2 rows.
SHARE_KINDS = ("1x1 conv", "depthwise conv", "full conv", "linear")
RELATIONS = ("=", "<", ">")


@dataclass(frozen=True)
class Claim:
    """One of the paper's headline claims, as the spec states it (see incprof.spec.claims)."""

    claim: str  # the paper's words
    source: str  # where the paper says it
    quantity: str
    value: str  # as printed
    relation: str = "="
    of: str | None = None  # the claim is about another built-in network
    against: str | None = None  # the claim is a ratio to another built-in network
    line: int = 0
    # the build judged: a flavour of the network and the multipliers applied to it
    flavor: str = "paper"
    width: float | None = None  # the width multiplier (incprof.spec.multipliers.width)
    resolution: int | None = None  # the input side (incprof.spec.multipliers.resolution)
    dense: bool = False  # full convs in place of separable ones (incprof.spec.multipliers.dense)
    kind: str | None = None  # macs_share and params_share: one of SHARE_KINDS
    at: str | None = None  # receptive_field: the row whose field is claimed
    models: int | None = None  # passes: the models in an ensemble ...
    crops: int | None = None  # ... and the crops each model sees per image

    @property
    def figure(self) -> PrintedNumber:
        """The value as printed: its number, precision and unit (K, M, G, x, % or none)."""
        return read_printed(self.value, FIGURE_SUFFIXES + "x%", signed=True)


# What a refereed figure counts, and the conventions its source may state: the parameter conventions
# and the peers' counting conventions that incprof.referee defines (tests/referee keeps the names
# the same as its own), and "macs", conv and linear MACs.
FIGURES = ("params", "MACs", "FLOPs")
STATED = ("flop_counter", "fvcore", "macs", "params", "params_and_bn_statistics", "params_with_aux",
          "ptflops_aten", "ptflops_pytorch", "thop", "torchinfo", "torchscan", "weights")


@dataclass(frozen=True)
class Refereed:
    """A whole-network figure someone published, as printed, with what it is said to count."""

    source: str
    figure: str  # one of FIGURES
    value: str  # as printed: "42.68M", "6624904"
    flavor: str = "paper"
    input: Pair | None = None  # None: the spec's own input size
    stated: str | None = None  # the convention its source states, if any


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
    refereed: tuple[Refereed, ...] = ()
    claims: tuple[Claim, ...] = ()  # the paper's headline claims
    departs: str | None = None  # where the spec as written departs from the paper's figures
    path: str = ""
    # how the printed columns read: {"params": {"K": 1024}, "ops": {"M": 10**6}}
    paper_units: dict = field(default_factory=dict, compare=False)

    def row(self, name: str) -> Row:
        """The row called ``name``."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)


def unprinted(spec: ArchSpec, rows, name: str, title: str, **changes) -> ArchSpec:
    """``spec`` rewritten with new ``rows`` and without the paper's printed figures: a rewrite
    changes shapes downstream, so the paper's sizes, params and ops no longer apply."""
    rows = tuple(dataclasses.replace(r, printed=Printed(), alternative=None, note=None,
                                     deviation=None) for r in rows)
    return dataclasses.replace(spec, name=name, title=title, rows=rows, paper_depth=None,
                               published=(), refereed=(), **changes)
