"""Architecture specs: YAML -> frozen dataclasses, validation, and shape inference. No torch.

A spec is a list of rows, one per row of a paper's layer table. Each row holds the paper's printed columns
(type, patch size/stride, output size, depth, filter counts, params, ops) and the layers that build it.
The GoogLeNet filter columns (``ch1x1 ... pool_proj``, named as in torchvision) are shorthand: they expand
into parallel branches of convs tagged with a ``role``, which the variant rewrites use.
Shapes are ``(C, H, W)`` tuples per image.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .errors import SpecError, quoted
from .fields import DEFAULT_UNITS, TEXT_CHARS, FieldReader, Pair, kind
from .yamlio import load_yaml

Shape = tuple[int, int, int]

FILTER_COLUMNS = ("ch1x1", "ch3x3red", "ch3x3", "ch5x5red", "ch5x5", "pool_proj")
MAX_INPUT_SIDE = 1 << 14
MAX_NESTING = 16  # branches inside branches (the built-in tables nest 2 deep)


# ----------------------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class Conv:
    """2-D convolution, optionally followed by BatchNorm (``bn_eps`` set) and ReLU."""

    out: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    groups: int = 1
    bias: bool = True
    bn_eps: float | None = None
    relu: bool = True
    role: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Pool:
    """Max or average pooling over a fixed window."""

    kind: str  # "max" or "avg"
    kernel: Pair
    stride: Pair
    padding: Pair = (0, 0)
    ceil_mode: bool = False
    role: str | None = None
    count_include_pad: bool = True  # average pools: whether padded zeros count in the mean
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class GlobalAvgPool:
    """Adaptive average pooling to 1x1."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Adaptive average pooling to a fixed ``size`` (H, W), whatever the input size; the window of
    output i spans input rows floor(i*H/h) to ceil((i+1)*H/h), as in torch's AdaptiveAvgPool2d."""

    size: Pair
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class LRN:
    """Local response normalization across channels (Caffe / torch semantics)."""

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Dropout:
    """Dropout with drop probability ``p`` (identity in eval mode)."""

    p: float
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Linear:
    """Fully connected layer on the flattened input, optionally followed by ReLU."""

    out: int
    bias: bool = True
    relu: bool = False
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Softmax:
    """Softmax over classes."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Separable:
    """Depthwise-separable convolution: a depthwise conv (``multiplier`` filters per input channel,
    no bias, nothing between the two) then a 1x1 pointwise conv, optionally followed by BatchNorm
    (``bn_eps`` set) and ReLU; ``bias`` is the pointwise conv's."""

    out: int
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    multiplier: int = 1
    bias: bool = True
    bn_eps: float | None = None
    relu: bool = True
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ReLU:
    """A ReLU on its own (not in place), where a network applies it before a layer."""

    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Residual:
    """A body of layers added to a shortcut of the same input (identity when ``shortcut`` is
    empty): ``body(x) * scale + shortcut(x)``, then ReLU if ``relu``."""

    body: tuple["Layer", ...]
    shortcut: tuple["Layer", ...] = ()
    scale: float = 1.0
    relu: bool = False
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Branches:
    """Parallel branches on the same input, concatenated on channels."""

    branches: tuple[tuple["Layer", ...], ...]
    line: int = field(default=0, compare=False)


Layer = Union[Conv, Separable, Pool, GlobalAvgPool, AdaptiveAvgPool, LRN, ReLU, Dropout, Linear,
              Softmax, Branches, Residual]


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


# ----------------------------------------------------------------------------------------------- parsing
_TOP_KEYS = {"name", "title", "source", "year", "input", "defaults", "paper_units", "paper_depth",
             "rows", "claims",
             "aux", "flavors", "published"}
_ROW_KEYS = {"name", "type", "patch", "output_size", "depth", "layers", "params", "ops", "note",
             "alternative", "deviation", *FILTER_COLUMNS}
