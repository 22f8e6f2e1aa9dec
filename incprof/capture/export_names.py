"""Names an exported spec can hold: a model's module and class names mapped to text the spec reader
accepts, the original kept beside it.

A module's name is whatever its code gave ``add_module``: control characters, escape sequences,
lone surrogates, 100,000 characters. A spec's names are at most ``NAME_CHARS`` characters of UTF-8
without control characters (incprof.spec.fields), and its row names are unique. ``legal_name`` maps
one to the other: each character the reader refuses becomes ``_``, and a name cut to fit, or one
that would repeat another, ends in ``~`` and eight hex digits of its original's SHA-256, so
distinct originals keep distinct names. ``original_comment`` is the YAML comment that keeps the
original beside a changed name, JSON-escaped on one line.
"""

from __future__ import annotations

import hashlib
import json
import re

from ..spec.fields import NAME_CHARS, TEXT_CHARS

# Each character a spec's text refuses: controls, separators, bidi overrides (as spec.fields), lone
# surrogates.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def legal_name(original: str, taken: set[str] | None = None, limit: int = NAME_CHARS) -> str:
    """``original`` as a name the spec reader accepts (see the module docstring), not in
    ``taken``; the name is added to ``taken``."""
    taken = set() if taken is None else taken
    name = _REFUSED.sub("_", original).strip() or "_"
    if len(name) > limit or name in taken:
        digest = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()
        tail, n = f"~{digest[:8]}", 1
        name = name[:limit - len(tail)].rstrip() + tail
        while name in taken:  # the same original twice, or a hash collision: count on
            n += 1
            tail = f"~{digest[:8]}~{n}"
            name = name[:limit - len(tail)].rstrip() + tail
    taken.add(name)
    return name


def legal_text(original: str, limit: int = TEXT_CHARS) -> str:
    """``original`` as a title or type the spec reader accepts (not necessarily unique)."""
    return legal_name(original, None, limit)


def original_comment(original: str) -> str:
    """A one-line YAML comment holding ``original`` JSON-escaped (ASCII, controls as \\uXXXX)."""
    return "# was: " + json.dumps(original, ensure_ascii=True)


def read_original(comment: str) -> str:
    """The original name an ``original_comment`` holds."""
    return json.loads(comment.strip().removeprefix("# was: "))
