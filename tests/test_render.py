"""Formatting: human-readable numbers, and machine formats that are exact and reproducible."""

import csv
import io
import json

import pytest

from incprof.profiler import profile
from incprof.render import human, to_csv, to_json, to_markdown, to_text


@pytest.mark.parametrize("n, text", [
    (0, "0"), (999, "999"), (1000, "1.00K"), (2712, "2.71K"), (6_998_552, "7.00M"),
    (128_049_152, "128M"), (1_582_671_872, "1.58G"), (99_950, "100K"), (9_995, "10.0K"),
    (None, ""),
])
def test_human(n, text):
    assert human(n) == text


@pytest.fixture(scope="module")
def df():
    return profile("googlenet")


def test_json_has_raw_integers_and_totals(df):
    data = json.loads(to_json(df))
    rows = {r["row"]: r for r in data["rows"]}
    assert rows["inception_3a"]["macs"] == 128_049_152
    assert rows["pool1"]["paper_params"] is None
    assert data["totals"]["params"] == 6_998_552
    assert data["meta"]["batch_size"] == 1


def test_csv_has_rows_and_totals(df):
    rows = list(csv.DictReader(io.StringIO(to_csv(df))))
    assert [r["row"] for r in rows[-2:]] == ["TOTAL", "TOTAL_WITH_AUX"]
    assert int(rows[-2]["params"]) == 6_998_552
    assert int(rows[-1]["params"]) == 13_378_280
    assert rows[0]["macs"] == "118013952"  # raw integer, no separators or floats


def test_outputs_are_byte_for_byte_reproducible(df):
    again = profile("googlenet")
    for render in (to_csv, to_json, to_markdown, to_text):
        assert render(df) == render(again)


def test_text_and_markdown_state_conventions(df):
    for text, note in ((to_text(df), "[1] conv1"), (to_markdown(df), "\\[1\\] conv1")):
        assert "multiply-accumulates" in text and "aux heads" in text and "batch 1" in text
        assert note in text and "FLOPs" not in text
