"""Counts as people write them: '7.00M' for display, '1.6G' or '6,998,552' parsed back, and
figures as papers print them ('2.7K', '13.6M', '+25%', '2.5x') read with their precision. It holds
the one suffix table (``SUFFIXES``: K = 1000 or, as some papers read it, 1024) and the one check
of whether a count prints as a figure (``prints_as``), and a thread count in words
(``cpu_threads``). No heavy imports, so counting, timing and the memory guard can use it without
loading the presentation layer."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SUFFIXES = ("K", "M", "G", "T")  # the base to the first, ..., fourth power


def scales(base: int = 1000, suffixes=SUFFIXES) -> dict[str, int]:
    """What each suffix multiplies by, read with ``base``: scales(1024, "KM") -> {'K': 1024,
    'M': 1048576}."""
    return {suffix: base ** (SUFFIXES.index(suffix) + 1) for suffix in suffixes}


SI = scales()  # K = 10**3, M = 10**6, G = 10**9, T = 10**12
BINARY = scales(1024)  # the other reading: K = 1024, M = 1024**2, ...
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

    @property
    def exact(self) -> Decimal:
        """The number, signed, without its suffix, exactly as printed: Decimal('2.7')."""
        return Decimal(self.sign + self.number)


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
    for unit in SUFFIXES:
        value /= 1000
        if abs(value) < 999.5:
            break
    decimals = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
    return f"{value:.{decimals}f}{unit}"


def parse_count(text: str) -> int:
    """'7000000', '7M', '1.6G', '6,998,552' (any case, spaces around) -> the integer count.
    Raises ValueError for anything else."""
    try:
        figure = read_printed(str(text or "").replace(",", "").replace("_", ""),
                              "".join(SUFFIXES) + "".join(SUFFIXES).lower())
    except ValueError:
        raise ValueError(f"not a count like 7000000, 7M or 1.6G: {text!r}") from None
    return round(figure.value * SI.get(figure.suffix.upper(), 1))


def at_precision(value, figure: PrintedNumber, scale: int | None = None) -> Decimal:
    """``value`` (an int count, exact, or a float ratio, read as it prints) in the figure's unit,
    ``scale`` (default: its suffix read as SI; 1 for none, 'x' or '%'), rounded half up to as many
    decimals as the figure is printed with, the way a figure printed at that precision reads:
    2.45 is 2.5 at one decimal, and at_precision(2712, read_printed("2.7K", "K"), 1024) is 2.6."""
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    exact /= SI.get(figure.suffix, 1) if scale is None else scale
    return exact.quantize(Decimal(1).scaleb(-figure.decimals), rounding=ROUND_HALF_UP)


def prints_as(value, figure: PrintedNumber, scale: int | None = None) -> bool:
    """Whether ``value`` prints as ``figure``: at its printed precision (``at_precision``) it is
    the printed number. 2712 prints as 2.7K with K = 1000, and not with K = 1024 (2.6K)."""
    return at_precision(value, figure, scale) == figure.exact


def cpu_threads(count: int) -> str:
    """'1 CPU thread', '2 CPU threads'."""
    return f"{count} CPU thread{'s' * (count != 1)}"
