"""`--model` on the reference implementations themselves (issue 14): for torchvision googlenet,
inception_v3 and resnet50, and timm inception_v4, inception_resnet_v2 and legacy_xception, built
without pretrained weights:
- the per-op count agrees with FlopCounterMode (FLOPs / 2) on every row, and leaves no op uncounted;
- its totals equal the model's own parameter count (modules called in eval) and the MACs that
  FlopCounterMode measures on the whole model;
- `export` writes a spec that incprof's parser reads, whose analytic counts equal the per-op counts
  row by row, and whose built network, with the model's weights loaded by order of use (shapes
  asserted), gives the model's outputs in eval mode, in float64.
Input sizes are reduced (each model accepts them) to keep the tier quick."""

from __future__ import annotations

import pytest
import torch

from incprof.count.analytic import count_spec
from incprof.nn.build import build
from incprof.capture.rows import capture
from incprof.capture.export import export_spec, load_by_use_order, to_yaml
from incprof.capture.models import resolve_model
from incprof.spec.registry import load_spec

pytestmark = pytest.mark.reference

torch.set_num_threads(1)

MODELS = {"torchvision:googlenet": 96, "torchvision:inception_v3": 107,
          "torchvision:resnet50": 64, "timm:inception_v4": 107,
          "timm:inception_resnet_v2": 107, "timm:legacy_xception": 71}


def _flop_counter_macs(model, side: int) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("ref", sorted(MODELS))
def test_model_counts_export_and_outputs(ref, tmp_path):
    side = MODELS[ref]
    torch.manual_seed(0)
    model = resolve_model(ref).eval()
    captured = capture(model, side, label=ref)
    assert all(r.macs == r.flop_counter_macs for r in captured.rows)
    assert not any(r.not_counted for r in captured.rows)
    called = [r for r in captured.rows if r.calls]
    used = {id(p): p.numel() for name, m in model.named_modules()
            if not name.startswith(("aux", "AuxLogits")) for p in m.parameters(recurse=False)}
    assert sum(r.params for r in called) == sum(used.values())
    assert sum(r.macs for r in captured.rows) == _flop_counter_macs(model, side)

    path = tmp_path / "net.yaml"
    left_out: dict = {}
    data = export_spec(model, side, label=ref, left_out=left_out)
    path.write_text(to_yaml(data, left_out))
    spec = load_spec(path)
    ours = {rc.placed.name: rc.counts for rc in count_spec(spec)}
    # the round trip keeps every parameter: the spec's, and those of the never-run heads it names
    assert sum(c.params for c in ours.values()) + sum(left_out.values()) == sum(
        p.numel() for p in model.parameters())
    assert set(left_out) == ({"aux1", "aux2"} if ref == "torchvision:googlenet" else
                                     {"AuxLogits"} if ref == "torchvision:inception_v3" else set())
    by_name = {r.name: r for r in called}
    for name, counts in ours.items():
        parts = name.split("+")  # fused rows (conv1+bn1+relu) sum their modules
        assert counts.params == sum(by_name[p].params for p in parts if p in by_name), name
        assert counts.macs == sum(by_name[p].macs for p in parts if p in by_name), name
    assert sum(c.macs for c in ours.values()) == sum(r.macs for r in captured.rows)

    network = build(spec).eval().double()
    with torch.no_grad():  # incprof builds a model without drawing its weights: draw some here
        for p in model.parameters():
            p.normal_(0, 0.05)
    model = model.double()
    load_by_use_order(network, model, torch.zeros(1, 3, side, side, dtype=torch.float64))
    x = torch.randn(2, 3, side, side, dtype=torch.float64)
    with torch.no_grad():
        expected, got = model(x), network(x).flatten(1)
    scale = expected.abs().max().item()
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-9 * scale)
