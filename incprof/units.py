"""Counts as people write them: '7.00M' for display, '1.6G' or '6,998,552' parsed back, and
figures as papers print them ('2.7K', '13.6M', '+25%', '2.5x') read with their precision. No heavy
imports, so counting and the memory guard can use it without loading the presentation layer."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SCALES = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_PRINTED = re.compile(r"\s*([+-]?)([0-9]*\.?[0-9]+)\s*([A-Za-z%]?)\s*")


@dataclass(frozen=True)
class PrintedNumber:
    """A figure as printed: its sign, its digits as printed ('2.7') and its suffix ('K', 'x',
    '%' or '')."""

    sign: str
    number: str
    suffix: str

    @property
    def decimals(self) -> int:
        """How many decimals it is printed with: its precision."""
        return len(self.number.split(".")[1]) if "." in self.number else 0

    @property
    def value(self) -> float:
        """The number, signed, without its suffix."""
        return float(self.sign + self.number)


def read_printed(text, suffixes: str = "", signed: bool = False) -> PrintedNumber:
    """A printed figure: a number, optionally signed (``signed``), with none or one of the
    ``suffixes``: read_printed('2.7K', 'KMG') -> PrintedNumber('', '2.7', 'K'). Raises ValueError for
    anything else."""
    match = _PRINTED.fullmatch(str(text))
    if not match or (match[1] and not signed) or (match[3] and match[3] not in suffixes):
        raise ValueError(f"not a printed figure (a number{', signed,' if signed else ''} with "
                         f"{'one of ' + ', '.join(suffixes) + ' or ' if suffixes else ''}no "
                         f"suffix): {text!r}")
    return PrintedNumber(*match.groups())


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
    try:
        figure = read_printed(str(text or "").replace(",", "").replace("_", ""), "KMGTkmgt")
    except ValueError:
        raise ValueError(f"not a count like 7000000, 7M or 1.6G: {text!r}") from None
    return round(figure.value * SCALES[figure.suffix.upper()])


def round_half_up(value, decimals: int) -> Decimal:
    """``value`` (an int, a float read as it prints, or a Decimal) rounded half up to
    ``decimals`` places, the way a figure printed at that precision reads: 2.45 -> 2.5 at 1."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
