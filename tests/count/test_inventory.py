"""The op inventory (incprof.count.inventory): a spec's ops carry the analytic counts; a model's recorded
views hold what each kind of peer sees."""

from conftest import user_models
from incprof.capture import inventory as ops
from incprof.referee.conventions import WATCHED


def test_the_model_inventory_views():
    """Functional, by hand at 8x8 (conv 3->8, 3x3, stride 2: 4x4 maps): the calls view holds
    the modules (block.conv and block.bn twice each, fc) and the watched calls made outside them
    (F.relu twice); `+`, `*` and `@` are operators, which no peer's patch sees."""
    import torch

    inventory = ops.model_ops(user_models().functional(), torch.zeros(1, 3, 8, 8), WATCHED)
    assert [op.kind for op in inventory.calls] == [
        "conv", "batchnorm", "F.relu", "conv", "batchnorm", "F.relu", "linear"]
    assert [op.macs for op in inventory.calls if op.kind == "conv"] == [8 * 9 * 8 * 16] * 2
    conv = [op for op in inventory.aten if op.kind == "conv"]
    assert [op.macs for op in conv] == [3 * 9 * 8 * 16] + [8 * 9 * 8 * 16] * 2
    assert inventory.params == 8 * 27 + (8 * 72 + 16) + (8 * 5 + 5) + 25
    assert sum(inventory.executed.values()) == (8 * 72 + 16) + (8 * 5 + 5)  # modules that ran
