"""docs/models.md's table of what incprof and each peer counter report for the same models is measured
here: every figure in it is recomputed and must equal the printed one."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import torch

from incprof.capture.rows import capture
from incprof.capture.models import resolve_model

pytestmark = [pytest.mark.reference, pytest.mark.peers]

ROOT = Path(__file__).resolve().parents[2]
torch.set_num_threads(1)


def _models():
    spec = importlib.util.spec_from_file_location("user_models_peers",
                                                  ROOT / "tests" / "data" / "user_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [(resolve_model("torchvision:resnet50").eval(), 224), (module.functional().eval(), 32)]


def _incprof(m, side):
    return sum(r.macs for r in capture(m, side).rows)


def _params(m, side):
    return sum(r.params for r in capture(m, side).rows)


def _flop_counter(m, side):
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        m(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() // 2


def _fvcore(m, side):
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(m, torch.zeros(1, 3, side, side))
    analysis.unsupported_ops_warnings(False)
    return analysis.total()


def _ptflops(backend):
    def count(m, side):
        from ptflops import get_model_complexity_info

        return get_model_complexity_info(m, (3, side, side), print_per_layer_stat=False,
                                         as_strings=False, backend=backend)[0]
    return count


COUNTERS = {"incprof params": _params, "incprof MACs": _incprof,
            "FlopCounterMode FLOPs / 2": _flop_counter, "fvcore total()": _fvcore,
            "ptflops, pytorch backend": _ptflops("pytorch"), "ptflops, aten backend": _ptflops("aten")}


def _printed() -> dict[str, list[int]]:
    table = {}
    for line in (ROOT / "docs" / "models.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        # the peers' table; the referee's (docs/conventions.md) has text in its second column
        if cells and cells[0] in COUNTERS and re.fullmatch(r"[0-9,]+", cells[1]):
            table[cells[0]] = [int(re.sub(r"[^0-9]", "", c)) for c in cells[1:3]]
    return table


def test_the_peer_table_is_measured():
    printed = _printed()
    assert set(printed) == set(COUNTERS)
    models = _models()
    for name, count in COUNTERS.items():
        measured = [int(count(m, side)) for m, side in models]
        assert measured == printed[name], name


# The reference models the reference tier builds, refereed as any nn.Module (`referee --model`):
# every installed peer's total, run on the model itself, is predicted to the unit from incprof's
# inventory of the same model. torchvision's at a batch of 2 (per-image against per-batch
# conventions), timm's at 1 to keep the CPU forward passes short.
REFEREED = [("torchvision:googlenet", 224, 2), ("torchvision:inception_v3", 299, 2),
            ("torchvision:resnet50", 224, 2), ("timm:inception_v4", 299, 1),
            ("timm:inception_resnet_v2", 299, 1), ("timm:legacy_xception", 299, 1),
            # nn.ReLU6 (ptflops' module hook); timm's LayerNorm subclass and ViT Attention
            # (ptflops' hook of its own), GELU, a class token
            ("torchvision:mobilenet_v2", 224, 2), ("timm:deit_tiny_patch16_224", 224, 1)]


@pytest.mark.parametrize("name,side,batch", REFEREED, ids=[n for n, _, _ in REFEREED])
def test_referee_model_residual_zero(name, side, batch):
    from incprof.referee.referee import referee

    result = referee(model=resolve_model(name), label=name, input_size=side, batch_size=batch)
    for t in result["tools"]:
        assert t["installed"], t["tool"]
        assert t["residual"] == 0, (t["tool"], t["reported"], t["predicted"], t["residual_from"])
        assert t["params_residual"] in (0, None), t
