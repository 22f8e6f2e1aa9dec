"""The aten-op vocabulary (incprof.count.aten): the table is whole and agrees with itself, its rules
count what a formula written here and FlopCounterMode count on real runs, and every reader (capture
rows, the model inventory, export, the cross-check, the peers' breakdowns) sees the table as it is."""

import pytest

from conftest import DATA
from incprof.count import aten
from incprof.count.aten import ATEN, FREE_WAYS, AtenOp, Free, nothing, per_output

SHAPES = [(), (1, 3, 8, 8), (2, 5), [(2, 3, 4), (2, 4, 5)]]


def test_every_op_has_a_rule_and_a_free_op_a_way_and_no_arithmetic():
    for name, op in ATEN.items():
        assert callable(op.rule), name
        assert op.free is None or op.free in FREE_WAYS, name
        assert (op.rule is nothing) == (op.free is not None), name
        assert op.bias is None or op.bias != op.operand, name


def test_an_in_place_spelling_is_its_base_op():
    for name, op in ATEN.items():
        base = ATEN.get(name.removesuffix("_"))
        if name.endswith("_") and base is not None:
            assert (op.kind, op.free) == (base.kind, base.free), name
            shape = (2, 3, 4, 4)
            assert op.rule([shape, 2], shape) == base.rule([shape, 2], shape), name


def test_every_kind_a_peer_prices_at_the_aten_level_has_ops_with_a_rule():
    """A kind misspelt in the referee's conventions, or one whose ops the table made free, fails."""
    from incprof.capture.inventory import JIT_CALLS
    from incprof.referee.conventions import CONVENTIONS

    counted = {op.kind for op in ATEN.values() if op.free is None}
    for tool, convention in CONVENTIONS.items():
        if convention["level"] in ("aten", "jit"):
            assert set(convention["ops"]) <= counted | set(JIT_CALLS), tool


def test_the_kinds_of_a_spec_and_of_its_modules_are_the_tables():
    """A spec's inventory, the module hooks' and the aten ops' name a layer alike."""
    from incprof.capture.inventory import MODULE_KINDS
    from incprof.count.inventory import spec_ops
    from incprof.spec.registry import available, resolve
    from incprof.spec.shapes import place

    kinds = {op.kind for op in ATEN.values()}
    spec = {op.kind for name in available() for p in place(resolve(name))
            for op in spec_ops(p.layers, p.in_shape)}
    # an LRN is a Python function over aten ops, a residual's scale an aten mul: no aten op of
    # their own (an attention module's is its fused path, aten._native_multi_head_attention);
    # nn.Upsample calls F.interpolate, whose aten ops (upsample_nearest2d, ...) have no rule
    assert spec - kinds == {"lrn", "scale"}
    assert set(MODULE_KINDS.values()) - kinds == {"lrn", "upsample"}


def test_free_ways_pick_their_ops():
    assert {"flatten", "view", "reshape", "_unsafe_view", "clone", "alias", "contiguous", "detach",
            "identity"} <= set(Free("same"))
    assert "cat" in Free("rearrange") and "cat" not in Free("same", "size", "pass", "new")
    assert "dropout" in Free("pass") and "relu" not in Free(*FREE_WAYS) and "exp" not in Free("same")


torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


class Call(nn.Module):
    """``fn(x, *weights)``, with weights of the given shapes."""

    def __init__(self, fn, *shapes) -> None:
        super().__init__()
        self.fn = fn
        self.weights = nn.ParameterList(nn.Parameter(torch.randn(*s) * 0.1) for s in shapes)

    def forward(self, x):
        return self.fn(x, *self.weights)


def _totals(model):
    from incprof.capture.rows import profile_model_records

    torch.manual_seed(0)
    return profile_model_records(model, 8).attrs["totals"]  # input 1x3x8x8: 192 elements


