"""A model's ops per row as a timed model runs them (capture.row_ops): inference-mode ops, their
shapes, views told from copies, and the module calls that run no op of their own."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from incprof.capture.inputs import Example  # noqa: E402
from incprof.capture.row_ops import row_ops  # noqa: E402


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                  nn.ReLU(inplace=True))
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.body(x).permute(0, 2, 3, 1).contiguous()
        return self.fc(y.mean((1, 2)))


def test_each_row_runs_the_ops_a_module_calls_at_inference():
    rows, method = row_ops(Net(), Example((torch.randn(2, 3, 8, 8),), {}), 1, "net")
    assert "meta tensors" in method
    assert list(rows) == ["(Net)", "body", "fc"]
    # no autograd decomposition (convolution, _native_batch_norm_legit_no_training, addmm) and
    # no clone before the in-place ReLU: the ops as the timed model dispatches them
    assert [op.name for op in rows["body"].ops] == ["conv2d", "batch_norm", "relu_"]
    assert [op.name for op in rows["fc"].ops] == ["linear"]
    conv = rows["body"].ops[0]
    assert conv.args[:2] == ((2, 3, 8, 8), (8, 3, 3, 3)) and conv.out == (2, 8, 8, 8)
    assert rows["fc"].ops[0].args[:2] == ((2, 8), (4, 8)) and rows["fc"].ops[0].out == (2, 4)


def test_a_view_is_told_from_a_copy():
    rows, _ = row_ops(Net(), Example((torch.randn(2, 3, 8, 8),), {}), 1, "net")
    own = {op.name: op.view for op in rows["(Net)"].ops}
    assert own == {"permute": True, "contiguous": False, "mean": False}


def test_every_module_call_is_counted_in_its_row():
    rows, _ = row_ops(Net(), Example((torch.randn(2, 3, 8, 8),), {}), 1, "net")
    # body: the Sequential and its Conv2d, BatchNorm2d and ReLU; the model's own call; the Linear
    assert (rows["body"].calls, rows["(Net)"].calls, rows["fc"].calls) == (4, 1, 1)


def test_rows_follow_the_depth():
    rows, _ = row_ops(Net(), Example((torch.randn(1, 3, 8, 8),), {}), 2, "net")
    assert [name for name in rows if name.startswith("body")] == ["body", "body.0", "body.1",
                                                                   "body.2"]
    assert rows["body"].ops == [] and rows["body"].calls == 1
    assert [op.name for op in rows["body.0"].ops] == ["conv2d"] and rows["body.0"].calls == 1
