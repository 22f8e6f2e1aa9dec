"""A training step's counts from the spec against tests/data/tiny.yaml worked out by hand, and
against formulas written out here (conv: k*k*cin*cout*h*w MACs per gradient; linear: in*out)."""

import pytest

from conftest import DATA
from incprof.count.step_memory import model_step_memory
from incprof.count.training import saved_bytes, step_spec
from incprof.spec.registry import load_spec, resolve

F = 4  # bytes per fp32 value


def conv_macs(k, cin, cout, hw):
    return k * k * cin * cout * hw * hw


# tiny.yaml: conv 3->4 3x3 same on 8x8 (bias, ReLU); max pool 2x2/2 to 4x4; a GoogLeNet module on
# 4x4x4 (1x1 2 | 1x1 2 -> 3x3 3 | 1x1 1 -> 5x5 2 | max pool 3x3/1 -> 1x1 1); global avg pool;
# linear 8->5; aux head after pool: avg pool 2x2/2 to 2x2x4, linear 16->3.
CONV = conv_macs(3, 3, 4, 8)  # 6,912
MIXED = (conv_macs(1, 4, 2, 4) + conv_macs(1, 4, 2, 4) + conv_macs(3, 2, 3, 4)
         + conv_macs(1, 4, 1, 4) + conv_macs(5, 1, 2, 4) + conv_macs(1, 4, 1, 4))
FC, HEAD = 8 * 5, 16 * 3


@pytest.fixture(scope="module")
def tiny():
    return {r.placed.name: r.counts for r in step_spec(load_spec(DATA / "tiny.yaml"))}


def test_gradient_macs_by_hand(tiny):
    # the first layer computes no input gradient; every later conv and linear layer computes both
    assert (tiny["conv"].forward_macs, tiny["conv"].input_grad_macs,
            tiny["conv"].weight_grad_macs) == (CONV, 0, CONV)
    assert (tiny["mixed"].forward_macs, tiny["mixed"].input_grad_macs,
            tiny["mixed"].weight_grad_macs) == (MIXED, MIXED, MIXED) == (2048, 2048, 2048)
    assert (tiny["fc"].input_grad_macs, tiny["fc"].weight_grad_macs) == (FC, FC)
    assert (tiny["head"].forward_macs, tiny["head"].backward_macs) == (HEAD, 2 * HEAD)
    assert tiny["pool"].step_macs == tiny["gap"].step_macs == 0


def test_saved_bytes_by_hand(tiny):
    # conv saves its input and its ReLU's output; the max pool its indices (int64, its input was
    # saved already); the aux head runs right after pool, so it saves pool's output first (its
    # avg pool's input), then its linear layer's input
    assert tiny["conv"].saved_bytes == (3 * 64 + 4 * 64) * F
    assert tiny["pool"].saved_bytes == 4 * 16 * 8
    assert tiny["head"].saved_bytes == (4 * 16 + 4 * 4) * F
    # branches: each ReLU output (2, 2 then 3, 1 then 2, and the pool branch's 1), the pool
    # branch's max pool indices (int64) and its output, which the 1x1 projection saves
    relus = (2 + 2 + 3 + 1 + 2 + 1) * 16
    assert tiny["mixed"].saved_bytes == relus * F + 4 * 16 * 8 + 4 * 16 * F
    assert tiny["gap"].saved_bytes == 0  # a mean saves nothing
    assert tiny["fc"].saved_bytes == 8 * F  # the linear layer's input


def test_backward_other_ops_by_hand(tiny):
    # conv: its bias gradient (1 per output) and its ReLU's mask (1 per output)
    assert tiny["conv"].backward_other_ops == 2 * 4 * 64
    # the max pool routes each output's gradient to its argmax: 1 per output
    assert tiny["pool"].backward_other_ops == 4 * 16


def test_frozen_rows_compute_no_weight_gradient():
    spec = load_spec(DATA / "tiny.yaml")
    rows = {r.placed.name: r.counts for r in step_spec(spec, frozen=frozenset({"conv"}))}
    # conv frozen: no weight gradient, and nothing before mixed is trained, so no input gradient
    # reaches back to the first layers; the aux head's input needs no gradient either
    assert rows["conv"].backward_macs == 0
    assert rows["conv"].saved_bytes == 0
    # mixed: its first convs' inputs need no gradient; only the 3x3 and 5x5 (after a trained
    # reduction) compute input gradients
    assert rows["mixed"].input_grad_macs == conv_macs(3, 2, 3, 4) + conv_macs(5, 1, 2, 4)
    assert rows["mixed"].weight_grad_macs == MIXED
    assert rows["head"].input_grad_macs == 0 and rows["head"].weight_grad_macs == HEAD


def test_grouped_conv_excess_is_what_flop_counter_adds(write_spec):
    path = write_spec("""
name: grouped
title: grouped
input: [4, 6, 6]
rows:
  - name: a
    type: conv
    layers: [{conv: {out: 8, kernel: 1}}]
  - name: b
    type: conv
    layers: [{conv: {out: 8, kernel: 3, groups: 4}}]
""")
    rows = {r.placed.name: r.counts for r in step_spec(load_spec(path))}
    macs = 3 * 3 * (8 // 4) * 8 * 4 * 4
    assert rows["b"].weight_grad_macs == macs
    assert rows["b"].grouped_excess_macs == 3 * macs  # FlopCounterMode: groups x the MACs


def test_batch_scales_all_but_batchnorm_statistics():
    rows = step_spec(resolve("inception_v3"))
    c = rows[0].counts  # conv + BN + ReLU: the BN's mean and inverse std, per channel
    assert c.stat_bytes == 2 * 32 * F
    assert saved_bytes(c, 5) == 5 * c.saved_bytes + c.stat_bytes


@pytest.mark.parametrize("optimizer, copies", [("sgd", 0), ("momentum", 1), ("adam", 2),
                                               ("adamw", 2)])
def test_optimizer_state(optimizer, copies):
    spec = load_spec(DATA / "tiny.yaml")
    rows = step_spec(spec)
    order = ["conv", "pool", "head", "mixed", "gap", "fc"]
    m = model_step_memory(rows, order, 1, optimizer, inference_peak_elements=0)
    # params by hand: conv 3*3*3*4+4; module 10+10+57+5+52+5; fc 8*5+5; head 16*3+3
    params = 112 + 139 + 45 + 51
    tensors = 2 + 12 + 2 + 2  # a weight and a bias each
    assert m.param_bytes == m.grad_bytes == params * F
    assert m.optimizer_bytes == copies * params * F + (4 * tensors if copies == 2 else 0)



def test_a_frozen_conv_still_saves_its_input():
    # torch's convolution keeps its input whenever a gradient flows through it: freezing the
    # module saves no bytes (its input still needs the weight, and keeps the input too)
    rows = {r.placed.name: r.counts
            for r in step_spec(load_spec(DATA / "tiny.yaml"), frozen=frozenset({"mixed"}))}
    relus = (2 + 2 + 3 + 1 + 2 + 1) * 16
    assert rows["mixed"].saved_bytes == relus * F + 4 * 16 * 8 + 4 * 16 * F
    assert rows["mixed"].weight_grad_macs == 0 and rows["mixed"].input_grad_macs == MIXED
