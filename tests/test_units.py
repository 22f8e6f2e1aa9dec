"""Counts as people write them: one parser for '1.6G'-style counts, one formatter."""

import subprocess
import sys

import pytest

from incprof.units import count_step, human, parse_count


@pytest.mark.parametrize("text, count, step", [
    ("7000000", 7_000_000, 1), ("7M", 7 * 10**6, 10**6), ("1.6G", 1_600_000_000, 10**8),
    ("6,998,552", 6_998_552, 1), ("1.498g", 1_498_000_000, 10**6), (" 2.5 k ", 2_500, 100),
    ("5.71G", 5_710_000_000, 10**7), ("1_000", 1_000, 1), ("3T", 3 * 10**12, 10**12),
])
def test_parse_count_and_its_precision(text, count, step):
    assert parse_count(text) == count
    assert count_step(text) == step


@pytest.mark.parametrize("text", ["", "M", "1.6X", "-3", "1e6", "7 M B", None])
def test_parse_count_refuses_anything_else(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_human_without_pandas_and_with_its_missing_value():
    assert human(6_998_552) == "7.00M" and human(None) == "" and human(float("nan")) == ""
    pandas = pytest.importorskip("pandas")
    assert human(pandas.NA) == ""
    code = "import sys, incprof.limits, incprof.units; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # the memory guard does not load the presentation layer
