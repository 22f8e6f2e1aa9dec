"""A profile's outputs: machine formats that are exact and reproducible, and text that states its
conventions."""

import csv
import io
import json

import pytest

from conftest import fresh_check
from incprof.analysis.profile import profile_records
from incprof.render.profile import to_csv, to_json, to_markdown, to_text


@pytest.fixture(scope="module")
def records():
    return profile_records("googlenet")


def test_json_has_raw_integers_and_totals(records):
    data = json.loads(to_json(records))
    rows = {r["row"]: r for r in data["rows"]}
    assert rows["inception_3a"]["macs"] == 128_049_152
    assert rows["pool1"]["paper_params"] is None
    assert data["totals"]["params"] == 6_998_552
    assert data["meta"]["batch_size"] == 1


def test_csv_has_rows_and_totals(records):
    rows = list(csv.DictReader(io.StringIO(to_csv(records))))
    assert [r["row"] for r in rows[-2:]] == ["TOTAL", "TOTAL_WITH_AUX"]
    assert int(rows[-2]["params"]) == 6_998_552
    assert int(rows[-1]["params"]) == 13_378_280
    assert rows[0]["macs"] == "118013952"  # raw integer, no separators or floats


RENDERS = fresh_check(
    "render: googlenet's profile in each format",
    "from incprof.analysis.profile import profile_records; "
    "from incprof.render.profile import to_csv, to_json, to_markdown, to_text; "
    "records = profile_records('googlenet'); "
    "value = [render(records) for render in (to_csv, to_json, to_markdown, to_text)]")


def test_outputs_are_byte_for_byte_reproducible(records, fresh):
    """Another process (another hash seed, other addresses) renders the same bytes."""
    assert fresh[RENDERS] == {"imported": [], "value": [render(records) for render in
                                                        (to_csv, to_json, to_markdown, to_text)]}


def test_text_and_markdown_state_conventions(records):
    for text, note in ((to_text(records), "[1] conv1"), (to_markdown(records), "\\[1\\] conv1")):
        assert "multiply-accumulates" in text and "aux heads" in text and "batch 1" in text
        assert note in text and "FLOPs" not in text




def test_torchvision_notes_say_no_none_and_no_paper_reasons():
    tv = to_text(profile_records("googlenet", flavor="torchvision", aux=False))
    paper = to_text(profile_records("googlenet", aux=False))
    assert "None" not in tv and "No known explanation" in paper
    # the flavour's rows are not compared with the paper's printed figures, so none is flagged
    assert "No known explanation" not in tv
    assert "not comparable (flavour torchvision)" in " ".join(tv.split())