# MACs written out: the output (or, transposed, the input) times the weights per position; M*N*K.
MAC_CASES = {
    "conv2d, groups": (lambda x, w: F.conv2d(x, w, groups=3), [(6, 1, 3, 3)], 6 * 6 * 6 * 9),
    "conv_transpose2d": (lambda x, w: F.conv_transpose2d(x, w, stride=2), [(3, 4, 3, 3)],
                         3 * 8 * 8 * 4 * 9),
    "conv1d": (lambda x, w: F.conv1d(x.flatten(2), w), [(5, 3, 3)], 5 * 62 * 3 * 3),
    "conv3d": (lambda x, w: F.conv3d(x[:, None], w), [(2, 1, 3, 3, 3)], 2 * 1 * 6 * 6 * 27),
    "linear on 3 dims": (lambda x, w: F.linear(x.flatten(2), w), [(7, 64)], 3 * 64 * 7),
    "addmm": (lambda x, b, w: torch.addmm(b, x.flatten(1), w), [(5,), (192, 5)], 192 * 5),
    "mm": (lambda x, w: torch.mm(x.view(24, 8), w), [(8, 4)], 24 * 8 * 4),
    "bmm": (lambda x, w: torch.bmm(x.view(3, 8, 8), w), [(3, 8, 2)], 3 * 8 * 8 * 2),
    "baddbmm": (lambda x, b, w: torch.baddbmm(b, x.view(3, 8, 8), w), [(3, 8, 2), (3, 8, 2)],
                3 * 8 * 8 * 2),
    "matmul": (lambda x, w: x @ w, [(8, 4)], 3 * 8 * 8 * 4),
    "einsum": (lambda x, w: torch.einsum("nchw,dw->nchd", x, w), [(5, 8)], 3 * 8 * 8 * 5),
}


@pytest.mark.parametrize("case", MAC_CASES)
def test_mac_rules_equal_a_formula_and_flop_counter_mode(case):
    fn, shapes, macs = MAC_CASES[case]
    totals = _totals(Call(fn, *shapes))
    assert (totals["macs"], totals["flop_counter_macs"], totals["not_counted"]) == (macs, macs, {})


def _bn(op):
    """A batch norm on x through one of the aten ops, with running statistics, at inference."""
    def call(x, w, b):
        mean, var = torch.zeros(3), torch.ones(3)
        args = {"_native_batch_norm_legit": (x, w, b, mean, var, False, 0.1, 1e-5),
                "_native_batch_norm_legit_no_training": (x, w, b, mean, var, 0.1, 1e-5),
                "native_batch_norm": (x, w, b, mean, var, False, 0.1, 1e-5)}[op]
        return getattr(torch.ops.aten, op)(*args)[0]
    return call


# Other ops written out: per output element (normalisations 2, activations 1), the window per
# pooled output, one per input element of a reduction; nothing for a view or a copy.
OTHER_CASES = {
    "batch_norm": (lambda x, w, b: F.batch_norm(x, torch.zeros(3), torch.ones(3), w, b),
                   [(3,), (3,)], 2 * 192),
    **{op: (_bn(op), [(3,), (3,)], 2 * 192) for op in (
        "_native_batch_norm_legit", "_native_batch_norm_legit_no_training", "native_batch_norm")},
    "layer_norm": (lambda x: F.layer_norm(x, (8,)), [], 2 * 192),
    "relu_ on a clone": (lambda x: x.clone().relu_(), [], 192),
    "softmax": (lambda x: F.softmax(x, 1), [], 192),
    "_safe_softmax (T5)": (lambda x: torch.ops.aten._safe_softmax(x, 1), [], 192),
    "neg": (lambda x: -x, [], 192),
    # two comparisons and the & that combines them (ELECTRA's masks), each 1 per element
    "__and__": (lambda x: (x > 0) & (x < 1), [], 3 * 192),
    "x.T (numpy_T, a view)": (lambda x: x.flatten(1).T, [], 0),
    # RMSNorm written out (LLaMA): pow, mean over 8, add, rsqrt, mul; then rotary cos and sin
    "rms norm by hand": (lambda x: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6), [],
                         192 + 192 + 24 + 24 + 192),
    "cos, sin": (lambda x: x.cos() + x.sin(), [], 3 * 192),
    # T5's relative position buckets: abs, log, minimum, where, clamp
    "abs, log, minimum, where, clamp": (
        lambda x: torch.where(x > 0, torch.minimum(x.abs().log(), x), x.clamp(0, 1)), [],
        6 * 192),
    "sqrt, reciprocal, erf, maximum": (
        lambda x: torch.maximum(x.sqrt().reciprocal(), x.erf()), [], 4 * 192),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [], 3 * 4 * 4 * 4),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 1), [], 3 * 6 * 6 * 9),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, 2), [], 192),
    "mean": (lambda x: x.mean((2, 3)), [], 192),
    "views and copies": (lambda x: torch.cat([x.view(1, -1), x.flatten(1).contiguous()], 1), [],
                         0),
}


