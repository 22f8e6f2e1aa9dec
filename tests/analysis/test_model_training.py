"""A --model's training step: a hand-worked network, frozen parameters, and the --model test
models (tests/data/user_models.py), FlopCounterMode agreeing on every row."""

import pytest

from conftest import user_models

torch = pytest.importorskip("torch")


def test_hand_worked_network_with_a_frozen_layer():
    from torch import nn

    from incprof.analysis.model_training import model_training_records

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3, bias=False),
                        nn.Flatten(), nn.Linear(6 * 4 * 4, 5))
    net[2].weight.requires_grad_(False)
    batch = 2
    records = model_training_records(net, 8, batch_size=batch)
    rows = {r["row"]: r for r in records.rows}
    conv1 = batch * 3 * 3 * 3 * 4 * 6 * 6
    conv2 = batch * 3 * 3 * 4 * 6 * 4 * 4
    fc = batch * 96 * 5
    assert (rows["0"]["input_grad_macs"], rows["0"]["weight_grad_macs"]) == (0, conv1)
    # frozen: an input gradient (conv1 before it is trained), no weight gradient
    assert (rows["2"]["input_grad_macs"], rows["2"]["weight_grad_macs"]) == (conv2, 0)
    assert (rows["4"]["input_grad_macs"], rows["4"]["weight_grad_macs"]) == (fc, fc)
    assert records.attrs["totals"]["check_agrees"]


@pytest.mark.parametrize("name, size", [("functional", 16), ("inception_like", 32),
                                        ("branchy", 32), ("five_by_five", 32),
                                        ("attention", None), ("hardswish_net", 32)])
def test_user_models_agree_on_every_row(name, size):
    from incprof.analysis.model_training import model_training_records

    records = model_training_records(getattr(user_models(), name)(), size, batch_size=2)
    assert records.attrs["totals"]["check_agrees"], records.rows
    assert records.attrs["totals"]["step_macs"] > records.attrs["totals"]["forward_macs"]
