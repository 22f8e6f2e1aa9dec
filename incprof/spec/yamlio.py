"""Safe YAML loading that keeps line numbers and refuses anything but plain data.

PyYAML's ``compose`` builds a node graph without constructing Python objects; we walk it ourselves so
that every mapping and list remembers its line, duplicate keys are errors, non-standard tags (such as
``!!python/object``) are refused, and alias expansion ("billion laughs") is bounded by the node
ceiling (``max_nodes``, ceilings.py). Only a regular file within the ``max_bytes`` ceiling is read.
YAML 1.1's surprising scalars are refused rather than read: ``010`` (octal 8), ``1:30`` (base 60:
90), ``0x10``, ``1_000`` and ``yes``/``no``/``on``/``off`` as booleans; numbers are plain decimals
and booleans are ``true`` or ``false``; ``1.0e308``, text to YAML 1.1, is the float YAML 1.2
reads. libyaml's parser (``CSafeLoader``) is used where PyYAML has it, the pure-Python one
otherwise.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path

import yaml

from . import ceilings

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)"
                    r"|\.(nan|NaN|NAN)")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CANONICAL = {"tag:yaml.org,2002:int": (_INT, "a plain decimal integer"),
              "tag:yaml.org,2002:float": (_FLOAT, "a plain decimal number such as 0.75"),
              "tag:yaml.org,2002:bool": (_BOOL, "true or false, or quote it if you mean text")}
_STR = "tag:yaml.org,2002:str"
# A decimal number with an unsigned exponent (1.0e308): YAML 1.2 reads it as a float, 1.1 as text.
_UNSIGNED_EXPONENT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)[eE][0-9]+")
_PLAIN_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "map", "seq")
}


class LineDict(dict):
    """A dict that knows the line it starts on and the line of each key."""

    line: int = 0
    key_lines: dict


class LineList(list):
    """A list that knows the line it starts on and the line of each item."""

    line: int = 0
    item_lines: list


def load_yaml(path: str | Path, text: str | bytes | None = None):
    """Load one YAML document as plain dicts/lists/scalars, raising SpecError on anything else."""
    from ..errors import SpecError

    name = str(path)
    max_bytes = ceilings.current().max_bytes
    if text is None:
        text = read_spec_bytes(path)
    elif len(text) > max_bytes:
        raise SpecError(f"the spec is larger than {max_bytes} bytes (--max-bytes)", path=name)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"not UTF-8 text (byte {exc.start})", path=name) from None
    try:
        node = yaml.compose(text, Loader=LOADER)
        if node is None:
            raise SpecError("the file is empty", path=name)
        return _Converter(name).convert(node)
    except RecursionError:
        raise SpecError("the document is nested too deeply", path=name) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SpecError(f"invalid YAML: {exc.problem or exc.context}", path=name, line=line) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", path=name) from None


def read_spec_bytes(path: str | Path) -> bytes:
    """The bytes of a spec file, refused at once (SpecError) unless it is a regular file of at most
    the ``max_bytes`` ceiling: a directory, a device such as /dev/zero or a FIFO is never read or
    waited on."""
    from ..errors import SpecError

    name = str(path)
    max_bytes = ceilings.current().max_bytes
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise SpecError(f"not a regular file ({_file_kind(info.st_mode)}); a spec must be a "
                            "YAML file", path=name)
        if info.st_size > max_bytes:
            raise SpecError(f"the file has {info.st_size} bytes, over the limit of {max_bytes} "
                            "(--max-bytes)", path=name)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):  # swapped since the stat
                raise SpecError("not a regular file; a spec must be a YAML file", path=name)
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror or exc}", path=name) from None
    if len(data) > max_bytes:
        raise SpecError(f"the file grew past the limit of {max_bytes} bytes (--max-bytes)",
                        path=name)
    return data


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


class _Converter:
    """Node graph -> LineDict / LineList / scalars. ``row`` is the name of the list item being
    converted under a top-level key (a spec's row or aux head), so scalar errors can name it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.max_nodes = ceilings.current().max_nodes
        self.budget = self.max_nodes
        self.scalars = yaml.SafeLoader("")
        self.row: str | None = None

    def convert(self, node, depth: int = 0):
        from ..errors import SpecError, quoted

        self.budget -= 1
        line = node.start_mark.line + 1
        if self.budget < 0:
            raise SpecError(f"document expands to more than {self.max_nodes} nodes "
                            "(are aliases multiplying it?)", path=self.path, line=line)
        if node.tag == "tag:yaml.org,2002:merge":
            raise SpecError("YAML merge keys ('<<') are not supported; write the keys out",
                            path=self.path, line=line, row=self.row)
        if node.tag not in _PLAIN_TAGS:
            raise SpecError(f"tag {quoted(node.tag)} is not allowed; only plain YAML data is",
                            path=self.path, line=line, row=self.row)
        if isinstance(node, yaml.MappingNode):
            if depth == 2:
                self.row = next((v.value for k, v in node.value if k.value == "name"
                                 and isinstance(v, yaml.ScalarNode)), None)
            out = LineDict()
            out.line, out.key_lines = line, {}
            for key_node, value_node in node.value:
                key = self.convert(key_node, depth + 1)
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise SpecError("mapping keys must be plain scalars", path=self.path,
                                    line=key_line, row=self.row)
                if key in out:
                    raise SpecError(f"duplicate key {quoted(key)}", path=self.path,
                                    line=key_line, row=self.row)
                out[key] = self.convert(value_node, depth + 1)
                out.key_lines[key] = key_line
            if depth == 2:
                self.row = None
            return out
        if isinstance(node, yaml.SequenceNode):
            out = LineList()
            out.line = line
            out.item_lines = [item.start_mark.line + 1 for item in node.value]
            out.extend(self.convert(item, depth + 1) for item in node.value)
            return out
        try:
            value = self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise SpecError(f"bad scalar {quoted(node.value)}: {exc}", path=self.path,
                            line=line, row=self.row) from None
        if node.tag == _STR and not node.style and _UNSIGNED_EXPONENT.fullmatch(node.value):
            return self.float_with_exponent(node.value, line)
        rule = _CANONICAL.get(node.tag)
        if rule and not rule[0].fullmatch(node.value):
            raise SpecError(f"YAML 1.1 reads {quoted(node.value)} as {quoted(value)}; "
                            f"write {rule[1]}", path=self.path, line=line, row=self.row)
        return value

    def float_with_exponent(self, text: str, line: int) -> float:
        """``1.0e308``, which YAML 1.1 reads as text (its exponent has no sign), as the number it
        is in YAML 1.2; refused past the largest 64-bit float."""
        from ..errors import SpecError, quoted

        value = float(text)
        if math.isinf(value):
            raise SpecError(f"{quoted(text)} is beyond the largest 64-bit float (about 1.8e308)",
                            path=self.path, line=line, row=self.row)
        return value
