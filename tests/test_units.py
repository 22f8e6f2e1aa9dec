"""Counts as people write them: one parser for figures printed like "1.6G" (what users type and what
papers print, with its precision), one formatter."""

import pytest

from conftest import fresh_check
from incprof import units
from incprof.units import human, parse_count


@pytest.mark.parametrize("text, count", [
    ("7000000", 7_000_000), ("7M", 7 * 10**6), ("1.6G", 1_600_000_000),
    ("6,998,552", 6_998_552), ("1.498g", 1_498_000_000), (" 2.5 k ", 2_500),
    ("5.71G", 5_710_000_000), ("1_000", 1_000), ("3T", 3 * 10**12),
])
def test_parse_count(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["", "M", "1.6X", "-3", "1e6", "7 M B", None])
def test_parse_count_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_count(text)


@pytest.mark.parametrize("n, text", [
    (0, "0"), (999, "999"), (1000, "1.00K"), (2712, "2.71K"), (6_998_552, "7.00M"),
    (128_049_152, "128M"), (1_582_671_872, "1.58G"), (99_950, "100K"), (9_995, "10.0K"),
    (None, ""),
])
def test_human(n, text):
    assert human(n) == text


NO_PANDAS = fresh_check("units: import incprof.count.limits, incprof.units",
                        "import incprof.count.limits, incprof.units", forbid=("pandas",))


def test_human_without_pandas_and_with_its_missing_value(fresh):
    assert human(6_998_552) == "7.00M" and human(None) == "" and human(float("nan")) == ""
    pandas = pytest.importorskip("pandas")
    assert human(pandas.NA) == ""
    # the memory guard does not load the presentation layer
    assert fresh[NO_PANDAS] == {"imported": []}


def test_round_half_up_reads_a_figure_as_printed():
    from decimal import Decimal

    from incprof.units import round_half_up

    assert round_half_up(2.45, 1) == Decimal("2.5") and round_half_up(2.25, 1) == Decimal("2.3")
    assert round_half_up(2712, 0) == Decimal("2712")
    assert round_half_up(Decimal(2712) / 1024, 1) == Decimal("2.6")  # 2.648...: conv1, K = 1024


@pytest.mark.parametrize("text,suffixes,signed,parts,decimals", [
    ("2.7K", "KMG", False, ("", "2.7", "K"), 1),
    ("34M", "KMG", False, ("", "34", "M"), 0),
    ("2712", "KMG", False, ("", "2712", ""), 0),
    ("+25%", "KMGx%", True, ("+", "25", "%"), 0),
    ("2.50x", "KMGx%", True, ("", "2.50", "x"), 2),
    (" 159 K ", "KM", False, ("", "159", "K"), 0),
])
def test_read_printed(text, suffixes, signed, parts, decimals):
    figure = units.read_printed(text, suffixes, signed)
    assert (figure.sign, figure.number, figure.suffix) == parts
    assert figure.decimals == decimals


@pytest.mark.parametrize("text,suffixes,signed", [
    ("2.7Q", "KMG", False), ("-3", "KMG", False), ("1.2.3", "KMG", False),
    ("", "KMG", False), ("K", "KMG", False), ("2.5x", "KMG", False)])
def test_read_printed_refuses(text, suffixes, signed):
    with pytest.raises(ValueError):
        units.read_printed(text, suffixes, signed)
