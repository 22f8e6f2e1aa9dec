"""Any model's rows priced from the ops they run (incprof.capture.row_ops): each op as the kernels
of incprof.nn.predict, priced by the same device profile and roofline (Rates), so that a model
with no spec (its own activations, attention, permutes) is predicted as a spec's network is.
No torch.

An op's kernels follow from its kind in the aten-op vocabulary (incprof.count.aten), its MACs
or other ops by that vocabulary's rule, and its shapes, for the whole batch (priced at batch 1):

- a convolution in its op class (1x1, n x n, 1 x n, depthwise, grouped, stem) from its weight's
  shape; a linear layer, a matrix product, an einsum that sums an index, a recurrent layer
  (its gates' products) at the linear rate;
- attention as its two products and a softmax over its scores;
- BatchNorm at its own rate; LayerNorm, GroupNorm, RMSNorm and InstanceNorm as a BatchNorm and a
  pass for their statistics; softmax as two passes;
- pools at their own rates (a global average: one op per input value);
- every other op with a counting rule as one element-wise pass, rated as a ReLU is (GELU and
  SiLU included, whose own rates the profile does not have);
- an op that only reshapes, slices or reorders: the overhead of a call, where its output is a view
  of its input; a copy of its output's bytes where it is not (a concatenation, a contiguous
  copy); a tensor made from nothing: its bytes written.

Overheads: each module call costs the profile's ``call_s`` (an empty module's call), and each
op its own dispatch, the profile's ``overhead_s`` less ``call_s`` (``overhead_s`` is timed as a
module that runs one op); a view, a call's. A profile that timed no call (a datasheet's: a GPU's
kernel launch) prices each op at ``overhead_s`` and a module call or a view at nothing.

An op with no rule in the vocabulary is not priced: ``unpriced`` names it, per row.
"""

from __future__ import annotations

from collections import Counter

from ..count.aten import ATEN
from ..spec.shapes import numel
from .predict import CALL, STEM_CHANNELS, Cost, Kernel, Rates


def _tensors(args) -> list[tuple]:
    """The tensor arguments (as shapes), those in lists included."""
    out = []
    for a in args:
        if isinstance(a, tuple):
            out.append(a)
        elif isinstance(a, list):
            out += [t for t in a if isinstance(t, tuple)]
    return out


def _values(call) -> int:
    """The values an op reads and writes: every tensor argument's, and its output's."""
    return sum(map(numel, _tensors(call.args))) + numel(call.out or ())


