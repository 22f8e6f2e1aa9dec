"""`table --model --tree`: every module once, indented, with subtotals worked out by hand, and
the shared, repeated and never-called marks."""

import csv
import io

import pytest

torch = pytest.importorskip("torch")

from conftest import MODELS, invoke, user_models  # noqa: E402
from incprof.capture.inputs import zeros, parse_inputs  # noqa: E402
from incprof.capture.tree import tree_records  # noqa: E402


def test_shared_repeated_and_never_called_modules_are_marked():
    records = tree_records(user_models().aliased(), zeros(parse_inputs(["3x4"])))
    by_name = {r["module"]: r for r in records.rows}
    # batch 3: a 4 -> 8, shared 8 -> 8 twice (once as alias), body's linear 8 -> 2
    assert by_name["(Aliased)"]["macs"] == 3 * (4 * 8 + 2 * 8 * 8 + 8 * 2)
    assert by_name["shared"]["macs"] == 3 * 2 * 8 * 8 and by_name["shared"]["calls"] == 2
    assert by_name["shared"]["mark"] == "shared: also alias; repeated x2"
    assert "alias" not in by_name  # the tree shows a module once, under its first name
    assert (by_name["unused"]["mark"], by_name["unused"]["calls"]) == ("never called", 0)
    # every parameter once, the never-called head's included
    assert by_name["(Aliased)"]["params"] == (4 * 8 + 8) + (8 * 8 + 8) + (8 * 100 + 100) + (8 * 2 + 2)
    assert by_name["body"]["params"] == by_name["body.1"]["params"] == 8 * 2 + 2
    assert (by_name["body"]["other_ops"], by_name["body.0"]["depth"]) == (3 * 8, 2)


def test_the_tree_from_the_cli_adds_up_at_each_depth():
    result = invoke("table", "--model", f"{MODELS}:inception_like", "--input-size", "16", "--tree",
                    "-f", "csv")
    assert result.exit_code == 0, result.output
    data = {r["module"]: r for r in csv.DictReader(io.StringIO(result.stdout))}
    # The Mixed block's 1x1 -> 3x3 branch at 3x3: 16 -> 4 (1x1), then 4 -> 8 (3x3, same)
    assert int(data["mixed.b3"]["macs"]) == 9 * (16 * 4 + 9 * 4 * 8)
    assert int(data["mixed.b3"]["macs"]) == sum(int(data[f"mixed.b3.{i}"]["macs"]) for i in range(6))
    assert int(data["fc"]["macs"]) == 20 * 10
    shallow = invoke("table", "--model", f"{MODELS}:inception_like", "--input-size", "16", "--tree",
                     "--depth", "1", "-f", "csv")
    assert {int(r["depth"]) for r in csv.DictReader(io.StringIO(shallow.stdout))} == {0, 1}


def test_the_tree_fits_the_terminal():
    result = invoke("table", "--model", f"{MODELS}:aliased", "--input", "1x4", "--tree")
    table = result.stdout.split("\n\n\n")[0]
    assert "│ 0" in table and "never called" in table
    from rich.console import Console

    from incprof.capture.inputs import default
    from incprof.render.grid import print_grid
    from incprof.render.tree import tree_grid

    model = user_models().inception_like()
    records = tree_records(model, default(model, (16, 16), 3, 1), label="inception_like")
    for width in (80, 100, 120):
        console = Console(width=width, file=io.StringIO(), color_system=None)
        print_grid(tree_grid(records), console)
        assert max(len(line) for line in console.file.getvalue().splitlines()) <= width
    spec = invoke("table", "--tree")
    assert spec.exit_code == 2 and "--tree applies only to --model" in spec.stderr
