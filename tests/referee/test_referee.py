"""The referee: every peer counter's total predicted to the unit, and published figures refereed.

The peers (fvcore, FlopCounterMode, ptflops' two backends, thop, torchinfo) are the oracles here:
each one's reported total is compared with ``==`` to the total incprof predicts from its own per-op
counts under that tool's conventions. The peers must be installed (the README's test command
installs the ``peers`` extra); a missing one fails the test rather than skipping it.
"""

import json

import pytest
from typer.testing import CliRunner

from conftest import user_models
from incprof.capture import inventory as model_inventory
from incprof.count import inventory as ops_mod
from incprof.referee import peers
from incprof.referee import conventions as ref
from incprof.referee.referee import referee
from incprof.cli.app import app
from incprof.spec.registry import parse_spec, resolve

pytestmark = pytest.mark.usefixtures("one_thread")

# Every built-in architecture and flavour, at a size the network allows and that keeps the CPU
# forward passes short (GoogLeNet's and BN-Inception's fixed 7x7 average pools need 224), with a
# batch of 2 where it exercises per-image against per-batch conventions.
CASES = [
    ("googlenet", "paper", True, None, 1),
    ("googlenet", "torchvision", True, None, 2),
    ("bn_inception", "paper", False, None, 1),
    ("bn_inception", "caffe", False, None, 2),
    ("inception_v3", "paper", True, None, 1),  # its aux head needs 299; it holds 3.3M params
    ("inception_v3", "paper", False, (139, 139), 2),
    ("inception_v4", "paper", False, (139, 139), 1),
    ("inception_resnet_v2", "paper", False, (139, 139), 1),
    ("xception", "paper", False, (139, 139), 1),
]


def assert_zero(result):
    for t in result["tools"]:
        assert t["installed"], f"{t['tool']} is not installed: pip install -e '.[test,peers]'"
        assert t["residual"] == 0, (t["tool"], t["reported"], t["predicted"], t["residual_from"])
        assert t["params_residual"] in (0, None), t


@pytest.mark.parametrize("arch,flavor,aux,size,batch", CASES,
                         ids=[f"{a}-{f}-{s[0] if s else 'native'}-b{b}"
                              for a, f, _, s, b in CASES])
@pytest.mark.slow
@pytest.mark.peers
def test_every_peer_predicted_to_the_unit(arch, flavor, aux, size, batch):
    result = referee(arch, flavor=flavor, aux=aux, input_size=size, batch_size=batch)
    assert [t["tool"] for t in result["tools"]] == list(peers.PEERS)
    assert_zero(result)


# A spec with every layer kind the referee models, worked out by hand below: a conv with bias,
# LRN, a separable conv (depthwise multiplier 2) with BatchNorm, a residual block with a scale,
# an average pool, an adaptive pool whose windows do not divide the grid, a linear with ReLU,
# dropout, softmax.
EVERY_KIND = {
    "name": "every_kind", "input": [3, 8, 8],
    "rows": [
        {"name": "conv", "type": "conv", "layers": [{"conv": {"out": 4, "kernel": 3, "padding": 1}}]},
        {"name": "lrn", "type": "lrn", "layers": [{"lrn": {"size": 5}}]},
        {"name": "sep", "type": "separable", "layers": [
            {"separable": {"out": 6, "kernel": 3, "padding": 1, "multiplier": 2, "bias": False,
                           "bn_eps": 0.001}}]},
        {"name": "res", "type": "residual", "layers": [{"residual": {
            "body": [{"conv": {"out": 6, "kernel": 1, "bias": False, "bn_eps": 0.001}}],
            "scale": 0.5, "relu": True}}]},
        {"name": "pool", "type": "pool", "layers": [{"avgpool": {"kernel": 2, "stride": 2}}]},
        {"name": "adapt", "type": "pool", "layers": [{"adaptive_avgpool": {"size": 3}}]},
        {"name": "fc", "type": "linear", "layers": [{"linear": {"out": 7, "relu": True}},
                                                    {"dropout": {"p": 0.5}},
                                                    {"linear": {"out": 5}}, {"softmax": {}}]},
    ],
}


@pytest.mark.peers
def test_every_layer_kind_predicted_to_the_unit():
    result = referee(parse_spec(EVERY_KIND), batch_size=3)
    assert_zero(result)


