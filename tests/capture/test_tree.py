"""`table --model --tree`: every module where it runs, indented, with subtotals worked out by
hand (a formula per figure) and FlopCounterMode on a real run, and the shared, repeated,
never-called and tied-params marks."""

import csv
import io
import json

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
    assert by_name["shared"]["mark"] == "shared, repeated x2"
    assert "alias" not in by_name  # the tree shows a module once, under its first name
    assert (by_name["unused"]["mark"], by_name["unused"]["calls"]) == ("never called", 0)
    # every parameter once, the never-called head's included
    assert by_name["(Aliased)"]["params"] == (4 * 8 + 8) + (8 * 8 + 8) + (8 * 100 + 100) + (8 * 2 + 2)
    assert by_name["body"]["params"] == by_name["body.1"]["params"] == 8 * 2 + 2
    assert (by_name["body"]["other_ops"], by_name["body.0"]["depth"]) == (3 * 8, 2)


def real_macs(model, example) -> int:
    """FlopCounterMode's MACs (FLOPs / 2) on a real run of the example."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        example.run(model)
    return counter.get_total_flops() // 2


def test_a_shared_module_counts_under_the_module_that_calls_it():
    model, example = user_models().shared_call(), zeros(parse_inputs(["2x8"]))
    records = tree_records(model, example)
    by_name = {r["module"]: r for r in records.rows}
    linear = 2 * 8 * 8  # one 8 -> 8 linear on a batch of 2
    assert [r["module"] for r in records.rows] == [
        "(SharedCall)", "a", "a.proj", "a.fc", "b", "b.fc", "b.[a.proj]", "aux"]
    # b runs its fc, then a.proj twice (on fc's output and on its input), and adds the two
    assert (by_name["b"]["macs"], by_name["b"]["other_ops"]) == (3 * linear, 2 * 8)
    assert (by_name["b.[a.proj]"]["calls"], by_name["b.[a.proj]"]["macs"]) == (2, 2 * linear)
    assert by_name["b.[a.proj]"]["params"] == by_name["b"]["params"] - (8 * 8 + 8) == 8 * 8 + 8
    assert by_name["b.[a.proj]"]["mark"] == "shared, repeated x2"
    # where a.proj is defined, nothing ran: no MACs, no params (they count where it runs)
    assert [by_name["a.proj"][k] for k in ("calls", "params", "macs", "mark")] == [0, 0, 0, "shared"]
    assert (by_name["a"]["macs"], by_name["a"]["params"]) == (linear, 8 * 8 + 8)
    assert (by_name["aux"]["mark"], by_name["aux"]["params"]) == ("never called", 8 * 100 + 100)
    root = by_name["(SharedCall)"]
    assert root["macs"] == 4 * linear == real_macs(model, example)
    assert root["params"] == sum(p.numel() for p in model.parameters())
    assert records.attrs["depths"] == {0: 4 * linear, 1: 4 * linear, 2: 4 * linear}
    assert records.attrs["trace"].startswith("one pass on meta tensors")  # no real forward pass
    assert records.attrs["shared"] == [{
        "module": "a.proj", "class": "Linear", "names": ["a.proj"], "runs_as": ["b.[a.proj]"],
        "calls": 2, "params": 8 * 8 + 8, "params_at": "b.[a.proj]"}]


def test_an_alias_runs_under_each_block_that_owns_it():
    """timm CoaT's pattern: cpe registered at the top, aliased into each block, called there."""
    model, example = user_models().coat_like(), zeros(parse_inputs(["2x8"]))
    records = tree_records(model, example)
    by_name = {r["module"]: r for r in records.rows}
    linear, cpe_params = 2 * 8 * 8, 8 * 8 + 8
    assert [by_name["cpe"][k] for k in ("calls", "params", "macs")] == [0, 0, 0]
    for i in (0, 1):
        block = by_name[f"blocks.{i}.cpe"]
        assert (block["calls"], block["macs"], block["other_ops"]) == (1, linear, 2 * 8)
        assert by_name[f"blocks.{i}"]["macs"] == 2 * linear
        assert by_name[f"blocks.{i}.cpe.0"]["mark"] == "shared"
    # the params count once, in the first block that runs cpe
    assert by_name["blocks.0.cpe"]["params"] == cpe_params and by_name["blocks.1.cpe"]["params"] == 0
    assert by_name["blocks.0"]["params"] == cpe_params + by_name["blocks.1"]["params"]
    assert by_name["(CoatLike)"]["params"] == 3 * (8 * 8 + 8)
    assert by_name["(CoatLike)"]["macs"] == 4 * linear == real_macs(model, example)
    profile = records.attrs["profile"].attrs["totals"]
    assert (profile["params"], profile["macs"]) == (3 * (8 * 8 + 8), 4 * linear)


def test_tied_params_count_once():
    model, example = user_models().tied(), zeros(parse_inputs(["2x3:int64"]))
    by_name = {r["module"]: r for r in tree_records(model, example).rows}
    assert by_name["(Tied)"]["params"] == 10 * 4
    assert (by_name["head"]["params"], by_name["head"]["mark"]) == (0, "tied params")
    assert by_name["head"]["macs"] == 2 * 3 * 4 * 10 == real_macs(model, example)


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


def test_the_cli_tree_of_coat_like_in_json():
    result = invoke("table", "--model", f"{MODELS}:coat_like", "--input", "2x8", "--tree",
                    "-f", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    modules = {m["module"]: m for m in data["modules"]}
    assert [modules[f"blocks.{i}.cpe"]["params"] for i in (0, 1)] == [8 * 8 + 8, 0]
    assert modules["(CoatLike)"]["macs"] == 4 * 2 * 8 * 8 == sum(
        m["macs"] for m in data["modules"] if m["depth"] == 3)  # each block's fc and cpe
    assert data["shared"][0]["runs_as"] == ["blocks.0.cpe", "blocks.1.cpe"]


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


def test_control_flow_that_reads_a_value_is_traced_on_the_example():
    from incprof.capture.inputs import default

    model = user_models().branchy()  # a zero input takes conv: 3 -> 4, 3x3, valid, on 8x8
    records = tree_records(model, default(model, (8, 8), 3, 1))
    by_name = {r["module"]: r for r in records.rows}
    assert records.attrs["trace"].startswith("an eager trace of the example input's own path")
    assert by_name["(Branchy)"]["macs"] == by_name["conv"]["macs"] == 6 * 6 * 4 * 3 * 3 * 3
    assert (by_name["other"]["mark"], by_name["other"]["params"]) == ("never called", 8 * 27 + 8)


@pytest.mark.parametrize("name", ["shared_call", "coat_like"])
def test_each_depth_agrees_with_the_table_at_that_depth(name):
    """Each module row of the table at depth d (not a parent's own ops, counted in its own pass)
    is the tree's subtotal there."""
    from incprof.capture.rows import profile_model_records

    model, example = getattr(user_models(), name)(), zeros(parse_inputs(["2x8"]))
    tree = {r["module"]: r for r in tree_records(model, example).rows}
    for depth in (1, 2):
        rows = [r for r in profile_model_records(model, depth=depth, example=example).rows
                if r["row"].count(".") + 1 == depth]
        assert rows and all((r["params"], r["macs"], r["other_ops"]) == tuple(
            tree[r["row"]][k] for k in ("params", "macs", "other_ops")) for r in rows)
