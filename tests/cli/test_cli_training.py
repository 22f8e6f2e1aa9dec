"""--mode train on table, compare and referee, through the CLI, asserting on data."""

import json

import pytest

from conftest import DATA, MODELS, invoke

TINY = str(DATA / "tiny.yaml")
CONV = 3 * 3 * 3 * 4 * 8 * 8
MIXED, FC, HEAD = 2048, 8 * 5, 16 * 3


def test_table_train_json_spec():
    result = invoke("table", "--spec", TINY, "--mode", "train", "--batch-size", "2",
                    "--optimizer", "adam", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["step_macs"] == 2 * (2 * CONV + 3 * (MIXED + FC + HEAD))
    assert data["totals"]["check_agrees"] is True
    assert "first layer computes no input gradient" in data["meta"]["conventions"]
    assert data["meta"]["optimizer"] == "adam"


def test_table_train_text_states_the_rules_and_ratios():
    result = invoke("table", "--spec", TINY, "--mode", "train", "--no-verify")
    assert result.exit_code == 0, result.output
    assert "Training / inference MACs" in result.stdout and "Aux heads' share" in result.stdout
    assert "frozen parameters compute no weight gradient" in " ".join(result.stdout.split())


def test_table_train_model_json():
    result = invoke("table", "--model", f"{MODELS}:inception_like", "--mode", "train",
                    "--input-size", "32", "--batch-size", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["totals"]["check_agrees"] is True and data["meta"]["mode"] == "train"


@pytest.mark.parametrize("args, message", [
    (["table", "--optimizer", "adam"], "--optimizer applies only with --mode train"),
    (["table", "--mode", "train", "--columns", "rf"], "--columns does not apply with --mode train"),
    (["table", "--spec", TINY, "--mode", "train", "--freeze", "nope", "--no-verify"],
     "no row or aux head called nope"),
    (["compare", "naive", "reduced", "--mode", "train", "--plot", "x.png"],
     "--plot does not apply with --mode train"),
])
def test_refusals_are_one_line_exit_2(args, message):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_compare_train_json():
    result = invoke("compare", "naive", "reduced", "--mode", "train", "--no-verify",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    totals = json.loads(result.stdout)["totals"]
    assert totals["a"]["step_macs"] > totals["b"]["step_macs"]


def test_referee_train_tiny_by_hand():
    result = invoke("referee", "--spec", TINY, "--mode", "train", "--batch-size", "2",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    tool = json.loads(result.stdout)["tools"][0]
    # FlopCounterMode: 2 FLOPs per MAC; the first conv forward and weight gradient, the rest
    # forward and both gradients
    assert tool["reported"] == tool["predicted"] == 2 * 2 * (2 * CONV + 3 * (MIXED + FC + HEAD))
    assert tool["residual"] == 0


def test_referee_train_model_predicts_flop_counter_to_the_unit():
    result = invoke("referee", "--model", f"{MODELS}:branchy", "--mode", "train",
                    "--input-size", "32", "--batch-size", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tool = data["tools"][0]
    assert tool["residual"] == 0 and tool["reported"] > 0
    assert "real arithmetic" in data["meta"]["ran_on"]  # branchy reads a value (.item())


def test_table_train_model_on_token_ids_and_keyword_inputs():
    result = invoke("table", "--model", f"{MODELS}:tagger", "--mode", "train", "--input",
                    "2x6:int64", "--input", "mask=2x6", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    head = 2 * 6 * 8 * 5  # the Linear(8, 5) per token: forward, input and weight gradients
    assert data["totals"]["step_macs"] == 3 * head and data["totals"]["check_agrees"] is True
    assert data["meta"]["input"] == "2x6:int64, mask=2x6"


def test_table_train_model_refuses_a_missing_input_in_one_line():
    result = invoke("table", "--model", f"{MODELS}:tagger", "--mode", "train", "--input",
                    "mask=2x6")
    assert result.exit_code == 2, result.output
    assert "rejects input mask=2x6" in result.output and "Traceback" not in result.output
