"""Counts as people write them: '7.00M' for display, '1.6G' or '6,998,552' parsed back. No heavy
imports, so counting and the memory guard can use it without loading the presentation layer."""

from __future__ import annotations

import math
import re
import sys
from decimal import ROUND_HALF_UP, Decimal

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


def round_half_up(value, decimals: int) -> Decimal:
    """``value`` (an int, a float read as it prints, or a Decimal) rounded half up to
    ``decimals`` places, the way a figure printed at that precision reads: 2.45 -> 2.5 at 1."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def _split(text: str) -> tuple[str, int]:
    match = _COUNT.fullmatch(text or "")
    if not match:
        raise ValueError(f"not a count like 7000000, 7M or 1.6G: {text!r}")
    return match[1].replace(",", "").replace("_", ""), SCALES[match[2].upper()]
