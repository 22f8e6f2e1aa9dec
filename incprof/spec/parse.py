"""YAML data -> an ArchSpec: every key checked, every error one line with file, line and row.
No torch. Layers are read by incprof.spec.layer_reader."""

from __future__ import annotations

from typing import Any

from ..errors import SpecError, quoted
from . import ceilings
from .claims import FigureReader
from .fields import DEFAULT_UNITS, TEXT_CHARS, kind
from .layer_reader import DROPPABLE, LayerParser
from .model import FILTER_COLUMNS, Alternative, ArchSpec, AuxHead, Printed, Row

_TOP_KEYS = {"name", "title", "source", "year", "input", "defaults", "paper_units", "paper_depth", "departs",
             "rows", "claims", "aux", "flavors", "published", "refereed"}
_ROW_KEYS = {"name", "type", "patch", "output_size", "depth", "layers", "params", "ops", "note",
             "alternative", "deviation", *FILTER_COLUMNS}
_CONV_DEFAULT_KEYS = {"bias", "bn_eps", "relu", "padding"}


class Parser(FigureReader, LayerParser):
    """Turns the plain data from ``load_yaml`` into an ArchSpec, with located errors: the layers
    through LayerParser, the figure lists (``claims:``, ``published:``, ``refereed:``) through
    FigureReader."""

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
        and rows whose layers it replaces (see ``variants.apply_flavor``). ``line``: the line of
        its name; each error names the line of the key at fault."""
        if name == "paper":
            raise self.fail("'paper' is the spec itself and cannot be redefined as a flavour", line)
        what = f"flavor {name}"
        body = self.mapping(body, what, line)
        self.keys(body, {"note", "conv", "roles", "drop", "replace"}, set(), what, line)
        at = _lines(body, line)
        conv = self.mapping(body.get("conv"), f"{what} conv", at("conv"))
        self.keys(conv, {"bias", "bn_eps", "relu"}, set(), f"{what} conv", at("conv"))
        in_conv = _lines(conv, at("conv"))
        settings = {key: self.boolean(conv[key], key, in_conv(key)) for key in ("bias", "relu")
                    if key in conv}
        if "bn_eps" in conv:
            settings["bn_eps"] = self.bn_eps(conv["bn_eps"], "bn_eps", in_conv("bn_eps"))
        roles = {}
        role_map = self.mapping(body.get("roles"), f"{what} roles", at("roles"))
        for role, change in role_map.items():
            role_line = _lines(role_map, at("roles"))(role)
            change = self.mapping(change, f"{what} role {role}", role_line)
            self.keys(change, {"kernel", "padding"}, {"kernel"}, f"{what} role {role}", role_line)
            in_role = _lines(change, role_line)
            kernel = self.pair(change["kernel"], "kernel", in_role("kernel"))
            roles[str(role)] = {"kernel": kernel,
                                "padding": self.padding(change.get("padding", "same"), kernel,
                                                        in_role("padding"))}
        drop = body.get("drop") or []
        kinds = ", ".join(DROPPABLE)
        if not isinstance(drop, list):
            raise self.fail(f"{what} drop must be a list of layer kinds from {kinds}, got "
                            f"{kind(drop)}", at("drop"))
        for i, item in enumerate(drop):
            if not isinstance(item, str) or item not in DROPPABLE:
                item_lines = getattr(drop, "item_lines", [])
                raise self.fail(f"{what} drop: {quoted(item)} is not a layer kind it can drop "
                                f"({kinds})", item_lines[i] if i < len(item_lines) else at("drop"))
        replace = {}
        replace_map = self.mapping(body.get("replace"), "replace", at("replace"))
        for target, layers in replace_map.items():
            target_line = _lines(replace_map, at("replace"))(target)
            if target not in rows:
                raise self.fail(f"{what} replaces unknown row {quoted(target)}", target_line)
            replace[target] = self.layers(layers, f"{what} layers", target_line)
        note = body.get("note")
        return {"note": None if note is None else self.text(note, f"{what} note", at("note"),
                                                            limit=TEXT_CHARS, multiline=True),
                "conv": settings,
                "roles": roles, "drop": tuple(drop), "replace": replace}

    def parse(self, data) -> ArchSpec:
        if not isinstance(data, dict):
            raise self.fail(f"the top level must be a mapping, got {kind(data)}", 1)
        self.keys(data, _TOP_KEYS, {"name", "input", "rows"}, "the spec", 1)
        lines = getattr(data, "key_lines", {})
        at = lambda key: lines.get(key, 1)  # noqa: E731
        inp = data["input"]
        if not isinstance(inp, list) or len(inp) != 3:
            raise self.fail("input must be [channels, height, width]", at("input"))
        max_side = ceilings.current().max_side
        shape = (self.integer(inp[0], "input channels", at("input")),
                 self.integer(inp[1], "input height", at("input"), maximum=max_side),
                 self.integer(inp[2], "input width", at("input"), maximum=max_side))
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
        flavor_map = self.mapping(data.get("flavors"), "flavors", at("flavors"))
        for name, body in flavor_map.items():
            name_line = _lines(flavor_map, at("flavors"))(name)
            name = self.text(str(name), "flavor name", name_line)
            flavors[name] = self.parse_flavor(name, body, name_line, seen)
        published = self.published(data, at("published"))
        depth = data.get("paper_depth")
        name = self.text(data["name"], "name", at("name"))
        title, source, departs = data.get("title"), data.get("source"), data.get("departs")
        return ArchSpec(
            name=name, title=name if title is None else self.text(title, "title", at("title")),
            source="" if source is None else self.text(source, "source", at("source"),
                                                       limit=TEXT_CHARS),
            input=shape, rows=rows, aux=aux,
            paper_depth=None if depth is None else self.integer(depth, "paper_depth",
                                                                at("paper_depth"), minimum=0),
            year=None if data.get("year") is None else self.integer(
                data["year"], "year", at("year"), minimum=1900, maximum=2100),
            flavors=flavors, published=published, claims=self.claims(data, at("claims")),
            refereed=self.refereed(data, at("refereed")),
            departs=None if departs is None else self.text(departs, "departs", at("departs"),
                                                           limit=TEXT_CHARS),
            path=self.path,
            paper_units={c: dict(self.units.get(c, DEFAULT_UNITS)) for c in ("params", "ops")})


def _lines(mapping, line: int):
    """``at(key)``: the line of ``key`` in a mapping read by yamlio (``line`` where it has none)."""
    key_lines = getattr(mapping, "key_lines", {})
    return lambda key: key_lines.get(key, line)
