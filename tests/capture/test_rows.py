"""`--model` and incprof.profile(nn.Module): graph capture, per-module counts worked out by hand
here, the FlopCounterMode cross-check, the ops without a rule, and one-line errors."""

import csv
import io
import json

import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

import incprof  # noqa: E402
from conftest import MODELS, user_models  # noqa: E402
from incprof.cli.app import app

torch.set_num_threads(1)
runner = CliRunner()



def invoke(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def conv_macs(k_h, k_w, cin, cout, h_out, w_out, groups=1):
    return k_h * k_w * cin // groups * cout * h_out * w_out


def test_functional_model_by_hand():
    df = incprof.profile(user_models().functional(), input_size=(16, 16))
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    assert list(rows) == ["(Functional)", "block", "fc"]
    # The model's own ops: F.conv2d 3->8, 3x3, stride 2 (16 -> 8), and (1x5) @ (5x5).
    assert rows["(Functional)"]["macs"] == conv_macs(3, 3, 3, 8, 8, 8) + 1 * 5 * 5
    assert rows["(Functional)"]["params"] == 8 * 3 * 3 * 3 + 5 * 5
    # sigmoid and mul 1 per element, mean 1 per input element; exp has no rule.
    assert rows["(Functional)"]["other_ops"] == 3 * 8 * 8 * 8
    assert rows["(Functional)"]["not_counted"] == "aten.exp x 1"
    # The shared block runs twice: MACs twice, params once.
    assert rows["block"]["calls"] == 2
    assert rows["block"]["macs"] == 2 * conv_macs(3, 3, 8, 8, 8, 8)
    assert rows["block"]["params"] == 8 * 8 * 9 + 2 * 8
    assert rows["block"]["other_ops"] == 2 * (2 + 1 + 1) * 8 * 8 * 8  # BN 2, ReLU 1, add 1
    assert rows["fc"]["macs"] == 8 * 5 and rows["fc"]["params"] == 8 * 5 + 5
    assert rows["block"]["output_size"] == "8x8x8" and rows["fc"]["output_size"] == "5"
    t = df.attrs["totals"]
    assert t["params"] == sum(p.numel() for p in user_models().functional().parameters())
    assert t["not_counted"] == {"aten.exp": 1} and t["flop_counter_agrees"]
    assert all(df["macs"] == df["flop_counter_macs"])


def test_depth_two_splits_the_block_and_keeps_its_own_ops():
    df = incprof.profile(user_models().functional(), input_size=16, module_depth=2)
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    assert set(rows) == {"(Functional)", "block.conv", "block.bn", "block", "fc"}
    assert rows["block.conv"]["macs"] == 2 * conv_macs(3, 3, 8, 8, 8, 8)
    assert rows["block.bn"]["params"] == 16 and rows["block.conv"]["params"] == 576
    # the ops as dispatched, autograd on: relu's output is saved for backward (detach)
    assert rows["block"]["ops"] == "add x 2, detach x 2, relu x 2" and rows["block"]["macs"] == 0
    assert df.attrs["totals"]["flop_counter_agrees"]


def test_the_dataframe_is_the_records_with_int64_counts():
    """incprof.profile(nn.Module) is profile_model_records' DataFrame: the same rows and attrs,
    counts as plain int64 columns, text as strings."""
    import pandas as pd

    from incprof.capture.rows import profile_model_records

    model = user_models().functional()
    records = profile_model_records(model, 16)
    df = incprof.profile(model, input_size=16)
    ints = ["calls", "params", "shared_params", "macs", "other_ops", "flop_counter_macs",
            "no_flop_formula_macs"]
    text = ["row", "module", "output_size", "ops", "not_counted", "no_flop_formula"]
    assert list(df.columns) == records.columns
    assert sorted(records.columns) == sorted(ints + text)
    assert all(str(df[c].dtype) == "int64" for c in ints)
    assert all(pd.api.types.is_string_dtype(df[c]) for c in text)
    assert df.to_dict(orient="records") == records.rows
    assert df.attrs == records.attrs
    assert set(df.attrs) == {"totals", "meta"} and df.attrs["totals"]["params"] == 8 * 3 * 3 * 3 \
        + 5 * 5 + 8 * 8 * 9 + 2 * 8 + 8 * 5 + 5  # the rows of test_functional_model_by_hand


def test_inception_like_model_by_hand():
    df = incprof.profile(user_models().inception_like(), input_size=(16, 16))
    macs = dict(zip(df["row"], df["macs"]))
    # stem: 16 -> 7 (3x3, stride 2, no padding); pool: 7 -> 3 (ceil mode).
    assert macs["stem"] == conv_macs(3, 3, 3, 16, 7, 7)
    assert macs["mixed"] == 9 * (16 * 8 + 16 * 4 + 9 * 4 * 8 + 16 * 4)
    assert macs["res"] == 9 * (20 * 20 + 2 * 9 * 20 * 20)
    assert macs["fc"] == 20 * 10 and macs["pool"] == 0
    other = dict(zip(df["row"], df["other_ops"]))
    assert other["pool"] == 3 * 3 * 16 * 9 and other["gap"] == 20 * 9
    assert dict(zip(df["row"], df["output_size"]))["mixed"] == "3x3x20"
    assert df.attrs["totals"]["not_counted"] == {} and df.attrs["totals"]["flop_counter_agrees"]


def test_not_counted_ops_are_in_every_format():
    ref = f"{MODELS}:functional"
    text = invoke("table", "--model", ref, "--input-size", "16", "-f", "table")
    assert text.exit_code == 0, text.output
    assert "not counted: aten.exp x 1; the totals exclude them." in text.stdout
    assert "block runs 2 time(s)" in text.stdout
    md = invoke("table", "--model", ref, "--input-size", "16", "-f", "markdown").stdout
    assert "not counted: aten.exp x 1" in md and "| 73,728 |" in md
    rows = list(csv.DictReader(io.StringIO(
        invoke("table", "--model", ref, "--input-size", "16", "-f", "csv").stdout)))
    assert rows[-1]["row"] == "TOTAL" and rows[-1]["not_counted"] == "aten.exp x 1"
    data = json.loads(invoke("table", "--model", ref, "--input-size", "16", "-f", "json").stdout)
    assert data["totals"]["not_counted"] == {"aten.exp": 1}


def test_model_args_reach_the_factory():
    result = invoke("table", "--model", f"{MODELS}:functional", "--model-arg", "width=4",
                    "--model-arg", "classes=3", "--input-size", "16", "-f", "json")
    data = json.loads(result.stdout)
    fc = [r for r in data["rows"] if r["row"] == "fc"][0]
    assert fc["params"] == 4 * 3 + 3


def test_a_disagreement_exits_1(monkeypatch):
    from incprof.count import aten

    monkeypatch.delitem(aten.ATEN, "convolution")  # convolution loses its rule: not counted
    result = invoke("table", "--model", f"{MODELS}:inception_like", "--input-size", "16")
    assert result.exit_code == 1
    assert "DISAGREES" in result.stdout and "aten.convolution x" in result.stdout


@pytest.mark.parametrize("ref, reason", [
    ("nowhere/missing.py:make", "no such file"),
    (f"{MODELS}:nothing", "has no callable 'nothing'"),
    (f"{MODELS}:raises", "the factory raised RuntimeError: no such width"),
    (f"{MODELS}:flat_only", "rejects input 1x3x16x16"),
    ("no_such_package.mod:make", "no module named 'no_such_package'"),
    ("justaname", "expected torchvision:NAME"),
])
def test_bad_references_get_one_line_and_exit_2(ref, reason):
    result = invoke("table", "--model", ref, "--input-size", "16")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and ref in lines[0] and reason in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_help_says_loading_a_model_runs_its_code():
    result = invoke("table", "--help")
    assert "runs its code" in " ".join(result.stdout.split())


def test_attention_modulelist_and_einsum_by_hand():
    df = incprof.profile(user_models().attention(), input_size=(8, 8))
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    tokens, width = 2 * 2, 16  # 8x8 input, 4x4 patches
    assert rows["patch"]["macs"] == conv_macs(4, 4, 3, width, 2, 2)
    # q, k, v projections (16 -> 48) and the output projection; the attention (sdpa, 2 heads of
    # 8): Q K^T and the weights times V, tokens x tokens x 8 each per head.
    heads = 2
    attention = heads * tokens * tokens * (width // heads) * 2
    assert rows["attn"]["macs"] == tokens * width * 3 * width + tokens * width * width + attention
    assert rows["attn"]["not_counted"] == ""
    # on meta tensors torch runs attention's math backend, whose bmm FlopCounterMode counts
    assert rows["attn"]["no_flop_formula"] == "" and rows["attn"]["flop_counter_macs"] == \
        rows["attn"]["macs"]
    assert rows["blocks"]["macs"] == 2 * tokens * width * width  # a ModuleList row
    assert rows["(Attention)"]["macs"] == tokens * tokens * width  # einsum nld,nmd->nlm
    assert df.attrs["totals"]["flop_counter_agrees"]


def test_on_fake_tensors_a_row_names_the_cpu_attention_kernel(monkeypatch):
    """On fake tensors (a CPU device) torch runs its CPU flash kernel, which FlopCounterMode has
    no formula for: the row names it, with the MACs of incprof's rule (worked out as above)."""
    from incprof.capture import passes as capture

    def refuse(*args):
        raise RuntimeError("refused for the test")

    monkeypatch.setattr(capture, "_on_meta_tensors", refuse)
    df = incprof.profile(user_models().attention(), input_size=(8, 8))
    assert df.attrs["meta"]["capture"] == capture.FAKE
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    attention = 2 * 4 * 4 * 8 * 2
    assert rows["attn"]["no_flop_formula"] == "aten._scaled_dot_product_flash_attention_for_cpu x 1"
    assert rows["attn"]["no_flop_formula_macs"] == attention
    assert df.attrs["totals"]["flop_counter_agrees"]


def test_a_model_whose_control_flow_reads_a_value_is_counted_on_its_inputs_path():
    df = incprof.profile(user_models().branchy(), input_size=(8, 8))
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    assert "eager trace" in df.attrs["meta"]["capture"]
    assert rows["conv"]["macs"] == conv_macs(3, 3, 3, 4, 6, 6) and rows["conv"]["calls"] == 1
    assert rows["other"]["calls"] == 0 and rows["other"]["params"] == 3 * 9 * 8 + 8
    assert df.attrs["totals"]["flop_counter_agrees"]


@pytest.mark.parametrize("factory", ["functional", "inception_like", "attention"])
def test_the_fallbacks_count_what_the_meta_pass_counts(factory, monkeypatch):
    """Meta tensors, else fake tensors, else the example itself: the same rows. FlopCounterMode's
    side and the free ops around a kernel may differ (torch picks kernels and copies by device:
    attention's CPU kernel on fake tensors)."""
    from incprof.capture import passes
    from incprof.capture import rows as capture

    model = getattr(user_models(), factory)()
    meta = capture.capture(model, 16)
    assert meta.method == passes.META

    def refuse(*args):
        raise RuntimeError("refused for the test")

    monkeypatch.setattr(passes, "_on_meta_tensors", refuse)
    fake = capture.capture(model, 16)
    assert fake.method == passes.FAKE
    monkeypatch.setattr(passes, "_on_fake_tensors", refuse)
    eager = capture.capture(model, 16)
    assert eager.method == ("an eager trace of the example input's own path (on fake tensors: "
                            "RuntimeError: refused for the test)")
    figures = ["name", "calls", "params", "shared_params", "macs", "other_ops", "not_counted",
               "output_shape"]
    for other in (fake, eager):
        assert [[getattr(r, f) for f in figures] for r in other.rows] == \
            [[getattr(r, f) for f in figures] for r in meta.rows]
        assert all(r.flop_counter_agrees for r in other.rows)


def test_export_names_a_model_that_does_not_trace():
    result = invoke("export", "--model", f"{MODELS}:branchy", "--input-size", "16")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "does not trace" in result.stderr


def test_model_args_are_typed():
    from incprof.errors import UsageError
    from incprof.capture.models import parse_model_args

    assert parse_model_args(["a=3", "b=0.5", "c=false", "d=True", "e=resnet"]) == {
        "a": 3, "b": 0.5, "c": False, "d": True, "e": "resnet"}
    with pytest.raises(UsageError, match="key=value"):
        parse_model_args(["3=a"])


def test_an_unknown_zoo_model_is_one_line():
    result = invoke("table", "--model", "torchvision:no_such_net_xyz")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "\n" not in line and "torchvision:no_such_net_xyz" in line
    assert "has no model" in line or "is not installed" in line


class _Block(torch.nn.Module):
    def __init__(self, cpe) -> None:
        super().__init__()
        self.cpe, self.fc = cpe, torch.nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.fc(self.cpe(x))


class _SharedConv(torch.nn.Module):
    """timm CoaT's pattern: a conv registered at the top (cpe1) and called inside each block."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 1)
        self.cpe1 = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.blocks = torch.nn.ModuleList([_Block(self.cpe1), _Block(self.cpe1)])
        self.head = torch.nn.Conv2d(4, 2, 1)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_shared_module_counts_where_it_is_called(depth):
    """cpe1's MACs land in the block that calls it, its params in the first such row (the others
    share them); no row is negative, the rows add up, FlopCounterMode agrees row by row."""
    df = incprof.profile(_SharedConv(), input_size=8, module_depth=depth)
    rows = {r["row"]: r for r in df.to_dict(orient="records")}
    cpe, fc = 4 * 9 * 64, 4 * 4 * 64  # depthwise 3x3 and 1x1 convs on 8x8
    expected = {1: {"blocks": (2 * (cpe + fc), 40 + 2 * 20, 0)},
                2: {"blocks.0": (cpe + fc, 40 + 20, 0), "blocks.1": (cpe + fc, 20, 40)},
                3: {"blocks.0.cpe": (cpe, 40, 0), "blocks.1.cpe": (cpe, 0, 40),
                    "blocks.0.fc": (fc, 20, 0)}}[depth]
    for name, figures in expected.items():
        assert (rows[name]["macs"], rows[name]["params"], rows[name]["shared_params"]) == figures
    assert "cpe1" not in rows  # it never runs as a row of its own
    assert all(r["macs"] >= 0 and r["flop_counter_macs"] >= 0 for r in rows.values())
    totals = df.attrs["totals"]
    assert totals["macs"] == 3 * 64 * 4 + 2 * (cpe + fc) + 4 * 2 * 64
    assert totals["params"] == 16 + 40 + 2 * 20 + 10
    assert df.attrs["totals"]["flop_counter_agrees"]


class _Recurrent(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(50, 16)
        self.lstm = torch.nn.LSTM(16, 24, num_layers=2, batch_first=True, bidirectional=True)
        self.gru = torch.nn.GRU(48, 12)  # sequence first: (7, 1, 48) read as 7 steps of batch 1

    def forward(self, ids):
        sequence, (hidden, cell) = self.lstm(self.embed(ids))
        return self.gru(sequence.transpose(0, 1))


def test_a_recurrent_row_shows_its_output_sequence_not_its_hidden_state():
    """An LSTM or GRU returns (output, hidden): its row's output is the output sequence, per
    batch element: 7 steps of 2 directions x 24 (the hidden state would be 4 x 24 for the LSTM,
    layers x directions); the GRU, sequence first, 1 x 12 per step."""
    from incprof.capture.inputs import Example
    from incprof.capture.rows import profile_model_records

    example = Example((torch.zeros(1, 7, dtype=torch.long),))
    records = profile_model_records(_Recurrent(), example=example)
    rows = {r["row"]: r for r in records.rows}
    assert rows["lstm"]["output_size"] == "7x48"
    assert rows["gru"]["output_size"] == "1x12"
    assert rows["embed"]["output_size"] == "7x16"


def test_a_module_that_runs_no_op_is_a_row_of_zeros():
    """An nn.Identity and an eval-mode Dropout run no aten op; each is still a row (called once,
    nothing counted), its output the module's: 16 channels of 8x8 after the 3x3 conv on 10x10."""
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3), torch.nn.Identity(),
                                torch.nn.Dropout(0.5))
    rows = {r["row"]: r for r in incprof.profile(model, input_size=10).to_dict(orient="records")}
    assert list(rows) == ["0", "1", "2"]
    for name in ("1", "2"):
        assert (rows[name]["calls"], rows[name]["params"], rows[name]["macs"],
                rows[name]["other_ops"], rows[name]["ops"]) == (1, 0, 0, 0, "")
        assert rows[name]["output_size"] == "8x8x16"


