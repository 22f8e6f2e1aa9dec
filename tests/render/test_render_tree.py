"""The module tree's outputs: text fitted to the terminal, markdown, CSV and JSON with the same
figures (worked out by hand for the SharedCall model), and no row mistaken for a total."""

import csv
import io
import json

import pytest

torch = pytest.importorskip("torch")

from conftest import user_models  # noqa: E402
from incprof.capture.inputs import parse_inputs, zeros  # noqa: E402
from incprof.capture.tree import tree_records  # noqa: E402
from incprof.render import tree as render_tree  # noqa: E402

LINEAR = 2 * 8 * 8  # one 8 -> 8 linear on a batch of 2
# SharedCall on 2x8: (module, depth, calls, params, MACs, other ops, mark)
EXPECTED = [
    ("(SharedCall)", 0, 1, 3 * 72 + 900, 4 * LINEAR, 16, ""),
    ("a", 1, 1, 72, LINEAR, 0, ""),
    ("a.proj", 2, 0, 0, 0, 0, "shared"),
    ("a.fc", 2, 1, 72, LINEAR, 0, ""),
    ("b", 1, 1, 144, 3 * LINEAR, 16, ""),
    ("b.fc", 2, 1, 72, LINEAR, 0, ""),
    ("b.[a.proj]", 2, 2, 72, 2 * LINEAR, 0, "shared, repeated x2"),
    ("aux", 1, 0, 8 * 100 + 100, 0, 0, "never called"),
]


@pytest.fixture(scope="module")
def records():
    return tree_records(user_models().shared_call(), zeros(parse_inputs(["2x8"])),
                        label="shared_call")


def _tuples(rows):
    return [(r["module"], int(r["depth"]), int(r["calls"]), int(r["params"]), int(r["macs"]),
             int(r["other_ops"]), r["mark"]) for r in rows]


def test_csv_and_json_carry_the_same_figures(records):
    assert _tuples(csv.DictReader(io.StringIO(render_tree.to_csv(records)))) == EXPECTED
    data = json.loads(render_tree.to_json(records))
    assert _tuples(data["modules"]) == EXPECTED
    assert data["shared"][0]["runs_as"] == ["b.[a.proj]"]


def test_markdown_and_text_show_the_tree_indented(records):
    lines = render_tree.to_markdown(records).splitlines()
    row = next(line for line in lines if "a.proj\\]" in line)  # brackets escaped
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["│ \\[a.proj\\]", "2", "72", f"{2 * LINEAR:,}", "0",
                     "Linear; shared, repeated x2"]
    text = render_tree.to_text(records)
    assert "shared: a.proj (Linear) is registered there; it runs as b.[a.proj] (2 calls)" \
        in " ".join(text.split())
    assert "the same as the table's" in text


@pytest.mark.parametrize("width", [80, 100])
def test_the_tree_fits_the_terminal_in_one_table(records, width):
    from rich.console import Console

    from incprof.render.grid import print_grid

    console = Console(width=width, file=io.StringIO(), color_system=None)
    print_grid(render_tree.tree_grid(records), console)
    out = console.file.getvalue()
    assert max(len(line) for line in out.splitlines()) <= width
    assert "(continued)" not in out and "never called" in out


def test_a_module_named_total_is_a_module_row():
    model = torch.nn.Sequential()
    model.add_module("TOTAL", torch.nn.Linear(4, 2))
    records = tree_records(model, zeros(parse_inputs(["1x4"])))
    rows = list(csv.DictReader(io.StringIO(render_tree.to_csv(records))))
    assert [(r["module"], r["depth"]) for r in rows] == [("(Sequential)", "0"), ("TOTAL", "1")]
    assert rows[1]["params"] == str(4 * 2 + 2) and rows[1]["macs"] == str(4 * 2)
