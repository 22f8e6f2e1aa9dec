"""Text from a spec is data, never markup: one helper per output format makes it literal there.

Names, titles, types and notes come from user YAML and reach the terminal, rich tables, markdown,
CSV and matplotlib. Each helper below takes such text (or a cell that contains it) and returns it
so that the format shows it as written and cannot read structure or commands into it.
"""

from __future__ import annotations

import re

# CSI, OSC, DCS/SOS/PM/APC strings and two-character escapes (ECMA-48).
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                   r"|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])")
# C0 and C1 controls, DEL, and the bidirectional overrides and isolates that reorder a line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What json.dumps leaves raw of those (it escapes C0), and lone surrogates.
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# '>' needs no escape inline: it starts a quote only at a line's start (see block) and a tag
# only after '<', which is escaped.
_MARKDOWN_INLINE = re.compile(r"([\\`|<\[\]])")
_MARKDOWN_BLOCK = re.compile(r"^(\s*)([#>+*=-]|\d+[.)])")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")


def terminal(text) -> str:
    """One line of plain text for a terminal: escape sequences and control characters removed,
    line breaks and tabs turned into spaces, and characters UTF-8 cannot encode replaced."""
    text = _ANSI.sub("", str(text))
    text = _CONTROL.sub(lambda m: " " if m[0] in "\t\n\r\x0b\x0c" else "", text)
    return text.encode("utf-8", "replace").decode("utf-8")


def markdown(text, block: bool = False) -> str:
    """Text for a markdown table cell (or, with ``block``, the start of a list item): one line,
    with pipes, backslashes, backticks, '<' and square brackets escaped, so it adds no cell, row,
    HTML tag, image or link; ``block`` also escapes a leading heading, quote or list marker."""
    text = _MARKDOWN_INLINE.sub(r"\\\1", terminal(text))
    return _MARKDOWN_BLOCK.sub(r"\1\\\2", text) if block else text


def markdown_code(text) -> str:
    """Text as an inline markdown code span, on one line, fenced by more backticks than it holds."""
    text = terminal(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def csv_cell(value):
    """A CSV cell a terminal shows and a spreadsheet reads as plain text: one line, without escape
    sequences or control characters (as ``terminal``), and text then starting with =, +, -, @
    gets a leading apostrophe, unless it is a plain number such as -70.8%; other values pass
    unchanged."""
    if not isinstance(value, str):
        return value
    value = terminal(value)
    if value[:1] in ("=", "+", "-", "@") and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def json_document(text: str) -> str:
    """A JSON document (json.dumps' text) with DEL, the C1 controls, the bidirectional overrides
    and isolates and lone surrogates written as ``\\uXXXX`` escapes, as json.dumps writes the C0
    controls: the same strings, none of those characters raw in the output."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def plot_label(text) -> str:
    """Text that matplotlib draws as written: one line, every $ escaped so mathtext never starts
    (incprof keeps usetex off)."""
    return terminal(text).replace("$", r"\$")
