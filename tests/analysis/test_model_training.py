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


def _flop_counter_step_macs(net, args, kwargs=None) -> int:
    """FlopCounterMode's MACs (FLOPs / 2) on a real forward and loss.backward() of ``net``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = net(*args, **(kwargs or {}))
        logits = out.logits if hasattr(out, "logits") else out
        logits.sum().backward()
    return counter.get_total_flops() // 2


def test_token_ids_train_on_the_given_example_as_flop_counter_mode_counts():
    from torch import nn

    from incprof.analysis.model_training import model_training_records
    from incprof.capture.inputs import parse_inputs, zeros

    net = nn.Sequential(nn.Embedding(50, 8), nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    example = zeros(parse_inputs(["2x5:int64"]))
    records = model_training_records(net, example=example)
    totals = records.attrs["totals"]
    tokens = 2 * 5
    forward = tokens * (8 * 16 + 16 * 3)
    # the embedding's output needs a gradient (its weight does): both linears get an input
    # gradient and a weight gradient of their forward MACs each
    assert (totals["forward_macs"], totals["input_grad_macs"], totals["weight_grad_macs"]) == (
        forward, forward, forward)
    assert totals["step_macs"] == _flop_counter_step_macs(net, example.args) == 3 * forward
    assert totals["check_agrees"] and records.attrs["meta"]["input"] == "2x5:int64"


def test_keyword_inputs_and_a_dataclass_output():
    from incprof.analysis.model_training import model_training_records
    from incprof.capture.inputs import Example

    args, kwargs = user_models().tagger_inputs()
    net = user_models().tagger()
    records = model_training_records(net, example=Example(args, kwargs))
    head = 2 * 6 * 8 * 5  # the head per token; the embedding's output needs a gradient
    assert records.attrs["totals"]["step_macs"] == _flop_counter_step_macs(net, args, kwargs) \
        == 3 * head
    assert records.attrs["meta"]["input"] == "2x6:int64, mask=2x6"


def test_an_output_with_no_tensor_to_take_a_loss_from_is_refused():
    from torch import nn

    from incprof.analysis.model_training import model_training_records
    from incprof.capture.inputs import Example
    from incprof.errors import UsageError

    class Argmax(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x).argmax(-1)

    with pytest.raises(UsageError, match="no tensor that needs a gradient"):
        model_training_records(Argmax(), example=Example((torch.zeros(2, 4),)))