@pytest.mark.parametrize("case", OTHER_CASES)
def test_other_op_rules_equal_a_formula(case):
    fn, shapes, other = OTHER_CASES[case]
    totals = _totals(Call(fn, *shapes))
    assert (totals["other_ops"], totals["macs"], totals["not_counted"]) == (other, 0, {})


def test_native_batch_norm_legit_is_a_batch_norm_for_every_reader():
    """It was a batch norm to the referee's inventory and an op without a rule to capture."""
    from incprof.capture import export
    from incprof.capture.inventory import model_ops

    model = Call(_bn("_native_batch_norm_legit"), (3,), (3,))
    assert _totals(model)["other_ops"] == 2 * 192
    kinds = [op.kind for op in model_ops(model, torch.zeros(1, 3, 8, 8)).aten]
    assert kinds.count("batchnorm") == 1 and "_native_batch_norm_legit" not in kinds
    assert aten.kind("_native_batch_norm_legit") == "batchnorm" == aten.kind("batch_norm")
    assert "_native_batch_norm_legit" not in export.FREE


def test_every_reader_reads_the_table_when_it_meets_an_op(monkeypatch):
    """erfinv has no rule; given one (3 per output element, kind "inverse_erf"), capture counts it
    and the inventory names its kind; made free, export passes it and the cross-check leaves it
    out; the peers' breakdowns take its kind."""
    from incprof.capture import export
    from incprof.capture.inventory import model_ops
    from incprof.nn import crosscheck
    from incprof.referee import peers

    model = Call(lambda x: torch.erfinv(x))
    assert _totals(model)["not_counted"] == {"aten.erfinv": 1}
    monkeypatch.setitem(ATEN, "erfinv", AtenOp("inverse_erf", per_output(3)))
    totals = _totals(model)
    assert (totals["other_ops"], totals["not_counted"]) == (3 * 192, {})
    assert [op.kind for op in model_ops(model, torch.zeros(1, 3, 8, 8)).aten] == ["inverse_erf"]
    assert peers._fvcore_kind("erfinv") == "inverse_erf"
    assert "erfinv" not in export.FREE and "erfinv" not in crosscheck._NO_COMPUTE
    monkeypatch.setitem(ATEN, "erfinv", AtenOp("erfinv", nothing, free="same"))
    assert "erfinv" in export.FREE and "erfinv" in crosscheck._NO_COMPUTE


def test_the_cross_check_lists_what_the_table_does_not_make_free(monkeypatch):
    """tiny.yaml runs conv2d, relu, max_pool2d, cat, adaptive_avg_pool2d... relu made free (a
    pass-through) is no longer listed as counted as zero."""
    from incprof.nn.crosscheck import measure
    from incprof.spec.registry import load_spec

    spec = load_spec(DATA / "tiny.yaml")
    assert "relu" in measure(spec).skipped and "cat" in measure(spec).skipped
    monkeypatch.setitem(ATEN, "relu", AtenOp("relu", nothing, free="pass"))
    assert "relu" not in measure(spec).skipped and "cat" in measure(spec).skipped


def test_the_peers_breakdowns_name_a_batched_product_as_the_inventory_does():
    """FlopCounterMode's and fvcore's bmm is a linear op, as in the referee's inventory (before,
    their breakdowns called it "bmm" while the prediction called it "linear")."""
    from incprof.capture.inventory import model_ops
    from incprof.referee import peers

    model = Call(lambda x, w: torch.bmm(x.view(3, 8, 8), w), (3, 8, 2)).eval()
    x = torch.zeros(1, 3, 8, 8)
    macs = 3 * 8 * 8 * 2
    assert [(op.kind, op.macs) for op in model_ops(model, x).aten if op.macs] == [("linear", macs)]
    assert peers.run("flop_counter", model, x).by_kind == {"linear": 2 * macs}
    if peers.installed("fvcore"):
        assert peers.run("fvcore", model, x).by_kind == {"linear": macs}


def test_export_takes_a_reshape_from_the_table():
    """squeeze, a reshape in the table, ends a pool as a flatten would (before, export's own list
    had no squeeze: "this op has no spec layer")."""
    from incprof.capture.export import export_spec

    class Squeezed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(F.adaptive_avg_pool2d(self.conv(x), 1).squeeze((2, 3)))

    rows = export_spec(Squeezed(), 8)["rows"]
    layers = [next(iter(layer)) for row in rows for layer in row["layers"]]
    assert layers == ["conv", "global_avgpool", "linear"]