@pytest.mark.peers
def test_every_kind_by_hand():
    """The per-image figures of EVERY_KIND, worked out by hand, then each tool's total."""
    ops = ops_mod.network_ops(parse_spec(EVERY_KIND))
    conv = 3 * 3 * 3 * 4 * 64  # 6,912 MACs; 4 * 64 = 256 bias adds
    depthwise, pointwise = 3 * 3 * 8 * 64, 8 * 6 * 64  # 4,608 and 3,072
    body = 6 * 6 * 64  # 2,304
    linear = 6 * 9 * 7 + 7 * 5  # the adaptive pool leaves 6x3x3 = 54 features
    macs = conv + depthwise + pointwise + body + linear
    assert sum(op.macs for op in ops) == macs
    n = 1
    # fvcore: MACs, BN 2 per element (two BNs of 6x8x8), adaptive pool 1 per input (6x4x4)
    assert sum(ref.predict(ops, "fvcore", n).values()) == macs + 2 * 2 * 384 + 96
    assert sum(ref.predict(ops, "flop_counter", n).values()) == 2 * macs
    # ptflops aten and torchinfo add the conv and linear biases (256 + 7 + 5); torchinfo adds
    # BatchNorm's 2 parameters per channel (2 * 2 * 6)
    assert sum(ref.predict(ops, "ptflops_aten", n).values()) == macs + 268
    assert sum(ref.predict(ops, "torchinfo", n).values()) == macs + 268 + 24
    # thop: BN 4 per element; avg pool 1 per output (6x4x4); adaptive (64/9 + 1) per output,
    # truncated; softmax 3 * 5 - 1
    adaptive = int((4 / 3 * (4 / 3) + 1) * 54)
    assert adaptive == 150
    assert sum(ref.predict(ops, "thop", n).values()) == \
        macs + 4 * 2 * 384 + 96 + adaptive + 14
    # ptflops pytorch at batch 1: biases, BN 2 per element, each ReLU (conv 256, separable 384,
    # the residual's body conv and sum 384 each, linear 7) and each pool's input (384 and 96)
    # twice, softmax 5, and LRN's mul/add/avg_pool3d: 8x8 * (4 * 4 + 5 - 1)
    relu, pools = 256 + 384 + 384 + 384 + 7, 384 + 96
    assert sum(ref.predict(ops, "ptflops_pytorch", n).values()) == \
        macs + 268 + 2 * 2 * 384 + 2 * relu + 2 * pools + 5 + 64 * 20


def test_ptflops_pytorch_counts_modules_per_image_and_functionals_per_batch():
    op = ops_mod.Op("relu", (4, 2, 2), (4, 2, 2))
    assert ref.evaluate(ref.CONVENTIONS["ptflops_pytorch"]["ops"]["relu"], op, 5) == 16 + 5 * 16
    assert ref.evaluate("2*in@1 + bias", ops_mod.Op("conv", (1, 3, 3), (2, 3, 3), bias=True), 4) \
        == 2 * 9 + 4 * 18


@pytest.mark.peers
def test_a_peer_not_installed_is_listed(monkeypatch):
    monkeypatch.setattr(peers, "installed", lambda tool: tool != "thop")
    result = referee(parse_spec(EVERY_KIND), tools=("thop", "ptflops_aten"))
    thop, aten = result["tools"]
    assert (thop["tool"], thop["installed"], thop["reported"]) == ("thop", False, None)
    assert aten["installed"] and aten["residual"] == 0
    from incprof.render.measure import referee_grid

    assert referee_grid(result).rows[0][:4] == ["thop", "", "MACs", "not installed"]


