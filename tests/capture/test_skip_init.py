"""Zoo models built without drawing their random weights (incprof.capture.skip_init): no random
number is drawn while a model is built, what is computed at build time is exact, and the counts
are those of a model built as usual."""

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from incprof.capture.rows import profile_model_records  # noqa: E402
from incprof.capture.skip_init import skip_init  # noqa: E402


class Built(nn.Module):
    """Layers that torch.nn.init initialises at random, one that timm-style code fills with
    tensor methods, and a buffer computed at build time."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4 * 6 * 6, 5)
        self.lstm = nn.LSTM(5, 3)
        self.pos = nn.Parameter(torch.empty(1, 5))
        self.pos.data.normal_().erfinv_()
        nn.init.trunc_normal_(tensor=self.fc.weight, std=0.02)
        self.register_buffer("index", torch.arange(5))

    def forward(self, x):
        x = self.fc(self.conv(x).flatten(1)) + self.pos
        return self.lstm(x[:, self.index])[0]


def test_no_random_number_is_drawn_and_a_built_buffer_is_exact():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    with skip_init():
        model = Built()
    assert torch.equal(torch.get_rng_state(), state)  # torch.nn.init draws from this generator
    assert torch.equal(model.index, torch.arange(5))
    torch.manual_seed(0)
    Built()
    assert not torch.equal(torch.get_rng_state(), state)  # the control: a usual build draws


def test_the_counts_are_those_of_a_usual_build():
    with skip_init():
        skipped = profile_model_records(Built().eval(), 8)
    usual = profile_model_records(Built().eval(), 8)
    assert skipped.rows == usual.rows and skipped.attrs["totals"] == usual.attrs["totals"]


def test_an_initialiser_that_redraws_until_in_bounds_stops():
    """torch's trunc_normal_ redraws normal_ values until all fall in [a, b]: a fill left as
    allocated could loop forever; a constant mean ends it at once."""
    torch.manual_seed(0)
    state = torch.get_rng_state()
    with skip_init():
        weight = torch.nn.init._no_grad_trunc_normal_(torch.full((64,), 1e9), 0.5, 0.02, 0.0,
                                                      1.0)
        low = torch.empty(8).uniform_(2.0, 4.0)
    assert torch.equal(weight, torch.full((64,), 0.5)) and torch.equal(low, torch.full((8,), 3.0))
    assert torch.equal(torch.get_rng_state(), state)