_LAYER_KEYS = {
    "conv": ({"out", "kernel"}, {"stride", "padding", "groups", "bias", "bn_eps", "relu", "role"}),
    "separable": ({"out", "kernel"}, {"stride", "padding", "multiplier", "bias", "bn_eps", "relu"}),
    "maxpool": ({"kernel"}, {"stride", "padding", "ceil_mode", "role"}),
    "avgpool": ({"kernel"}, {"stride", "padding", "ceil_mode", "role", "count_include_pad"}),
    "global_avgpool": (set(), set()),
    "adaptive_avgpool": ({"size"}, set()),
    "lrn": ({"size"}, {"alpha", "beta", "k"}),
    "relu": (set(), set()),
    "dropout": ({"p"}, set()),
    "linear": ({"out"}, {"bias", "relu"}),
    "softmax": (set(), set()),
}
_CONV_DEFAULT_KEYS = {"bias", "bn_eps", "relu", "padding"}
# Layer kinds a flavour may leave out (``flavors.NAME.drop``).
DROPPABLE = ("lrn", "dropout")


class _Parser(FieldReader):
    """Turns the plain data from ``load_yaml`` into an ArchSpec, with located errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.row: str | None = None
        self.conv_defaults: dict[str, Any] = {}
        self.units: dict[str, dict[str, int]] = {}
        self.nesting = 0  # branches inside branches around the layer being parsed

    def checked_defaults(self, given: dict, line: int) -> dict:
        """The spec-wide conv defaults, each checked where it is written (padding 'same' is
        checked against each conv's kernel where it is used)."""
        lines = getattr(given, "key_lines", {})
        checked: dict[str, Any] = {}
        for key, value in given.items():
            what, at = f"defaults.conv.{key}", lines.get(key, line)
            if key == "bn_eps":
                checked[key] = self.bn_eps(value, what, at)
            elif key == "padding":
                self.padding(value, (1, 1), at)
                checked[key] = value
            else:
                checked[key] = self.boolean(value, what, at)
        return checked

    # -- layers
    def layers(self, items, what: str, line: int) -> tuple[Layer, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail(f"{what} must be a non-empty list of layers", line)
        lines = getattr(items, "item_lines", [line] * len(items))
        return tuple(self.layer(item, item_line) for item, item_line in zip(items, lines))

    def layer(self, item, line: int) -> Layer:
        if not isinstance(item, dict) or len(item) != 1:
            raise self.fail("a layer must be a one-key mapping such as '{conv: {out: 64, kernel: 3}}'",
                            line)
        ((op, args),) = item.items()
        if op == "branches":
            if not isinstance(args, list) or len(args) < 2:
                raise self.fail("branches must be a list of at least two layer lists", line)
            if self.nesting >= MAX_NESTING:
                raise self.fail(f"branches and residual blocks nest more than {MAX_NESTING} levels "
                                "deep", line)
            lines = getattr(args, "item_lines", [line] * len(args))
            self.nesting += 1
            branches = tuple(self.layers(b, "a branch", bl) for b, bl in zip(args, lines))
            self.nesting -= 1
            return Branches(branches, line=line)
        if op == "residual":
            return self.residual(args, line)
        if op not in _LAYER_KEYS:
            known = ", ".join(sorted([*_LAYER_KEYS, "branches", "residual"]))
            raise self.fail(f"unknown layer type {quoted(op)} (known: {known})", line)
        args = self.mapping(args, f"{op} layer", line)
        required, optional = _LAYER_KEYS[op]
        self.keys(args, required | optional, required, f"{op} layer", line)
        if op in ("conv", "separable"):
            d = {**self.conv_defaults, **args}
            kernel = self.pair(d["kernel"], "kernel", line)
            out = self.integer(d["out"], "out", line)
            common = dict(out=out, kernel=kernel,
                          stride=self.pair(d.get("stride", 1), "stride", line),
                          padding=self.padding(d.get("padding", 0), kernel, line),
                          bias=self.boolean(d.get("bias", True), "bias", line),
                          bn_eps=self.bn_eps(d.get("bn_eps"), "bn_eps", line),
                          relu=self.boolean(d.get("relu", True), "relu", line), line=line)
            if op == "separable":
                return Separable(multiplier=self.integer(d.get("multiplier", 1), "multiplier",
                                                         line), **common)
            groups = self.integer(d.get("groups", 1), "groups", line)
            if out % groups:
                raise self.fail(f"out ({out}) must be divisible by groups ({groups})", line)
            role = d.get("role")
            return Conv(groups=groups, role=None if role is None else self.text(role, "role", line),
                        **common)
        if op in ("maxpool", "avgpool"):
            kernel = self.pair(args["kernel"], "kernel", line)
            padding = self.padding(args.get("padding", 0), kernel, line)
            if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
                raise self.fail(f"pool padding {padding} must be at most half the kernel {kernel}",
                                line)
            role = args.get("role")
            return Pool(kind=op[:3], kernel=kernel,
                        stride=self.pair(args.get("stride", args["kernel"]), "stride", line),
                        padding=padding,
                        ceil_mode=self.boolean(args.get("ceil_mode", False), "ceil_mode", line),
                        count_include_pad=self.boolean(args.get("count_include_pad", True),
                                                       "count_include_pad", line),
                        role=None if role is None else self.text(role, "role", line), line=line)
        if op == "global_avgpool":
            return GlobalAvgPool(line=line)
        if op == "adaptive_avgpool":
            return AdaptiveAvgPool(size=self.pair(args["size"], "size", line), line=line)
        if op == "relu":
            return ReLU(line=line)
        if op == "lrn":
            return LRN(size=self.integer(args["size"], "size", line),
                       alpha=self.number(args.get("alpha", 1e-4), "alpha", line),
                       beta=self.number(args.get("beta", 0.75), "beta", line),
                       k=self.number(args.get("k", 1.0), "k", line), line=line)
        if op == "dropout":
            p = self.number(args["p"], "p", line)
            if not 0 <= p < 1:
                raise self.fail(f"dropout p must be in [0, 1), got {p}", line)
            return Dropout(p=p, line=line)
        if op == "linear":
            return Linear(out=self.integer(args["out"], "out", line),
                          bias=self.boolean(args.get("bias", True), "bias", line),
                          relu=self.boolean(args.get("relu", False), "relu", line), line=line)
        return Softmax(line=line)

    def residual(self, args, line: int) -> Residual:
        """``residual: {body: [...], shortcut: [...], scale: 0.17, relu: true}``."""
        args = self.mapping(args, "residual", line)
        self.keys(args, {"body", "shortcut", "scale", "relu"}, {"body"}, "residual", line)
        lines = getattr(args, "key_lines", {})
        scale = self.number(args.get("scale", 1.0), "scale", lines.get("scale", line))
        if scale == 0:
            raise self.fail("residual scale must not be 0 (the body would be discarded)",
                            lines.get("scale", line))
        if self.nesting >= MAX_NESTING:
            raise self.fail(f"branches and residual blocks nest more than {MAX_NESTING} levels "
                            "deep", line)
        shortcut = args.get("shortcut")
        self.nesting += 1
        body = self.layers(args["body"], "residual body", lines.get("body", line))
        shortcut = () if shortcut is None else self.layers(shortcut, "residual shortcut",
                                                           lines.get("shortcut", line))
        self.nesting -= 1
        return Residual(body=body, shortcut=shortcut, scale=scale,
                        relu=self.boolean(args.get("relu", False), "relu", line), line=line)

    def filter_layers(self, filters: dict[str, int], line: int) -> tuple[Layer, ...]:
        """Expand Table 1's filter columns into convs (and the pool branch), tagged by role."""
        d = self.conv_defaults

        def conv(role: str, kernel: int) -> Conv:
            return Conv(out=filters[role], kernel=(kernel, kernel),
                        padding=((kernel - 1) // 2,) * 2, bias=d.get("bias", True),
                        bn_eps=d.get("bn_eps"), relu=d.get("relu", True), role=role, line=line)

        for reduce, main in (("ch3x3red", "ch3x3"), ("ch5x5red", "ch5x5")):
            if reduce in filters and main not in filters:
                raise self.fail(f"{reduce} is given without {main}", line)
        branches = []
        if "ch1x1" in filters:
            branches.append((conv("ch1x1", 1),))
        for reduce, main, k in (("ch3x3red", "ch3x3", 3), ("ch5x5red", "ch5x5", 5)):
            if main in filters:
                branches.append(((conv(reduce, 1),) if reduce in filters else ()) + (conv(main, k),))
        if "pool_proj" in filters:
            pool = Pool(kind="max", kernel=(3, 3), stride=(1, 1), padding=(1, 1), ceil_mode=True,
                        role="pool", line=line)
            branches.append((pool, conv("pool_proj", 1)))
        if len(branches) == 1:
            return branches[0]
        return (Branches(tuple(branches), line=line),)

    # -- rows, heads, spec
    def parse_row(self, data, line: int) -> Row:
        data = self.mapping(data, "a row", line)
        self.row = data.get("name") if isinstance(data.get("name"), str) else None
        self.keys(data, _ROW_KEYS, {"name", "type"}, "a row", line)
        lines = getattr(data, "key_lines", {})
        at = lambda key: lines.get(key, line)  # noqa: E731
        name = self.text(data["name"], "name", at("name"))
        filters = {c: self.integer(data[c], c, at(c)) for c in FILTER_COLUMNS if c in data}
        layers = self.filter_layers(filters, line) if filters else ()
        if "layers" in data:
            layers += self.layers(data["layers"], "layers", at("layers"))
        if not layers:
            raise self.fail("a row needs 'layers' or filter columns (ch1x1, ch3x3, ...)", line)
        depth = data.get("depth")
        printed = Printed(
            patch=self.printed(data, "patch", at("patch")),
            output_size=self.printed(data, "output_size", at("output_size")),
            depth=None if depth is None else self.integer(depth, "depth", at("depth"), minimum=0),
            params=self.printed(data, "params", at("params")),
            ops=self.printed(data, "ops", at("ops")),
            params_value=self.printed_number(data.get("params"), "params", at("params")),
            ops_value=self.printed_number(data.get("ops"), "ops", at("ops")),
        )
        alternative = None
        if "alternative" in data:
            alt = self.mapping(data["alternative"], "alternative", at("alternative"))
            self.keys(alt, {"note", "layers"}, {"note", "layers"}, "alternative", at("alternative"))
            alternative = Alternative(note=self.text(alt["note"], "note", at("alternative"),
                                                     limit=TEXT_CHARS, multiline=True),
                                      layers=self.layers(alt["layers"], "alternative layers",
                                                         at("alternative")))
        note, deviation = data.get("note"), data.get("deviation")
        return Row(name=name, type=self.text(data["type"], "type", at("type")), layers=layers,
                   filters=filters, printed=printed,
                   note=None if note is None else self.text(note, "note", at("note"),
                                                            limit=TEXT_CHARS, multiline=True),
                   alternative=alternative,
                   deviation=None if deviation is None else self.text(
                       deviation, "deviation", at("deviation"), limit=TEXT_CHARS, multiline=True),
                   line=line)

    def parse_aux(self, data, line: int) -> AuxHead:
        data = self.mapping(data, "an aux head", line)
        self.row = data.get("name") if isinstance(data.get("name"), str) else None
        self.keys(data, {"name", "after", "layers", "loss_weight"}, {"name", "after", "layers"},
                  "an aux head", line)
        return AuxHead(name=self.text(data["name"], "name", line),
                       after=self.text(data["after"], "after", line),
                       layers=self.layers(data["layers"], "layers", line),
                       loss_weight=None if data.get("loss_weight") is None else
                       self.number(data["loss_weight"], "loss_weight", line),
                       line=line)

    def parse_flavor(self, name: str, body, line: int, rows: dict[str, int]) -> dict:
        """A flavour: conv settings for every conv, per-role conv changes, layer kinds it drops,
        and rows whose layers it replaces (see ``variants.apply_flavor``)."""
        if name == "paper":
            raise self.fail("'paper' is the spec itself and cannot be redefined as a flavour", line)
        what = f"flavor {name}"
        body = self.mapping(body, what, line)
        self.keys(body, {"note", "conv", "roles", "drop", "replace"}, set(), what, line)
        conv = self.mapping(body.get("conv"), f"{what} conv", line)
        self.keys(conv, {"bias", "bn_eps", "relu"}, set(), f"{what} conv", line)
        settings = {key: self.boolean(conv[key], key, line) for key in ("bias", "relu") if key in conv}
        if "bn_eps" in conv:
            settings["bn_eps"] = self.bn_eps(conv["bn_eps"], "bn_eps", line)
        roles = {}
        for role, change in self.mapping(body.get("roles"), f"{what} roles", line).items():
            change = self.mapping(change, f"{what} role {role}", line)
            self.keys(change, {"kernel", "padding"}, {"kernel"}, f"{what} role {role}", line)
            kernel = self.pair(change["kernel"], "kernel", line)
            roles[str(role)] = {"kernel": kernel,
                                "padding": self.padding(change.get("padding", "same"), kernel, line)}
        drop = body.get("drop") or []
        if not isinstance(drop, list) or any(kind not in DROPPABLE for kind in drop):
            raise self.fail(f"{what} drop must be a list of layer kinds from "
                            f"{', '.join(DROPPABLE)}, got {drop!r}", line)
        replace = {}
        for target, layers in self.mapping(body.get("replace"), "replace", line).items():
            if target not in rows:
                raise self.fail(f"{what} replaces unknown row {quoted(target)}", line)
            replace[target] = self.layers(layers, f"{what} layers", line)
        note = body.get("note")
        return {"note": None if note is None else self.text(note, f"{what} note", line,
                                                            limit=TEXT_CHARS, multiline=True),
                "conv": settings,
                "roles": roles, "drop": tuple(drop), "replace": replace}

    def claims(self, data, line: int) -> tuple:
        """The ``claims:`` list (see incprof/claims.py)."""
        from .claims import parse_claim

        entries = data.get("claims") or []
        if not isinstance(entries, list):
            raise self.fail("claims must be a list", line)
        lines = getattr(entries, "item_lines", [line] * len(entries))
        return tuple(parse_claim(self.mapping(entry, "a claim", item_line), item_line, self.path)
                     for entry, item_line in zip(entries, lines))

    def parse(self, data) -> ArchSpec:
        if not isinstance(data, dict):
            raise self.fail(f"the top level must be a mapping, got {kind(data)}", 1)
        self.keys(data, _TOP_KEYS, {"name", "input", "rows"}, "the spec", 1)
        lines = getattr(data, "key_lines", {})
        at = lambda key: lines.get(key, 1)  # noqa: E731
        inp = data["input"]
        if not isinstance(inp, list) or len(inp) != 3:
            raise self.fail("input must be [channels, height, width]", at("input"))
        shape = (self.integer(inp[0], "input channels", at("input")),
                 self.integer(inp[1], "input height", at("input"), maximum=MAX_INPUT_SIDE),
                 self.integer(inp[2], "input width", at("input"), maximum=MAX_INPUT_SIDE))
        defaults = self.mapping(data.get("defaults"), "defaults", at("defaults"))
        self.keys(defaults, {"conv"}, set(), "defaults", at("defaults"))
        conv_defaults = self.mapping(defaults.get("conv"), "defaults.conv", at("defaults"))
        self.keys(conv_defaults, _CONV_DEFAULT_KEYS, set(), "defaults.conv", at("defaults"))
        self.conv_defaults = self.checked_defaults(conv_defaults, at("defaults"))
        units = self.mapping(data.get("paper_units"), "paper_units", at("paper_units"))
        self.keys(units, {"params", "ops"}, set(), "paper_units", at("paper_units"))
        for column, table in units.items():
            table = self.mapping(table, f"paper_units.{column}", at("paper_units"))
            self.units[column] = {}
            for k, v in table.items():
                k = self.text(str(k), f"a paper_units.{column} suffix", at("paper_units"))
                self.units[column][k] = self.integer(v, f"paper_units.{column}.{k}",
                                                     at("paper_units"))
        rows_data = data["rows"]
        if not isinstance(rows_data, list) or not rows_data:
            raise self.fail("rows must be a non-empty list", at("rows"))
        row_lines = getattr(rows_data, "item_lines", [at("rows")] * len(rows_data))
        rows = tuple(self.parse_row(r, ln) for r, ln in zip(rows_data, row_lines))
        aux_data = data.get("aux") or []
        if not isinstance(aux_data, list):
            raise self.fail("aux must be a list of heads", at("aux"))
        aux_lines = getattr(aux_data, "item_lines", [at("aux")] * len(aux_data))
        aux = tuple(self.parse_aux(a, ln) for a, ln in zip(aux_data, aux_lines))
        self.row = None
        seen: dict[str, int] = {}
        for item in (*rows, *aux):
            if item.name in seen:
                raise SpecError(f"duplicate name {quoted(item.name)} (first on line {seen[item.name]})",
                                path=self.path, line=item.line, row=item.name)
            seen[item.name] = item.line
        for head in aux:
            if head.after not in {r.name for r in rows}:
                raise SpecError(f"aux head follows unknown row {quoted(head.after)}", path=self.path,
                                line=head.line, row=head.name)
        flavors = {}
        for name, body in self.mapping(data.get("flavors"), "flavors", at("flavors")).items():
            name = self.text(str(name), "flavor name", at("flavors"))
            flavors[name] = self.parse_flavor(name, body, at("flavors"), seen)
        published_data = data.get("published") or []
        if not isinstance(published_data, list):
            raise self.fail("published must be a list", at("published"))
        published = []
        for entry in published_data:
            entry = self.mapping(entry, "a published entry", at("published"))
            self.keys(entry, {"source", "flavor", "aux", "params", "macs", "input"}, {"source"},
                      "a published entry", at("published"))
            macs = entry.get("macs")
            if macs is not None and not re.fullmatch(r"[0-9]+(\.[0-9]+)?[KMG]", str(macs)):
                raise self.fail(f"published macs must look like 5.713G (a number and K, M or G), "
                                f"got {quoted(macs)}", at("published"))
            published.append(Published(
                source=self.text(entry["source"], "source", at("published"), limit=TEXT_CHARS),
                flavor=self.text(entry.get("flavor", "paper"), "flavor", at("published")),
                aux=self.boolean(entry.get("aux", False), "aux", at("published")),
                params=None if entry.get("params") is None else self.integer(
                    entry["params"], "params", at("published"), maximum=10**13),
                macs=None if macs is None else str(macs),
                input=None if entry.get("input") is None else self.pair(
                    entry["input"], "published input", at("published"))))
        depth = data.get("paper_depth")
        name = self.text(data["name"], "name", at("name"))
        title, source = data.get("title"), data.get("source")
        return ArchSpec(
            name=name, title=name if title is None else self.text(title, "title", at("title")),
            source="" if source is None else self.text(source, "source", at("source"),
                                                       limit=TEXT_CHARS),
            input=shape, rows=rows, aux=aux,
            paper_depth=None if depth is None else self.integer(depth, "paper_depth",
                                                                at("paper_depth"), minimum=0),
            year=None if data.get("year") is None else self.integer(
                data["year"], "year", at("year"), minimum=1900, maximum=2100),
            flavors=flavors, published=tuple(published), claims=self.claims(data, at("claims")),
            path=self.path,
            paper_units={c: dict(self.units.get(c, DEFAULT_UNITS)) for c in ("params", "ops")})


# ----------------------------------------------------------------------------------------------- shapes
def layer_out_shape(layer: Layer, shape: Shape) -> Shape:
    """Output shape of one layer for an input shape (raises SpecError if it does not fit)."""
    c, h, w = shape
    if isinstance(layer, Conv):
        if c % layer.groups:
            raise SpecError(f"conv input channels ({c}) not divisible by groups ({layer.groups})",
                            line=layer.line)
        return (layer.out, *_window(layer.kernel, layer.stride, layer.padding, False, (h, w),
                                    layer.line, "conv"))
    if isinstance(layer, Separable):
        return (layer.out, *_window(layer.kernel, layer.stride, layer.padding, False, (h, w),
                                    layer.line, "separable conv"))
    if isinstance(layer, Pool):
        return (c, *_window(layer.kernel, layer.stride, layer.padding, layer.ceil_mode, (h, w),
                            layer.line, f"{layer.kind} pool"))
    if isinstance(layer, GlobalAvgPool):
        return (c, 1, 1)
    if isinstance(layer, AdaptiveAvgPool):
        return (c, *layer.size)
    if isinstance(layer, Linear):
        return (layer.out, 1, 1)
    if isinstance(layer, Branches):
        outs = [walk(branch, shape)[1] for branch in layer.branches]
        sizes = {o[1:] for o in outs}
        if len(sizes) > 1:
            shown = ", ".join(f"{o[1]}x{o[2]}" for o in outs)
            raise SpecError(f"branches end at different sizes ({shown}); they cannot be "
                            "concatenated", line=layer.line)
        return (sum(o[0] for o in outs), *outs[0][1:])
    if isinstance(layer, Residual):
        body = walk(layer.body, shape)[1]
        shortcut = walk(layer.shortcut, shape)[1]
        if body != shortcut:
            what = "its input" if not layer.shortcut else "the shortcut's"
            raise SpecError(f"the residual body gives {format_shape(body)} but {what} is "
                            f"{format_shape(shortcut)}; they cannot be added", line=layer.line)
        return body
    if isinstance(layer, (LRN, ReLU, Dropout, Softmax)):
        return shape
    raise TypeError(f"no shape rule for layer type {type(layer).__name__}")


def _window(kernel: Pair, stride: Pair, padding: Pair, ceil: bool, hw: Pair, line: int,
            what: str) -> Pair:
    """PyTorch's output-size rule for convs and pools, per spatial axis (what ``build`` gets).

    floor: ``(n + 2p - k) // s + 1``. ceil (pools only): ``ceil((n + 2p - k) / s) + 1``, less one
    if the last window would start at or past ``n + p``. Caffe's pooling layer (pooling_layer.cpp,
    round_mode CEIL, its default for every pooling method) uses the same ceil formula but drops the
    last window only when the padding is non-zero. The two rules differ only with zero padding and
    a stride larger than the kernel, where Caffe keeps a window that starts past the input; no
    table here has such a pool.
    """
    out = []
    for k, s, p, n in zip(kernel, stride, padding, hw):
        span = n + 2 * p - k
        if span < 0:
            raise SpecError(f"{what} kernel {kernel[0]}x{kernel[1]} is larger than its padded "
                            f"input {hw[0]}x{hw[1]}; the shape shrinks to nothing", line=line)
        size = (-(-span // s) if ceil else span // s) + 1
        if ceil and (size - 1) * s >= n + p:  # the last window must start inside the input
            size -= 1
        out.append(size)
    return (out[0], out[1])


def walk(layers: tuple[Layer, ...], shape: Shape) -> tuple[list[tuple[Layer, Shape, Shape]], Shape]:
    """Each top-level layer with its input and output shape, and the final shape."""
    steps = []
    for layer in layers:
        out = layer_out_shape(layer, shape)
        steps.append((layer, shape, out))
        shape = out
    return steps, shape


def depth(layers: tuple[Layer, ...]) -> int:
    """Layers with parameters on the longest path (the paper's 'depth' column)."""
    total = 0
    for layer in layers:
        if isinstance(layer, (Conv, Separable, Linear)):
            total += 1  # a separable conv counts once, as Xception's "36 convolutional layers" do
        elif isinstance(layer, Branches):
            total += max(depth(b) for b in layer.branches)
        elif isinstance(layer, Residual):
            total += max(depth(layer.body), depth(layer.shortcut))
    return total


@dataclass(frozen=True)
class Placed:
    """A row or aux head placed in the network: its input and output shape per image."""

    name: str
    layers: tuple[Layer, ...]
    in_shape: Shape
    out_shape: Shape
    is_aux: bool = False


def place(spec: ArchSpec, input_hw: Pair | None = None) -> list[Placed]:
    """Infer every row's (and aux head's) input and output shape, in network order."""
    shape: Shape = (spec.input[0], *(input_hw or spec.input[1:]))
    placed: list[Placed] = []
    outputs: dict[str, tuple[Shape, bool]] = {}
    flat = False
    for item in (*spec.rows, *spec.aux):
        is_aux = isinstance(item, AuxHead)
        start, flat_in = outputs[item.after] if is_aux else (shape, flat)
        try:
            _, out = walk(item.layers, start)
            flat_out = flat_after(item.layers, flat_in)
        except SpecError as exc:
            raise exc.located(path=spec.path, line=item.line, row=item.name) from None
        placed.append(Placed(item.name, item.layers, start, out, is_aux))
        if not is_aux:
            shape, flat = out, flat_out
            outputs[item.name] = (shape, flat)
    return placed


def flat_after(layers: tuple[Layer, ...], flat: bool, inside: bool = False) -> bool:
    """Whether layers leave a flattened (N, features) tensor, given whether they get one. A linear
    layer flattens; a spatial layer after it works on a 1x1 map again, except inside branches,
    where that and branches ending some flattened, some spatial are refused (SpecError)."""
    for layer in layers:
        if isinstance(layer, Branches):
            ends = [flat_after(b, flat, True) for b in layer.branches]
            if len(set(ends)) > 1:
                shown = ", ".join("flat" if end else "spatial" for end in ends)
                raise SpecError(f"branches end in different ranks ({shown}: a linear layer "
                                "flattens its branch); they cannot be concatenated", line=layer.line)
            flat = ends[0]
        elif isinstance(layer, Linear):
            flat = True
        elif isinstance(layer, Residual) and any(flat_after(part, False, True)
                                                 for part in sublayers(layer)):
            raise SpecError("a residual body or shortcut ends in a linear layer; the sum needs "
                            "the spatial tensors of convs and pools", line=layer.line)
        elif flat and not isinstance(layer, (Dropout, Softmax)):
            if inside:
                what = f"{layer.kind}pool" if isinstance(layer, Pool) else type(layer).__name__
                raise SpecError(f"a {what.lower()} layer follows a linear layer "
                                "inside branches; flat and spatial tensors cannot mix there",
                                line=layer.line)
            flat = False
    return flat


def format_shape(shape: Shape) -> str:
    """'HxWxC', the way the paper prints output sizes."""
    return f"{shape[1]}x{shape[2]}x{shape[0]}"


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


def leaves(layers: tuple[Layer, ...]):
    """Every layer that is not a Branches or Residual, depth first (the layers inside them
    included: a residual's body, then its shortcut)."""
    for layer in layers:
        if isinstance(layer, (Branches, Residual)):
            for part in sublayers(layer):
                yield from leaves(part)
        else:
            yield layer


def sublayers(layer: Layer) -> tuple[tuple[Layer, ...], ...]:
    """The layer sequences nested in a layer: a Branches' branches, a Residual's body and
    shortcut; none for the others."""
    if isinstance(layer, Branches):
        return layer.branches
    if isinstance(layer, Residual):
        return (layer.body, layer.shortcut)
    return ()


def _windows(layers: tuple[Layer, ...]):
    return ((leaf.kernel, leaf.stride) for leaf in leaves(layers)
            if isinstance(leaf, (Conv, Separable, Pool)))


def parse_spec(data, path: str = "<spec>") -> ArchSpec:
    """Build and check an ArchSpec from already-loaded YAML data."""
    spec = _Parser(path).parse(data)
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


def replace_layers(layers: tuple[Layer, ...], fn) -> tuple[Layer, ...]:
    """Rebuild a layer tuple bottom-up; ``fn(layer)`` returns a tuple of layers to put in its place."""
    out: list[Layer] = []
    for layer in layers:
        if isinstance(layer, Branches):
            layer = dataclasses.replace(
                layer, branches=tuple(replace_layers(b, fn) for b in layer.branches))
        elif isinstance(layer, Residual):
            layer = dataclasses.replace(layer, body=replace_layers(layer.body, fn),
                                        shortcut=replace_layers(layer.shortcut, fn))
        out.extend(fn(layer))
    return tuple(out)