def test_the_meta_pass_leaves_the_model_as_it_was():
    """The pass swaps in meta tensors and puts every one back, a module reached under two names
    and a weight tied between two modules included."""
    from incprof.capture.inputs import Example
    from incprof.capture.passes import META
    from incprof.capture.rows import capture

    model = user_models().aliased()
    tied = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10, bias=False))
    tied[1].weight = tied[0].weight
    for net, x in ((model, torch.zeros(1, 4)), (tied, torch.zeros(1, 3, dtype=torch.long))):
        before = {n: t for n, t in net.state_dict(keep_vars=True).items()}
        assert capture(net, example=Example((x,))).method == META
        after = net.state_dict(keep_vars=True)
        assert all(after[n] is t and t.device.type == "cpu" for n, t in before.items())
        net(x)  # it still runs on real tensors


def test_a_row_reached_through_an_alias_names_the_class_that_runs_there():
    """CoaT's pattern: ``cpe`` is registered at the top first, so ``blocks.0.cpe`` is not one of
    named_modules' names; its row still carries the class of the module called there."""
    import torch

    model = user_models().coat_like()
    rows = {r["row"]: r for r in incprof.profile(model, args=(torch.zeros(1, 8),),
                                                  module_depth=3).to_dict(orient="records")}
    assert [rows[f"blocks.{i}.cpe"]["module"] for i in (0, 1)] == \
        [type(model.blocks[0].cpe).__name__] * 2
