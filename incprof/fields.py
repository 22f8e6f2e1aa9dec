"""Limits on the text of a spec: its length, UTF-8 and no control characters (no torch).

Names, types and printed columns are short single lines; notes, sources and titles may be longer,
and notes may span lines. Anything else is refused where it is parsed, so no later output (a
terminal, markdown, CSV, a plot) meets a 10 MB title, a lone surrogate or an escape sequence.
"""

from __future__ import annotations

import re

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


def quoted(value, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
