"""A training step counted by FlopCounterMode on a real backward (meta tensors), against formulas
written here for the hand-worked tiny spec, and against incprof.count.training on every built-in
architecture and flavour, row by row."""

import pytest

from conftest import DATA
from incprof.count.training import step_spec
from incprof.nn.backward import measure_step
from incprof.spec.registry import available, load, load_spec, resolve

pytest.importorskip("torch")


def conv_macs(k, cin, cout, hw):
    return k * k * cin * cout * hw * hw


def test_tiny_by_hand():
    batch = 3
    m = measure_step(load_spec(DATA / "tiny.yaml"), batch_size=batch)
    conv = conv_macs(3, 3, 4, 8)
    mixed = (2 * conv_macs(1, 4, 2, 4) + conv_macs(3, 2, 3, 4) + conv_macs(1, 4, 1, 4)
             + conv_macs(5, 1, 2, 4) + conv_macs(1, 4, 1, 4))
    # the first conv's input needs no gradient; every later layer computes both gradients
    assert (m["conv"].forward_macs, m["conv"].input_grad_macs, m["conv"].weight_grad_macs) == \
        (batch * conv, 0, batch * conv)
    assert (m["mixed"].input_grad_macs, m["mixed"].weight_grad_macs) == (batch * mixed,) * 2
    assert (m["fc"].input_grad_macs, m["fc"].weight_grad_macs) == (batch * 40,) * 2
    assert (m["head"].forward_macs, m["head"].backward_macs) == (batch * 48, 2 * batch * 48)
    # the whole step, FlopCounterMode's own total: conv forward and weight gradient, the rest
    # forward and both gradients
    assert m.flop_counter_total == batch * (2 * conv + 3 * (mixed + 40 + 48))


def test_frozen_rows_follow_requires_grad():
    m = measure_step(load_spec(DATA / "tiny.yaml"), batch_size=2, frozen=frozenset({"conv"}))
    assert m["conv"].backward_macs == 0
    assert m["mixed"].input_grad_macs == 2 * (conv_macs(3, 2, 3, 4) + conv_macs(5, 1, 2, 4))
    assert m["head"].input_grad_macs == 0


FLAVOURS = [(name, flavor) for name in available()
            for flavor in ("paper", *resolve(name).flavors)]


@pytest.mark.slow
@pytest.mark.parametrize("name, flavor", FLAVOURS)
def test_every_row_agrees_with_the_spec(name, flavor):
    spec = load(name, flavor)
    batch = 2
    m = measure_step(spec, batch_size=batch)
    expected_total = 0
    for r in step_spec(spec):
        c = r.counts
        # FlopCounterMode prices a grouped conv's weight gradient at groups x its MACs
        expected = (c.forward_macs, c.input_grad_macs, c.weight_grad_macs + c.grouped_excess_macs)
        got = m[r.placed.name]
        assert (got.forward_macs, got.input_grad_macs, got.weight_grad_macs) == \
            tuple(batch * v for v in expected), r.placed.name
        expected_total += batch * sum(expected)
    assert m.flop_counter_total == expected_total
