"""YAML layers -> layers: each YAML layer key (conv, maxpool, residual, ...) is read by one method of
``LayerParser``, registered beside it with its layer type in ``LAYER_PARSERS``. A key's required and
optional keys are its layer type's settings, and a setting a spec leaves out takes the dataclass's
default (incprof.spec.layers), so no default is written twice. No torch."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

from ..errors import quoted
from .fields import FieldReader
from .layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool, ReLU,
                     Residual, Separable, Softmax, defaults, settings)
from .model import MAX_NESTING

# Layer kinds a flavour may leave out (``flavors.NAME.drop``), by their YAML key.
DROPPABLE = {"lrn": LRN, "dropout": Dropout}


class LayerReader(NamedTuple):
    """How one YAML layer key is read: the layer type it makes, its (required, optional) keys (None
    where the value is not a mapping of keys, as for branches), and the LayerParser method that reads it."""

    type: type
    keys: tuple[set[str], set[str]] | None
    read: Callable


# Each YAML layer key's reader, registered beside its LayerParser method by ``_reads``.
LAYER_PARSERS: dict[str, LayerReader] = {}


def _reads(op: str, layer_type: type, *, omit: tuple[str, ...] = (), optional: tuple[str, ...] = (),
           mapping: bool = True):
    """Register a LayerParser method as the reader of the YAML layer key ``op``. Its keys are the settings
    of ``layer_type`` (incprof.spec.layers.settings) but those in ``omit`` (set by the method, or
    not taken by this key): those without a default are required, the rest optional, as are those in
    ``optional`` (whose default in YAML is not a fixed value, like a pool's stride: its kernel)."""

    def register(method):
        keys = None
        if mapping:
            names = set(settings(layer_type)) - set(omit)
            required = names - set(defaults(layer_type)) - set(optional)
            keys = (required, names - required)
        LAYER_PARSERS[op] = LayerReader(layer_type, keys, method)
        return method

    return register


class LayerParser(FieldReader):
    """Reads a spec's layers, with located errors (incprof.spec.parse.Parser reads the rest).
    ``conv_defaults`` are the spec's checked ``defaults.conv``; ``nesting`` counts the branches and
    residual blocks around the layer being read."""

    conv_defaults: dict[str, Any]
    nesting: int

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
        if op not in LAYER_PARSERS:
            known = ", ".join(sorted(LAYER_PARSERS))
            raise self.fail(f"unknown layer type {quoted(op)} (known: {known})", line)
        reader = LAYER_PARSERS[op]
        if reader.keys is not None:
            args = self.mapping(args, f"{op} layer", line)
            required, optional = reader.keys
            self.keys(args, required | optional, required, f"{op} layer", line)
        return reader.read(self, op, args, line)

    def given(self, args: dict, line: int, **readers) -> dict:
        """The keys of ``readers`` that ``args`` gives, each read by its reader, in the readers'
        order; the layer's dataclass supplies the defaults of the others."""
        return {key: read(args[key], key, line) for key, read in readers.items() if key in args}

    @_reads("conv", Conv)
    @_reads("separable", Separable)
    def conv(self, op: str, args: dict, line: int) -> Conv | Separable:
        d = {**self.conv_defaults, **args}
        kernel = self.pair(d["kernel"], "kernel", line)
        out = self.integer(d["out"], "out", line)
        common = dict(out=out, kernel=kernel, line=line, **self.given(
            d, line, stride=self.pair, padding=lambda value, key, at: self.padding(value, kernel, at),
            bias=self.boolean, bn_eps=self.bn_eps, relu=self.boolean))
        if op == "separable":
            return Separable(**common, **self.given(d, line, multiplier=self.integer))
        conv = Conv(**common, **self.given(d, line, groups=self.integer))
        if out % conv.groups:
            raise self.fail(f"out ({out}) must be divisible by groups ({conv.groups})", line)
        return dataclasses.replace(conv, **self.given(d, line, role=self.role))

    def role(self, value, what: str, line: int) -> str | None:
        """A layer's role (None: no role)."""
        return None if value is None else self.text(value, what, line)

    @_reads("maxpool", Pool, omit=("kind", "count_include_pad"), optional=("stride",))
    @_reads("avgpool", Pool, omit=("kind",), optional=("stride",))
    def pool(self, op: str, args: dict, line: int) -> Pool:
        kernel = self.pair(args["kernel"], "kernel", line)
        padding = self.given(args, line, padding=lambda value, key, at: self.padding(value, kernel, at))
        if any(p * 2 > k for p, k in zip(padding.get("padding", ()), kernel)):
            raise self.fail(f"pool padding {padding['padding']} must be at most half the kernel "
                            f"{kernel}", line)
        return Pool(kind=op[:3], kernel=kernel,
                    stride=self.pair(args.get("stride", args["kernel"]), "stride", line),
                    **padding, **self.given(args, line, ceil_mode=self.boolean,
                                            count_include_pad=self.boolean, role=self.role),
                    line=line)

    @_reads("global_avgpool", GlobalAvgPool)
    @_reads("relu", ReLU)
    @_reads("softmax", Softmax)
    def bare(self, op: str, args: dict, line: int) -> Layer:
        """A layer with no settings."""
        return LAYER_PARSERS[op].type(line=line)

    @_reads("adaptive_avgpool", AdaptiveAvgPool)
    def adaptive_avgpool(self, op: str, args: dict, line: int) -> AdaptiveAvgPool:
        return AdaptiveAvgPool(size=self.pair(args["size"], "size", line), line=line)

    @_reads("lrn", LRN)
    def lrn(self, op: str, args: dict, line: int) -> LRN:
        return LRN(size=self.integer(args["size"], "size", line),
                   **self.given(args, line, alpha=self.number, beta=self.number, k=self.number),
                   line=line)

    @_reads("dropout", Dropout)
    def dropout(self, op: str, args: dict, line: int) -> Dropout:
        p = self.number(args["p"], "p", line)
        if not 0 <= p < 1:
            raise self.fail(f"dropout p must be in [0, 1), got {quoted(p)}", line)
        return Dropout(p=p, line=line)

    @_reads("linear", Linear)
    def linear(self, op: str, args: dict, line: int) -> Linear:
        return Linear(out=self.integer(args["out"], "out", line),
                      **self.given(args, line, bias=self.boolean, relu=self.boolean), line=line)

    @_reads("branches", Branches, mapping=False)
    def branches(self, op: str, args, line: int) -> Branches:
        if not isinstance(args, list) or len(args) < 2:
            raise self.fail("branches must be a list of at least two layer lists", line)
        self.nest(line)
        lines = getattr(args, "item_lines", [line] * len(args))
        self.nesting += 1
        branches = tuple(self.layers(b, "a branch", bl) for b, bl in zip(args, lines))
        self.nesting -= 1
        return Branches(branches, line=line)

    def nest(self, line: int) -> None:
        """Refuse nesting deeper than MAX_NESTING before parsing another level."""
        if self.nesting >= MAX_NESTING:
            raise self.fail(f"branches and residual blocks nest more than {MAX_NESTING} levels "
                            "deep", line)

    @_reads("residual", Residual)
    def residual(self, op: str, args: dict, line: int) -> Residual:
        """``residual: {body: [...], shortcut: [...], scale: 0.17, relu: true}``."""
        lines = getattr(args, "key_lines", {})
        scale = self.given(args, lines.get("scale", line), scale=self.number)
        if scale.get("scale") == 0:
            raise self.fail("residual scale must not be 0 (the body would be discarded)",
                            lines.get("scale", line))
        self.nest(line)
        self.nesting += 1
        body = self.layers(args["body"], "residual body", lines.get("body", line))
        shortcut = self.given(args, lines.get("shortcut", line), shortcut=lambda value, key, at: (
            () if value is None else self.layers(value, "residual shortcut", at)))
        self.nesting -= 1
        return Residual(body=body, **shortcut, **scale, **self.given(args, line, relu=self.boolean),
                        line=line)

    def filter_layers(self, filters: dict[str, int], line: int) -> tuple[Layer, ...]:
        """Expand Table 1's filter columns into convs (and the pool branch), tagged by role."""
        conv_settings = {key: value for key, value in self.conv_defaults.items() if key != "padding"}

        def conv(role: str, kernel: int) -> Conv:
            return Conv(out=filters[role], kernel=(kernel, kernel),
                        padding=((kernel - 1) // 2,) * 2, role=role, line=line, **conv_settings)

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