def _positions(shape: tuple | None, channels_at: int | None = None) -> int:
    """Output positions of a tensor: every dimension but its channels, the second of a feature
    map (N, C, H, W; any conv's output: ``channels_at`` 1), else the last (a sequence's
    features, (B, L, E))."""
    if not shape:
        return 1
    at = channels_at if channels_at is not None else 1 if len(shape) >= 4 else -1
    return max(1, numel(shape) // max(1, shape[at]))


def _pass(out: tuple, values: int, in_place: bool) -> Kernel:
    return Kernel("relu", numel(out), values, 0, _positions(out), fresh=0 if in_place else numel(out))


def _conv(call, macs: int, other: int) -> list[Kernel]:
    x, w = call.args[0], call.args[1]
    transposed = call.name.startswith("conv_transpose") or (
        call.name in ("convolution", "_convolution") and bool(call.args[6]))
    groups = 1 if transposed else x[1] // w[1]
    spatial = w[2:]
    op = ("conv depthwise" if groups == x[1] > 1 else "conv grouped" if groups > 1
          else "conv stem" if x[1] <= STEM_CHANNELS
          else "conv 1x1" if all(k == 1 for k in spatial)
          else "conv 1xn" if len(spatial) == 1 or 1 in spatial else "conv nxn")
    return [Kernel(op, macs, numel(x) + numel(call.out), numel(w), _positions(call.out, 1),
                   fresh=numel(call.out))]


def _product(call, macs: int, other: int) -> list[Kernel]:
    values = _values(call)
    if not macs:  # an einsum that sums no index: element-wise
        return [_pass(call.out or (), values, False)]
    rows = max(1, numel(call.out or ()) // (call.out[-1] if call.out else 1))
    return [Kernel("linear", macs, values, 0, rows, fresh=numel(call.out or ()))]


def _attention(call, macs: int, other: int) -> list[Kernel]:
    q, k, v = call.args[:3]
    rows = numel(q) // q[-1]  # every head's queries
    scores = (rows, k[-2])
    first = rows * k[-2] * q[-1]
    return [Kernel("linear", first, numel(q) + numel(k) + numel(scores), 0, rows,
                   fresh=numel(scores)),
            *_softmax_passes(scores, in_place=True),
            Kernel("linear", macs - first, numel(scores) + numel(v) + numel(call.out), 0, rows,
                   fresh=numel(call.out))]


def _weighted_pass(call, macs: int, other: int) -> list[Kernel]:
    # a fused layer (nn.MultiheadAttention's fast path, a recurrent layer): its products at the
    # linear rate, its element-wise ops as one pass over as many values
    values = _values(call)
    rows = _positions(call.out)
    return [Kernel("linear", macs, values, 0, rows, fresh=numel(call.out or ())),
            *([Kernel("relu", other, 2 * other, 0, rows)] if other else [])]


def _norm(call, macs: int, other: int) -> list[Kernel]:
    out = call.out
    kernels = [Kernel("batchnorm", numel(out), 2 * numel(out), 0, _positions(out),
                      fresh=numel(out))]
    if call.name not in BATCH_NORMS:  # its statistics first: one more pass
        kernels.insert(0, _pass(out, numel(out), True))
    return kernels


def _softmax_passes(out: tuple, in_place: bool) -> list[Kernel]:
    """A softmax over the last dimension: its maxima and sums, then the division."""
    return [_pass(out, 2 * numel(out), in_place), _pass(out, 2 * numel(out), True)]


def _softmax(call, macs: int, other: int) -> list[Kernel]:
    return _softmax_passes(call.out, in_place=False)


def _pool(op: str):
    def kernels(call, macs: int, other: int) -> list[Kernel]:
        return [Kernel(op, other, numel(call.args[0]) + numel(call.out), 0,
                       _positions(call.out), fresh=numel(call.out))]
    return kernels


def _average(call, macs: int, other: int) -> list[Kernel]:
    # to one position (or a reduction): a global average over the input's positions; else
    # torch's adaptive kernel, one op per output value (see nn.predict._adaptive_kernels)
    x, out = call.args[0], call.out or ()
    if numel(out[2:]) == 1 or call.name in ("mean", "sum", "amax"):
        # the positions averaged, the batch's: a feature map's N*H*W, else the values per output
        positions = (numel(x) // max(1, x[1]) if len(x) >= 4 and numel(out[2:]) == 1
                     else numel(x) // max(1, numel(out)))
        return [Kernel("pool global", numel(x), numel(x) + numel(out), 0, max(1, positions),
                       fresh=numel(out))]
    return [Kernel("pool adaptive", numel(out), numel(x) + numel(out), 0, _positions(out),
                   fresh=numel(out))]


BATCH_NORMS = ("batch_norm", "native_batch_norm", "_native_batch_norm_legit",
               "_native_batch_norm_legit_no_training")

# Each op kind's kernels (the kinds of incprof.count.aten.ATEN); a kind not here with a counting
# rule is an element-wise pass, and one without (a free op) is priced by what it does.
KIND_KERNELS = {
    "conv": _conv, "linear": _product, "baddbmm": _product, "einsum": _product,
    "attention": _attention, "multihead_attention": _weighted_pass, "lstm": _weighted_pass,
    "gru": _weighted_pass, "rnn": _weighted_pass, "mkldnn_rnn_layer": _weighted_pass,
    "batchnorm": _norm, "layer_norm": _norm, "group_norm": _norm, "rms_norm": _norm,
    "instance_norm": _norm, "softmax": _softmax, "log_softmax": _softmax,
    "maxpool": _pool("pool max"), "max_pool1d": _pool("pool max"), "max_pool3d": _pool("pool max"),
    "avgpool": _pool("pool avg"), "avg_pool1d": _pool("pool avg"), "avg_pool3d": _pool("pool avg"),
    "adaptive_avgpool": _average, "adaptive_avg_pool1d": _average, "adaptive_maxpool": _average,
    "mean": _average, "sum": _average, "amax": _average,
}
# The free ops that make a tensor without reading one, and write nothing into it.
UNWRITTEN = ("empty", "empty_like", "new_empty", "empty_strided", "new_empty_strided",
             "lift_fresh", "scalar_tensor")
# The free ops that write into their own input: values written, though the output is the input.
IN_PLACE_WRITES = ("copy_", "fill_", "zero_")


def op_kernels(call) -> list[Kernel] | None:
    """The kernels of one op (a capture.row_ops.OpCall) for its whole batch; None for an op the
    vocabulary has no rule for. An op that only reads sizes runs none."""
    op = ATEN.get(call.name)
    if op is None:
        return None
    if op.free is not None:
        out = call.out or ()
        if op.free == "size":
            return []
        if op.free == "pass":  # a dropout at inference: an op that does nothing
            return [Kernel("identity")]
        if (call.view and call.name not in IN_PLACE_WRITES) or call.name in UNWRITTEN:
            return [CALL]
        written = numel(out)
        read = 0 if op.free == "new" else written
        return [Kernel("copy", 0, written + read, 0, fresh=written)]
    counts = op.rule(list(call.args), call.out)
    if counts is None:
        return None
    macs, other = counts
    rule = KIND_KERNELS.get(op.kind)
    if rule is not None:
        return rule(call, macs, other)
    return [_pass(call.out or (), _values(call), call.name.endswith("_"))]


def predict_model_rows(rows: dict, profile: dict, maths: tuple[str, str], value_bytes: int
                       ) -> tuple[dict[str, Cost], dict[str, Counter]]:
    """Each row's predicted cost (``rows``: name -> capture.row_ops.RowOps), its kernels moving
    their bytes at the bandwidth for as many bytes as the whole row moves (as
    nn.predict.predict_rows); and per row the ops not priced (op -> calls)."""
    rates = Rates(profile, *maths, value_bytes, calls_apart=True)
    costs, unpriced = {}, {}
    for name, row in rows.items():
        kernels, missing = [CALL] * row.calls, Counter()
        for call in row.ops:
            found = op_kernels(call)
            if found is None:
                missing[call.name] += 1
            else:
                kernels += found
        rates.working_set = sum(k.values + k.weights for k in kernels) * value_bytes
        total = Cost()
        for k in kernels:
            total = total.then(rates.kernel(k, 1))
        costs[name], unpriced[name] = total, missing
    return costs, unpriced
