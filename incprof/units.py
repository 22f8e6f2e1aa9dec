"""Counts as people write them: '7.00M' for display, '1.6G' or '6,998,552' parsed back. No heavy
imports, so counting and the memory guard can use it without loading the presentation layer."""

from __future__ import annotations

import math
import re
import sys

SCALES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_COUNT = re.compile(r"\s*([0-9][0-9,_]*\.?[0-9]*)\s*([KMGT]?)\s*", flags=re.IGNORECASE)


def human(n) -> str:
    """A count in three significant figures with an SI suffix: 6998552 -> '7.00M'; missing
    values (None, NaN, pandas' NA) -> ''."""
    pandas = sys.modules.get("pandas")
    if n is None or (isinstance(n, float) and math.isnan(n)) or (
            pandas is not None and n is pandas.NA):
        return ""
    n = int(n)
    if abs(n) < 1000:
        return str(n)
    value, unit = float(n), ""
    for unit in ("K", "M", "G", "T"):
        value /= 1000
        if abs(value) < 999.5:
            break
    decimals = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
    return f"{value:.{decimals}f}{unit}"


def parse_count(text: str) -> int:
    """'7000000', '7M', '1.6G', '6,998,552' (any case, spaces around) -> the integer count.
    Raises ValueError for anything else."""
    number, scale = _split(text)
    return round(float(number) * scale)


def count_step(text: str) -> int:
    """The place value of a written count's last digit, the precision it was printed at:
    '1.6G' -> 100000000, '7M' -> 1000000, '6,998,552' -> 1."""
    number, scale = _split(text)
    decimals = len(number.split(".")[1]) if "." in number else 0
    return max(1, scale // 10**decimals)


def _split(text: str) -> tuple[str, int]:
    match = _COUNT.fullmatch(text or "")
    if not match:
        raise ValueError(f"not a count like 7000000, 7M or 1.6G: {text!r}")
    return match[1].replace(",", "").replace("_", ""), SCALES[match[2].upper()]
