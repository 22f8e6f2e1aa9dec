"""The referee in training mode: FlopCounterMode's step total predicted to the unit, grouped convs
(whose weight gradients FlopCounterMode prices at groups x their MACs) included."""

import pytest

from incprof.referee.training import referee_training

pytest.importorskip("torch")


@pytest.mark.slow
def test_xception_step_predicted_to_the_unit():
    result = referee_training("xception", batch_size=2)
    tool = result["tools"][0]
    assert tool["residual"] == 0 and tool["reported"] == tool["predicted"]
    # docs/training.md: the depthwise weight gradients add 2.5 times the step's MACs
    p = result["predicted_from"]
    assert round(p["grouped_excess_macs"] / p["step_macs"], 1) == 2.5