@pytest.mark.peers
def test_cli_referee(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["referee", "--arch", "googlenet", "--format", "json",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["meta"]["input"] == [224, 224]
    assert {t["tool"]: t["residual"] for t in payload["tools"]} == dict.fromkeys(peers.PEERS, 0)
    # FlopCounterMode's FLOPs are twice the conv and linear MACs in docs/conventions.md's table
    (fcm,) = [t for t in payload["tools"] if t["tool"] == "flop_counter"]
    assert fcm["reported"] == 2 * 1_582_671_872
    assert [p["value"] for p in payload["published"]] == ["6624904", "1.498G"]
    bad = runner.invoke(app, ["referee", "--arch", "googlenet", "--flavor", "nope"])
    assert bad.exit_code == 2 and "unknown flavour" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_conventions_table_is_the_predictions():
    """The counter table of docs/conventions.md: each tool's row equals the prediction (which the
    tests above hold equal to the tool's own total) for GoogLeNet at 224 and Inception-v3 at 299."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "conventions.md").read_text()
    rows = {tool: (g, v3) for tool, g, v3 in re.findall(
        r"^\| `?(\w+)`?(?: MACs| \(`FlopCounterMode`\))? \|[^|]*\| ([\d,]+) \| ([\d,]+) \|$",
        page, flags=re.M)}
    assert sorted(rows) == sorted([*peers.PEERS, "incprof"])
    for column, arch in enumerate(("googlenet", "inception_v3")):
        ops = ops_mod.network_ops(resolve(arch))
        shown = {tool: int(values[column].replace(",", "")) for tool, values in rows.items()}
        assert shown["incprof"] == sum(op.macs for op in ops)
        for tool in peers.PEERS:
            assert shown[tool] == sum(ref.predict(ops, tool, 1).values()), (arch, tool)


@pytest.mark.peers
def test_a_residual_names_the_ops_it_comes_from(monkeypatch, tmp_path):
    """With thop's BatchNorm rule taken out of its convention, the residual is exactly thop's
    4 per element of the two 6x8x8 BatchNorms, per image of the batch of 2, and the command
    exits 1."""
    rules = {k: v for k, v in ref.CONVENTIONS["thop"]["ops"].items() if k != "batchnorm"}
    monkeypatch.setitem(ref.CONVENTIONS, "thop", {**ref.CONVENTIONS["thop"], "ops": rules})
    (thop,) = referee(parse_spec(EVERY_KIND), batch_size=2, tools=("thop",))["tools"]
    assert thop["residual"] == 2 * 4 * 2 * 384
    assert thop["residual_from"] == {"batchnorm": 2 * 4 * 2 * 384}
    import yaml

    path = tmp_path / "every_kind.yaml"
    path.write_text(yaml.safe_dump(EVERY_KIND))
    result = CliRunner().invoke(app, ["referee", "--spec", str(path), "-f", "csv"])
    assert result.exit_code == 1
    assert "thop,True,0.1.1-2209072238,MACs," in result.stdout


# ------------------------------------------------------------------------------ any nn.Module
# The test models of tests/data/user_models.py with the input each takes: functional calls
# (F.conv2d with its own weight, F.relu, `+`, `*`, exp, sigmoid, mean, `@`), a shared module, an
# Inception-like concat, a residual with a scaled body, adaptive pooling, an activation no peer
# has a rule for, and nn.MultiheadAttention with an einsum (priced by formulas of their own in
# fvcore and ptflops' pytorch backend, and taking a fused path without autograd), and
# data-dependent control flow.
MODELS = [("functional", 32), ("inception_like", 32), ("five_by_five", 16),
          ("hardswish_net", 16), ("attention", 32), ("branchy", 16)]


@pytest.mark.peers
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name,side", MODELS, ids=[m for m, _ in MODELS])
def test_every_peer_predicted_on_the_test_models(name, side, batch):
    model = getattr(user_models(), name)()
    result = referee(model=model, label=name, input_size=side, batch_size=batch)
    assert result["meta"]["input"] == [side, side] and result["meta"]["flavor"] is None
    assert_zero(result)


def test_attention_by_hand():
    """The two formulas of their own, worked out for the attention test model at 32x32 (a 4x4
    stride-4 patchify: 64 tokens of width 16, 2 heads): ptflops' multi-head attention per image,
    and fvcore's price of einsum('nld,nmd->nlm'), which is not one of its two batched-matmul
    equations: numpy's estimate for the one-step contraction, 2 FLOPs for each of the 64*64*16
    index combinations, as numpy's report prints it (4 significant digits), halved."""
    import torch

    model = user_models().attention()
    inventory = model_inventory.model_ops(model, torch.zeros(1, 3, 32, 32), ref.WATCHED)
    (attention,) = [op for op in inventory.calls if op.kind == "multihead_attention"]
    assert attention.detail == (64, 64, 64, 16, 16, 16, 2, True)
    assert ref.evaluate("ptflops_attention", attention, 1) == (
        64 * 16 + 3 * 64 * 16 * 16 + 3 * 64 * 16 + 2 * (64 * 64 * 8 + 64 * 64 + 64 * 64 * 8)
        + 64 * 16 * 17)
    (einsum,) = [op for op in inventory.jit if op.kind == "torch.einsum"]
    assert einsum.detail == ("nld,nmd->nlm", ((1, 64, 16), (1, 64, 16)))
    printed = float(f"{2 * 64 * 64 * 16:.3e}")  # 131,072 prints as 1.311e+05
    assert ref.evaluate("fvcore_einsum", einsum, 1) == int(printed // 2) == 65_550


@pytest.mark.peers
def test_cli_referee_model(tmp_path):
    runner = CliRunner()
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["referee", "--model", "tests/data/user_models.py:inception_like",
                                 "--input-size", "32", "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert {t["tool"]: t["residual"] for t in payload["tools"]} == dict.fromkeys(peers.PEERS, 0)
    assert payload["published"] == []
    bad = runner.invoke(app, ["referee", "--model", "tests/data/user_models.py:flat_only"])
    assert bad.exit_code == 2 and "rejects input 1x3x224x224" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.peers
@pytest.mark.parametrize("flavor", ["paper", "torchvision"])
def test_meta_peers_read_on_meta_tensors_what_they_read_on_real_ones(flavor):
    """The referee runs the peers of peers.META on meta tensors: each must give the same reading
    as on a real build and input (LRN in the paper flavour; BatchNorm and adaptive pools in
    torchvision's)."""
    import torch

    from incprof.capture.inputs import Example
    from incprof.nn.build import build
    from incprof.spec.variants import apply_flavor

    spec = apply_flavor(resolve("googlenet"), flavor)
    for tool in sorted(peers.META):
        readings = []
        for device in ("cpu", "meta"):
            with torch.device(device):
                model = build(spec).eval()
            x = torch.zeros(2, *spec.input, device=device)
            readings.append(peers.run(tool, model, Example((x,))))
        assert readings[0] == readings[1], tool
