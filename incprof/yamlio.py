"""Safe YAML loading that keeps line numbers and refuses anything but plain data.

PyYAML's ``compose`` builds a node graph without constructing Python objects; we walk it ourselves so
that every mapping and list remembers its line, duplicate keys are errors, non-standard tags (such as
``!!python/object``) are refused, and alias expansion ("billion laughs") is bounded by a node budget.
"""

from __future__ import annotations

from pathlib import Path

import yaml

MAX_NODES = 200_000
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
    from .errors import SpecError

    name = str(path)
    if text is None:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise SpecError(f"cannot read file: {exc.strerror or exc}", path=name) from None
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(f"not UTF-8 text (byte {exc.start})", path=name) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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


class _Converter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.budget = MAX_NODES
        self.scalars = yaml.SafeLoader("")

    def convert(self, node):
        from .errors import SpecError

        self.budget -= 1
        line = node.start_mark.line + 1
        if self.budget < 0:
            raise SpecError(f"document expands to more than {MAX_NODES} nodes "
                            "(are aliases multiplying it?)", path=self.path, line=line)
        if node.tag == "tag:yaml.org,2002:merge":
            raise SpecError("YAML merge keys ('<<') are not supported; write the keys out",
                            path=self.path, line=line)
        if node.tag not in _PLAIN_TAGS:
            raise SpecError(f"tag {node.tag!r} is not allowed; only plain YAML data is",
                            path=self.path, line=line)
        if isinstance(node, yaml.MappingNode):
            out = LineDict()
            out.line, out.key_lines = line, {}
            for key_node, value_node in node.value:
                key = self.convert(key_node)
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise SpecError("mapping keys must be plain scalars", path=self.path,
                                    line=key_line)
                if key in out:
                    raise SpecError(f"duplicate key {key!r}", path=self.path, line=key_line)
                out[key] = self.convert(value_node)
                out.key_lines[key] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            out = LineList()
            out.line = line
            out.item_lines = [item.start_mark.line + 1 for item in node.value]
            out.extend(self.convert(item) for item in node.value)
            return out
        try:
            return self.scalars.construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise SpecError(f"bad scalar {node.value!r}: {exc}", path=self.path, line=line) from None
