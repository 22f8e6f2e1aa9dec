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


def test_at_precision_rounds_half_up_as_a_figure_reads():
    from decimal import Decimal

    from incprof.units import at_precision, read_printed

    def at(value, printed, scale=None):
        return at_precision(value, read_printed(printed, "KMGx", signed=True), scale)

    # half up, not to even: 2.45 and 2.25 at one decimal are 2.5 and 2.3 (round() gives 2.2)
    assert at(2.45, "2.0") == Decimal("2.5") and at(2.25, "2.0") == Decimal("2.3")
    assert at(2712, "2712") == Decimal("2712")
    assert at(2712, "2.7K", 1024) == Decimal("2.6")  # 2712 / 1024 = 2.648...: conv1, K = 1024
    assert at(2712, "2.7K") == Decimal("2.7")  # the suffix read as SI by default: 2.712
    assert at(2.5, "2.50x") == Decimal("2.50")  # the printed precision, trailing zero kept


@pytest.mark.parametrize("count, printed, scale, prints", [
    # GoogLeNet's conv1 read as a depthwise-separable 7x7 (Table 1 prints params 2.7K): 7*7*3*8
    # depthwise weights and 24*64 pointwise ones, 1176 + 1536 = 2712; 2712 / 1000 = 2.712 -> 2.7K,
    # 2712 / 1024 = 2.648 -> 2.6K
    (2_712, "2.7K", 1000, True), (2_712, "2.7K", 1024, False), (2_712, "2.6K", 1024, True),
    # torchvision's googlenet: 6,624,904 parameters, printed in full and as 6.6M (6.624904M)
    (6_624_904, "6624904", None, True), (6_624_905, "6624904", None, False),
    (6_624_904, "6.6M", None, True), (6_624_904, "6.62M", None, True),
    (6_624_904, "6.63M", None, False), (6_624_904, "6.7M", None, False),
    # 5.713G covers [5,712,500,000, 5,713,500,000): half up at the lower end, open at the upper
    (5_712_500_000, "5.713G", None, True), (5_712_499_999, "5.713G", None, False),
    (5_713_499_999, "5.713G", None, True), (5_713_500_000, "5.713G", None, False),
    (5_713_216_096, "5.713G", None, True),  # inception_v3's conv and linear MACs (the README)
    # the number as printed, whatever its form: .5G is 0.5G
    (500_000_000, ".5G", None, True), (449_999_999, ".5G", None, False),
])
def test_prints_as(count, printed, scale, prints):
    from incprof.units import prints_as, read_printed

    assert prints_as(count, read_printed(printed, "KMG"), scale) is prints


def test_one_suffix_table_read_both_ways():
    from incprof.units import BINARY, SI, SUFFIXES, scales

    assert SI == {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    assert BINARY == {"K": 1024, "M": 1024 * 1024, "G": 1024**3, "T": 1024**4}
    assert scales(1024, "K") == {"K": 1024} and list(SI) == list(SUFFIXES)
    # the spec's default paper units and the count parser read the same table
    from incprof.spec.fields import DEFAULT_UNITS

    assert DEFAULT_UNITS == {"K": 1000, "M": 1_000_000, "G": 1_000_000_000}
    assert parse_count("2.5T") == 2_500_000_000_000 and human(2_500_000_000_000) == "2.50T"


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


def test_threads_are_counted_in_words():
    from incprof.units import cpu_threads

    assert [cpu_threads(n) for n in (1, 2, 16)] == ["1 CPU thread", "2 CPU threads",
                                                     "16 CPU threads"]
