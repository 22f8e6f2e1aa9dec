"""Reading single fields of a spec (numbers, flags, pairs, printed figures, text), no torch.

Text has limits: names, types, titles and printed columns are short single lines; notes and sources
may be longer, and notes may span lines; all of it is UTF-8 without control characters. Anything
else is refused where it is parsed, so no later output (a terminal, markdown, CSV, a plot) meets a
10 MB title, a lone surrogate or an escape sequence.
"""

from __future__ import annotations

import math
import re

from ..errors import SpecError, quoted
from ..units import read_printed, scales

Pair = tuple[int, int]
MAX_WIDTH = 1 << 20  # channels or features in one layer

NAME_CHARS = 200  # names, types, roles, printed columns
TEXT_CHARS = 4000  # titles, sources, notes, deviations
# C0 and C1 controls, line and paragraph separators, bidirectional overrides and isolates
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROL_IN_NOTES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def text_problem(value: str, limit: int = NAME_CHARS, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be text in a spec, or None if it can: longer than ``limit``
    characters, not encodable as UTF-8, or holding a control character (newlines and tabs are
    allowed where ``multiline``)."""
    if len(value) > limit:
        return f"is {len(value)} characters long, over the limit of {limit}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"cannot be encoded as UTF-8 (character {exc.start + 1} is "
                f"U+{ord(value[exc.start]):04X}, a lone surrogate)")
    found = (_CONTROL_IN_NOTES if multiline else _CONTROL).search(value)
    if found:
        return (f"contains the control character U+{ord(found[0]):04X} "
                f"(character {found.start() + 1})")
    return None


DEFAULT_UNITS = scales(1000, "KMG")  # how a spec's printed params and ops read unless it says


class FieldReader:
    """Checks of single spec fields (numbers, flags, text, pairs, printed figures) that raise a
    SpecError at the field's line, naming the current row. Subclasses set ``path``, ``row`` and
    ``units`` (a spec's paper_units)."""

    path: str
    row: str | None = None
    units: dict[str, dict[str, int]]

    def fail(self, message: str, line: int | None) -> SpecError:
        return SpecError(message, path=self.path, line=line, row=self.row)

    # -- generic checks
    def mapping(self, value, what: str, line: int) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{what} must be a mapping, got {kind(value)}", line)
        return value

    def keys(self, data: dict, allowed: set[str], required: set[str], what: str, line: int) -> None:
        lines = getattr(data, "key_lines", {})
        for key in data:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(f"unknown key {quoted(key)} in {what} (allowed: {hint})",
                                lines.get(key, line))
        for key in sorted(required - set(data)):
            raise self.fail(f"{what} is missing required key {key!r}", line)

    def integer(self, value, what: str, line: int, *, minimum: int = 1,
                maximum: int = MAX_WIDTH) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"{what} must be an integer, got {kind(value)} {quoted(value)}", line)
        if value < minimum:
            raise self.fail(f"{what} must be >= {minimum}, got {quoted(value)}", line)
        if value > maximum:
            raise self.fail(f"{what} must be <= {maximum}, got {quoted(value)}", line)
        return value

    def number(self, value, what: str, line: int) -> float:
        if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+[eE][-+]?[0-9]+", value):
            raise self.fail(f"{what}: YAML 1.1 reads {quoted(value)} as text; write it with a "
                            f"decimal point, e.g. {value.lower().replace('e', '.0e')}", line)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(f"{what} must be a finite number, got {kind(value)} {quoted(value)}", line)
        return float(value)

    def boolean(self, value, what: str, line: int) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"{what} must be true or false, got {kind(value)} {quoted(value)}", line)
        return value

    def text(self, value, what: str, line: int, *, limit: int = NAME_CHARS,
             multiline: bool = False) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{what} must be a non-empty string, got {kind(value)} "
                            f"{quoted(value)}", line)
        problem = text_problem(value, limit, multiline)
        if problem:
            raise self.fail(f"{what} {problem}", line)
        return value

    def printed(self, data: dict, column: str, line: int) -> str | None:
        """A printed column kept verbatim as text (numbers as written), or None."""
        value = data.get(column)
        if value is None:
            return None
        return self.text(value if isinstance(value, str) else str(value), column, line)

    def pair(self, value, what: str, line: int, *, minimum: int = 1) -> Pair:
        """An int, a ``"HxW"`` string or a two-item list."""
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", value)
            if not match:
                raise self.fail(f"{what} must look like 3 or '1x7', got {quoted(value)}", line)
            value = [int(match[1]), int(match[2])]
        if isinstance(value, list):
            if len(value) != 2:
                raise self.fail(f"{what} must have two items, got {len(value)}", line)
            return (self.integer(value[0], what, line, minimum=minimum),
                    self.integer(value[1], what, line, minimum=minimum))
        n = self.integer(value, what, line, minimum=minimum)
        return (n, n)

    def padding(self, value, kernel: Pair, line: int) -> Pair:
        if value == "valid":
            return (0, 0)
        if value == "same":
            if kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
                raise self.fail(f"padding 'same' needs an odd kernel, got {kernel[0]}x{kernel[1]}",
                                line)
            return ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2)
        return self.pair(value, "padding", line, minimum=0)

    def bn_eps(self, value, what: str, line: int) -> float | None:
        """BatchNorm's epsilon (None: no BatchNorm)."""
        if value is not None and self.number(value, what, line) <= 0:
            raise self.fail(f"{what} must be > 0, got {quoted(value)}", line)
        return None if value is None else float(value)

    def printed_number(self, value, column: str, line: int) -> int | None:
        """Parse a printed figure such as '2.7K' or '34M' with the spec's units."""
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.fail(f"{column} must be a number like '159K', got {quoted(value)}", line)
        if isinstance(value, (int, float)):
            if not math.isfinite(value) or not 0 <= value <= 10**15:
                raise self.fail(f"{column} must be a number from 0 to 1e15, got {quoted(value)}", line)
            return round(value)
        units = self.units.get(column, DEFAULT_UNITS)
        try:
            printed = read_printed(value, "".join(units))
        except ValueError:
            raise self.fail(f"{column} must be a number with an optional suffix "
                            f"({', '.join(units)}), got {quoted(value)}", line) from None
        value = round(printed.value * (units[printed.suffix] if printed.suffix else 1))
        if value > 10**15:
            raise self.fail(f"{column} {value:.3g} is beyond any real network", line)
        return value


def kind(value) -> str:
    """How to name the type of a YAML value in a message (never an internal class name)."""
    for types, name in ((dict, "a mapping"), (list, "a list"), (str, "a string"),
                        (bool, "a boolean"), (int, "an integer"), (float, "a number"),
                        (type(None), "nothing")):
        if isinstance(value, types):
            return name
    return "a value"
