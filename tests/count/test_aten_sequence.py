"""The aten-op vocabulary's rules for transformers and sequence models (incprof.count.aten):
attention in every aten form, nn.MultiheadAttention on both paths, LSTM/GRU/RNN, every einsum and
matmul form, embeddings, normalisations and activations. Each figure is derived independently of
the rule: FlopCounterMode on the math backend or on a hand-unrolled cell, or a formula written
here; where FlopCounterMode has no formula, the row says so."""

import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from incprof.capture.rows import profile_model_records  # noqa: E402
from test_aten import Call  # noqa: E402 (the one-op model of the vocabulary tests)

torch.set_num_threads(1)
X = (1, 3, 8, 8)  # the example input: 192 elements, reshaped by each case


def _profile(model):
    return profile_model_records(model.eval(), 8)


def _flop_counter_macs(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops() // 2


def _attention(q_shape, k_shape, v_shape, **kwargs):
    """sdpa on slices of the input, q k v of the given shapes."""
    def fn(x):
        flat = x.flatten().repeat(64)
        q, k, v = (flat[:math.prod(s)].view(s) for s in (q_shape, k_shape, v_shape))
        return F.scaled_dot_product_attention(q, k, v, **kwargs)
    return fn


ATTENTION = {
    "self": ((1, 2, 6, 8), (1, 2, 6, 8), (1, 2, 6, 8), {}),
    "causal": ((2, 2, 6, 8), (2, 2, 6, 8), (2, 2, 6, 8), {"is_causal": True}),
    "cross, own value size": ((1, 3, 4, 8), (1, 3, 7, 8), (1, 3, 7, 5), {}),
    "grouped-query heads": ((1, 4, 5, 8), (1, 2, 5, 8), (1, 2, 5, 8), {"enable_gqa": True}),
    "no heads dimension": ((6, 8), (6, 8), (6, 4), {}),
}


@pytest.mark.parametrize("case", ATTENTION)
def test_attention_equals_flop_counter_mode_on_the_math_backend(case):
    """The CPU flash kernel has no FlopCounterMode formula: the row names it; the figure is what
    FlopCounterMode counts of the math backend's matmuls (every score: a causal mask is not
    priced). Other ops: the query's scaling and the softmax, by the formula."""
    q, k, v, kwargs = ATTENTION[case]
    fn = _attention(q, k, v, **kwargs)
    with sdpa_kernel(SDPBackend.MATH):
        math_macs = _flop_counter_macs(fn, torch.zeros(X))
    records = _profile(Call(fn))
    totals, row = records.attrs["totals"], records.rows[0]
    scores = math.prod(q[:-2]) * q[-2] * k[-2]
    assert totals["macs"] == math_macs == scores * (q[-1] + v[-1])
    assert totals["other_ops"] == math.prod(q) + scores
    assert totals["not_counted"] == {} and totals["flop_counter_agrees"]
    # torch runs the CPU flash kernel where it can, else the math backend (a value size of its own)
    assert row["no_flop_formula"] in ("aten._scaled_dot_product_flash_attention_for_cpu x 1", "")
    assert row["no_flop_formula_macs"] == (totals["macs"] if row["no_flop_formula"] else 0)
    assert "not priced" in records.attrs["meta"]["rules"]


def test_every_attention_form_in_the_table_counts_alike():
    from incprof.count.aten import ATEN

    q, k, v = (2, 3, 4, 8), (2, 3, 7, 8), (2, 3, 7, 5)
    forms = ["scaled_dot_product_attention", "_scaled_dot_product_attention_math",
             "_scaled_dot_product_flash_attention", "_scaled_dot_product_efficient_attention",
             "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_cudnn_attention"]
    assert {ATEN[f].rule([q, k, v], (2, 3, 4, 5)) for f in forms} == {
        (2 * 3 * 4 * 7 * (8 + 5), 2 * 3 * 4 * 8 + 2 * 3 * 4 * 7)}


class Attend(nn.Module):
    def __init__(self, need_weights: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights = need_weights

    def forward(self, x):
        tokens = x.reshape(2, 12, 8)
        return self.attn(tokens, tokens, tokens, need_weights=self.need_weights)[0]


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_both_paths_equal_the_formula(need_weights):
    """Plain path (autograd on, as captured): FlopCounterMode counts the projections and, with
    need_weights, the bmm; the fused path (eval, no grad: aten._native_multi_head_attention,
    which FlopCounterMode has no formula for) is priced alike."""
    model = Attend(need_weights).eval()
    b, length, e, heads = 2, 12, 8, 2
    formula = b * 4 * length * e * e + 2 * b * length * length * e
    records = _profile(model)
    assert records.attrs["totals"]["macs"] == formula
    assert records.attrs["totals"]["flop_counter_agrees"]
    if need_weights:  # the plain path's every product is a bmm or a linear FlopCounterMode counts
        assert _flop_counter_macs(model, torch.zeros(X)) == formula
    mha = model.attn
    fused = Call(lambda x: torch._native_multi_head_attention(
        *(x.reshape(2, 12, 8),) * 3, e, heads, mha.in_proj_weight, mha.in_proj_bias,
        mha.out_proj.weight, mha.out_proj.bias, None, need_weights)[0])
    totals = _profile(fused).attrs["totals"]
    scores = b * heads * length * length
    assert totals["macs"] == formula
    assert totals["other_ops"] == b * length * e + scores + scores * need_weights
    assert _profile(fused).rows[0]["no_flop_formula"] == "aten._native_multi_head_attention x 1"


def _unrolled(module, x):
    """``module``'s products written out as torch.mm, step by step, for FlopCounterMode: every
    layer and direction, input and hidden weights, an LSTM's projection."""
    layers, directions = module.num_layers, 2 if module.bidirectional else 1
    steps, batch = (x.shape[1], x.shape[0]) if module.batch_first else x.shape[:2]
    hidden = module.proj_size or module.hidden_size
    width = x.shape[-1]
    for layer in range(layers):
        for d in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = getattr(module, f"weight_ih{suffix}"), getattr(module, f"weight_hh{suffix}")
            for _ in range(steps):
                torch.mm(torch.zeros(batch, width), w_ih.T)
                torch.mm(torch.zeros(batch, hidden), w_hh.T)
                if module.proj_size:
                    torch.mm(torch.zeros(batch, module.hidden_size),
                             getattr(module, f"weight_hr{suffix}").T)
        width = hidden * directions


RECURRENT = {
    "lstm": lambda: nn.LSTM(8, 16),
    "lstm 2 layers, bidirectional, proj_size, batch_first": lambda: nn.LSTM(
        8, 16, num_layers=2, bidirectional=True, proj_size=4, batch_first=True),
    "gru 2 layers, batch_first": lambda: nn.GRU(8, 12, num_layers=2, batch_first=True),
    "gru bidirectional, no bias": lambda: nn.GRU(8, 6, bidirectional=True, bias=False),
    "rnn tanh": lambda: nn.RNN(8, 10),
    "rnn relu, 3 layers": lambda: nn.RNN(8, 10, num_layers=3, nonlinearity="relu"),
}


@pytest.mark.parametrize("case", RECURRENT)
def test_recurrent_layers_equal_a_hand_unrolled_cell(case):
    """MACs: FlopCounterMode on the cell written as matmuls. Other ops per step, layer and
    direction: the gates' sums (G*H, two biases 2*G*H) and the cell's element-wise ops."""
    torch.manual_seed(0)
    module = RECURRENT[case]().eval()
    model = Call(lambda x: module(x.reshape(4, 6, 8))[0])
    model.rnn = module
    x = torch.zeros(4, 6, 8)
    unrolled = _flop_counter_macs(_unrolled, module, x)
    totals = _profile(model).attrs["totals"]
    assert totals["macs"] == unrolled and totals["not_counted"] == {}
    assert totals["flop_counter_agrees"]
    gates, cell = {"LSTM": (4, 9), "GRU": (3, 8), "RNN": (1, 1)}[type(module).__name__]
    per_step = module.hidden_size * (gates * (1 + 2 * module.bias) + cell)
    directions = 2 if module.bidirectional else 1
    assert totals["other_ops"] == 24 * module.num_layers * directions * per_step


EINSUM = {
    "ij,jk->": ([(32, 32), (32, 32)], 32, 2 * 32 * 32),  # both sums first, then a dot product
    "ij,jk->ik": ([(4, 8), (8, 3)], 4 * 8 * 3, 0),
    "ij,jk": ([(4, 8), (8, 3)], 4 * 8 * 3, 0),  # implicit output
    "bhqd,bhkd->bhqk": ([(2, 3, 4, 5), (2, 3, 6, 5)], 2 * 3 * 4 * 6 * 5, 0),
    "...ij,...jk->...ik": ([(2, 3, 4), (4, 5)], 2 * 3 * 4 * 5, 0),
    "ij,jk,kl->il": ([(3, 4), (4, 5), (5, 6)], 3 * 4 * 5 + 3 * 5 * 6, 0),
    "ij,j->i": ([(6, 4), (4,)], 24, 0),
    "i,j->ij": ([(32,), (32,)], 0, 32 * 32),  # an outer product sums nothing: torch runs a mul
    "ij,ij->ij": ([(4, 8), (4, 8)], 0, 4 * 8),  # element-wise
    "ij,ij->i": ([(4, 8), (4, 8)], 4 * 8, 0),  # row-wise dot products
    "bi,bj,bj->bij": ([(2, 3), (2, 4), (2, 4)], 0, 2 * 3 * 4 * 2),  # two element-wise products
    "ii->i": ([(5, 5)], 0, 0),  # a diagonal: a view
    "ij->j": ([(5, 7)], 0, 35),  # a sum over i
    "ij->": ([(5, 7)], 0, 35),
    "ii": ([(5, 5)], 0, 5),  # the trace: the diagonal summed
}


@pytest.mark.parametrize("equation", EINSUM)
def test_einsum_forms_equal_flop_counter_mode_and_a_formula(equation):
    shapes, macs, other = EINSUM[equation]

    def fn(x):
        flat = x.flatten().repeat(64)
        return torch.einsum(equation, *(flat[:math.prod(s)].view(s) for s in shapes))

    totals = _profile(Call(fn)).attrs["totals"]
    assert (totals["macs"], totals["not_counted"]) == (macs, {})
    assert _flop_counter_macs(fn, torch.zeros(X)) == macs == totals["flop_counter_macs"]
    assert totals["other_ops"] == other


MATMUL = {  # a @ b: output elements times the inner size
    "1-D @ 3-D": ((4,), (2, 4, 8), 2 * 8 * 4),
    "3-D @ 1-D": ((2, 3, 4), (4,), 2 * 3 * 4),
    "broadcast": ((2, 1, 3, 4), (5, 4, 6), 2 * 5 * 3 * 6 * 4),
    "batched": ((3, 2, 4), (3, 4, 5), 3 * 2 * 5 * 4),
    "2-D @ 1-D": ((3, 4), (4,), 12),
}


@pytest.mark.parametrize("case", MATMUL)
def test_matmul_forms_equal_flop_counter_mode_and_a_formula(case):
    a, b, macs = MATMUL[case]

    def fn(x):
        flat = x.flatten().repeat(8)
        return flat[:math.prod(a)].view(a) @ flat[:math.prod(b)].view(b)

    records = _profile(Call(fn))
    totals = records.attrs["totals"]
    assert (totals["macs"], totals["not_counted"]) == (macs, {})
    assert totals["flop_counter_agrees"]
    flop_counter = _flop_counter_macs(fn, torch.zeros(X))
    # torch computes a matrix-vector product as aten.mv, which FlopCounterMode has no formula for
    assert flop_counter == (0 if records.rows[0]["no_flop_formula"] else macs)


def test_a_dot_product_has_no_flop_counter_formula_and_says_so():
    records = _profile(Call(lambda x: x.flatten() @ x.flatten()))
    assert records.attrs["totals"]["macs"] == 192 and records.attrs["totals"]["flop_counter_agrees"]
    assert records.rows[0]["no_flop_formula"] == "aten.dot x 1"


OTHER = {  # other ops per output element: normalisations 2, activations 1; an embedding free
    "LayerNorm": (nn.LayerNorm(8), 2),
    "RMSNorm": (nn.RMSNorm(8), 2),
    "GroupNorm": (nn.GroupNorm(3, 3), 2),
    "BatchNorm1d": (nn.BatchNorm1d(3), 2),
    **{type(m).__name__ + (f" {i}" if i else ""): (m, 1) for i, m in enumerate([
        nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.ReLU6(), nn.Hardswish(), nn.Hardsigmoid(),
        nn.Mish(), nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(), nn.ELU(), nn.CELU(), nn.SELU(),
        nn.Softplus(), nn.PReLU(), nn.LogSigmoid(), nn.Hardshrink(),
        nn.Softshrink(), nn.Threshold(0.1, 0.0)])},
}


@pytest.mark.parametrize("case", OTHER)
def test_normalisations_and_activations_equal_a_formula(case):
    module, per_element = OTHER[case]
    model = Call(lambda x: module(x.reshape(8, 3, 8) if "1d" in case else x))
    model.module = module
    totals = _profile(model).attrs["totals"]
    assert (totals["other_ops"], totals["macs"], totals["not_counted"]) == (
        per_element * 192, 0, {})


def test_an_embedding_is_a_gather_and_free():
    model = Call(lambda x: F.embedding(x.flatten().long(), torch.zeros(10, 4)).sum(), )
    records = _profile(model)
    assert records.attrs["totals"]["not_counted"] == {}
    assert records.attrs["totals"]["other_ops"] == 192 * 4  # the sum alone
    assert "embeddings (a gather)" in records.attrs["meta"]["rules"]
