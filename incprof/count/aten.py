"""The aten-op vocabulary: one table (``ATEN``) from an aten op's name (``aten.conv2d`` is
"conv2d") to its op kind, its counting rule and, for an op with no arithmetic, what it does with
the values. Every reader looks an op up here, when it meets one: incprof.capture.rows (MACs and
other ops of each captured op), incprof.capture.inventory (the kind of each op the referee sees),
incprof.capture.export (the ops that pass values through unchanged), incprof.nn.crosscheck (the
calls that are no layer's op) and incprof.referee.peers (the kinds of the peers' breakdowns).

A rule is a handle, as in fvcore's ``_DEFAULT_SUPPORTED_OPS`` and torch's ``flop_registry``:
``rule(args, out)`` takes the op's positional arguments, each tensor given as its shape (a tuple
of ints), and the output's shape (None for an output that is not a tensor), and returns
(MACs, other ops), or None for a call it has no rule for (a matrix-vector product); small
factories make them. An op not in the table has no rule: its calls are listed as not counted.

The table sits in count/, not in capture/, because two packages of one floor read it: capture/
and nn/ (the cross-check) may not import each other, and both may import count/. It belongs
there too: its rules are arithmetic on shapes (no torch, no tensor), and its kinds are those of
incprof.count.inventory.Op, so that a spec's inventory and a model's name their ops alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..spec.shapes import numel

Rule = Callable[[tuple, "tuple | None"], "tuple[int, int] | None"]

# What an op with no arithmetic does with the values, by the word in AtenOp.free.
FREE_WAYS = {
    "size": "reads only the tensor's sizes",
    "same": "gives the input's values in the same order: a reshape, an alias or a copy",
    "pass": "passes its input through at inference (a dropout)",
    "new": "makes a tensor without reading another's values",
    "rearrange": "picks, joins, reorders, repeats, pads or converts values",
}


@dataclass(frozen=True)
class AtenOp:
    """One aten op: its kind (incprof.count.inventory.Op.kind, or its own name), its rule, what
    it does with the values when it has no arithmetic (a key of ``FREE_WAYS``), and, for a MAC
    op, which positional argument is its first operand and which its bias."""

    kind: str
    rule: Rule
    free: str | None = None
    operand: int = 0
    bias: int | None = None


def conv(transposed: bool | None) -> Rule:
    """A convolution: weight elements / C_out per output element (transposed: weight elements /
    C_in per input element, the weight being C_in x C_out/groups x k). ``transposed`` None: the op
    says it in its seventh argument (aten.convolution)."""
    def rule(args, out):
        weight = args[1]
        positions = args[0] if (bool(args[6]) if transposed is None else transposed) else out
        return numel(positions) * numel(weight) // weight[0], 0
    return rule


def linear(args, out):
    """x @ W.T: every row of the input times every weight element."""
    return numel(args[0][:-1]) * numel(args[1]), 0


def matmul(first: int) -> Rule:
    """A matrix product of the operands at ``first`` and after, in any of torch.matmul's forms
    (1-D, broadcast, batched): output elements times the inner size K, which is the first
    operand's last dimension in every form (a dot product's output is one element)."""
    def rule(args, out):
        return numel(out or ()) * args[first][-1], 0
    return rule


def attention(args, out):
    """Scaled dot-product attention on q (..., L, E), k (..., S, E), v (..., S, Ev), any of its
    aten forms: MACs Q K^T and the weights times V, L*S*(E + Ev) per batch-and-head (the query's
    leading dimensions: grouped-query heads count per query head); other ops the query's scaling
    (1 per query element) and the softmax (1 per score). A causal or given mask is not priced:
    every score is counted, as the math backend computes them all."""
    q, k, v = args[0], args[1], args[2]
    scores = numel(tuple(q[:-2])) * q[-2] * k[-2]
    return scores * (q[-1] + v[-1]), numel(q) + scores


def native_attention(args, out):
    """nn.MultiheadAttention's fused path (aten._native_multi_head_attention: query, key, value
    (B, L, E), embed_dim, heads, qkv weight, qkv bias, out weight, out bias, mask, need_weights,
    average_attn_weights): the three input projections (L_q + L_k + L_v rows times E x E), the
    attention as above and the output projection (L_q rows times E x E); other ops the
    attention's, plus averaging the weights over the heads when they are returned averaged."""
    (batch, lq, e), lk, lv, heads = args[0], args[1][-2], args[2][-2], args[4]
    need_weights = bool(args[10]) if len(args) > 10 else True
    average = bool(args[11]) if len(args) > 11 else True
    scores = batch * heads * lq * lk
    macs = batch * (2 * lq + lk + lv) * e * e + 2 * batch * lq * lk * e
    return macs, batch * lq * e + scores + (scores if need_weights and average else 0)


# Gates per step of a recurrent cell, and its element-wise ops per hidden unit after the gates'
# sums: LSTM 4 activations, c = f*c + i*g (3), h = o*tanh(c) (2); GRU 3 activations,
# r * (W_hn h + b_hn) (1), h = (1 - z) * n + z * h (4); a plain RNN its activation (1).
RECURRENT = {"lstm": (4, 9), "gru": (3, 8), "rnn_tanh": (1, 1), "rnn_relu": (1, 1)}


def _recurrent_counts(cell: str, steps: int, weights: list, hidden: int, layers: int,
                      biases: bool) -> tuple[int, int]:
    """(MACs, other ops) of ``layers`` layer-directions of ``cell`` over ``steps`` time steps
    times batch elements."""
    gates, elementwise = RECURRENT[cell]
    macs = steps * sum(numel(w) for w in weights if len(w) == 2)
    return macs, steps * layers * hidden * (gates * (1 + 2 * biases) + elementwise)


def recurrent(cell: str) -> Rule:
    """aten.lstm/gru/rnn_tanh/rnn_relu (input, hx, params, has_biases, num_layers, dropout,
    train, bidirectional, batch_first): every weight matrix (W_ih, W_hh, an LSTM's projection
    W_hr) once per time step and batch element, in every layer and direction; other ops per step,
    layer and direction: the gates' sums (the two products added, plus two biases) and the cell's
    element-wise ops (``RECURRENT``). A packed sequence (the .data form) has no rule."""
    def rule(args, out):
        if not isinstance(args[2], list):
            return None  # the packed form: data, batch_sizes, hx, params, ...
        x, weights = args[0], args[2]
        hidden = weights[0][0] // RECURRENT[cell][0]
        layers = args[4] * (2 if args[7] else 1)
        return _recurrent_counts(cell, numel(tuple(x[:-1])), weights, hidden, layers,
                                 bool(args[3]))
    return rule


def mkldnn_recurrent(args, out):
    """aten.mkldnn_rnn_layer, one layer and direction of torch's CPU LSTM/GRU/RNN kernel (input,
    W_ih, W_hh, b_ih, b_hh, hx, cx, reverse, batch_sizes, mode, hidden_size, ...): the recurrent
    rule above for that layer."""
    hidden = args[10]
    cell = {4: "lstm", 3: "gru", 1: "rnn_tanh"}[args[1][0] // hidden]
    return _recurrent_counts(cell, numel(tuple(args[0][:-1])), [args[1], args[2]], hidden, 1,
                             args[3] is not None)


def _einsum_letters(equation: str, operands: list) -> tuple[list[str], str]:
    """Each operand's letters and the output's, '...' spelt as letters of its own (the broadcast
    dimensions, aligned right) and an implicit output made explicit."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    dots = [chr(0x100 + i) for i in range(max(map(len, operands), default=0))]
    letters = []
    for term, shape in zip(inputs.split(","), operands):
        width = len(shape) - len(term.replace("...", ""))
        letters.append(term.replace("...", "".join(dots[len(dots) - width:])))
    joined = "".join(letters)
    broadcast = "".join(d for d in dots if d in joined)
    if not arrow:
        output = "..." + "".join(sorted(c for c in set(joined)
                                        if joined.count(c) == 1 and c not in dots))
    return letters, output.replace("...", broadcast)


def einsum(args, out):
    """An einsum as torch computes it (without opt_einsum): operands contracted left to right;
    before each product, an index that neither the other operand nor anything after needs is
    summed out (other ops: one per element so reduced); a product that sums an index the two
    share costs the product of the sizes of every index left (MACs), one that sums none is an
    element-wise product (torch runs a mul: other ops, one per element of the product). A
    one-operand einsum is a sum (a reduction) or a view. The operands come as one list
    (aten.einsum) or one by one (torch.einsum)."""
    operands = [tuple(shape) for shape in (args[1] if isinstance(args[1], list) else args[1:])]
    letters, output = _einsum_letters(args[0], operands)
    sizes: dict[str, int] = {}
    for term, shape in zip(letters, operands):
        for c, n in zip(term, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    other = 0

    def reduce(term: str, keep: str) -> str:
        nonlocal other
        left = "".join(dict.fromkeys(c for c in term if c in keep))
        if set(left) != set(term):
            other += math.prod(sizes[c] for c in set(term))
        return left

    macs, current = 0, letters[0]
    for i, term in enumerate(letters[1:], 1):
        later = "".join(letters[i + 1:]) + output
        current, term = reduce(current, term + later), reduce(term, current + later)
        size = math.prod(sizes[c] for c in set(current + term))
        if set(current) & set(term) - set(later):  # an index summed: a matrix product
            macs += size
        else:  # nothing summed: an element-wise product
            other += size
        current = "".join(dict.fromkeys(c for c in current + term if c in later))
    reduce(current, output)
    return macs, other


def per_output(factor: int) -> Rule:
    """``factor`` other ops per output element."""
    return lambda args, out: None if out is None else (0, numel(out) * factor)


def per_input(args, out):
    """One other op per input element (a reduction: the input's elements are each read once)."""
    return None if out is None else (0, numel(args[0]))


def per_window(args, out):
    """A pool: its kernel area (the second argument) per output element."""
    if out is None:
        return None
    kernel = args[1]
    kernel = [kernel] * (len(out) - 2) if isinstance(kernel, int) else list(kernel)
    if len(kernel) == 1:
        kernel *= len(out) - 2
    return 0, numel(out) * math.prod(kernel)


def nothing(args, out):
    """No arithmetic."""
    return 0, 0


def _ops(names: str, rule: Rule, kind: str | None = None, **fields) -> dict[str, AtenOp]:
    """Table entries for the ops ``names`` (split on spaces), each of ``kind`` (else its own name,
    an in-place spelling such as relu_ its base op's)."""
    return {name: AtenOp(kind or name.removesuffix("_"), rule, **fields) for name in names.split()}


def _free(way: str, names: str, kind: str | None = None) -> dict[str, AtenOp]:
    return _ops(names, nothing, kind, free=way)


# MACs: conv, transposed conv and linear as above, matrix products M*N*K, an einsum as torch
# contracts it (a product summing no index is element-wise: other ops), attention,
# nn.MultiheadAttention's fused path and recurrent layers as above. Other
# ops per output element (normalisations 2, activations and element-wise arithmetic 1), per input
# element (reductions and adaptive pools), or per window (pools). baddbmm keeps a kind of its own:
# FlopCounterMode counts it, fvcore and ptflops' aten backend do not, so the referee cannot price
# it as a linear layer. An embedding is a gather: free.
ATEN: dict[str, AtenOp] = {
    **_ops("conv1d conv2d conv3d", conv(False), "conv", bias=2),
    **_ops("convolution _convolution", conv(None), "conv", bias=2),
    **_ops("conv_transpose1d conv_transpose2d conv_transpose3d", conv(True), "conv", bias=2),
    "linear": AtenOp("linear", linear, bias=2),
    "addmm": AtenOp("linear", matmul(1), operand=1, bias=0),
    "baddbmm": AtenOp("baddbmm", matmul(1), operand=1, bias=0),
    **_ops("mm bmm matmul mv dot vdot", matmul(0), "linear"),
    "einsum": AtenOp("einsum", einsum),
    **_ops("scaled_dot_product_attention _scaled_dot_product_attention_math "
           "_scaled_dot_product_flash_attention _scaled_dot_product_efficient_attention "
           "_scaled_dot_product_flash_attention_for_cpu _scaled_dot_product_cudnn_attention",
           attention, "attention"),
    "_native_multi_head_attention": AtenOp("multihead_attention", native_attention),
    **{name: AtenOp(name.partition("_")[0], recurrent(name)) for name in RECURRENT},
    "mkldnn_rnn_layer": AtenOp("mkldnn_rnn_layer", mkldnn_recurrent),
    **_ops("batch_norm native_batch_norm _native_batch_norm_legit "
           "_native_batch_norm_legit_no_training", per_output(2), "batchnorm"),
    # a norm's "bias" is its affine weight (fvcore prices an affine norm apart)
    **_ops("layer_norm native_layer_norm", per_output(2), "layer_norm", bias=2),
    "group_norm": AtenOp("group_norm", per_output(2), bias=2),
    "native_group_norm": AtenOp("group_norm", per_output(2), bias=1),
    **_ops("rms_norm _fused_rms_norm", per_output(2), "rms_norm"),
    **_ops("instance_norm", per_output(2)),
    **_ops("relu relu_ relu6 hardtanh hardtanh_ leaky_relu leaky_relu_ sigmoid sigmoid_ tanh tanh_ "
           "gelu gelu_ silu silu_ hardswish hardswish_ hardsigmoid hardsigmoid_ elu elu_ celu "
           "selu mish mish_ softplus prelu _prelu_kernel log_sigmoid log_sigmoid_forward "
           "hardshrink softshrink threshold threshold_ glu", per_output(1)),
    # _safe_softmax: a softmax whose fully masked rows give zeros (T5's attention)
    **_ops("softmax _softmax _safe_softmax", per_output(1), "softmax"),
    **_ops("log_softmax _log_softmax", per_output(1), "log_softmax"),
    **_ops("add add_ sub sub_ mul mul_ div div_ rsub neg neg_", per_output(1)),
    **_ops("eq ne lt le gt ge", per_output(1)),  # comparisons (a mask built at run time)
    # element-wise math (RMSNorm's pow and rsqrt, rotary embeddings' cos and sin, T5's relative
    # position buckets): 1 per output element, whatever the function
    **_ops("pow pow_ sqrt sqrt_ rsqrt rsqrt_ log log_ cos sin abs reciprocal erf "
           "minimum maximum where clamp clamp_ clamp_min clamp_min_ clamp_max clamp_max_",
           per_output(1)),
    # masks combined (ELECTRA's attention mask): element-wise logic, 1 per output element
    **_ops("__and__ __or__ bitwise_and bitwise_or logical_and logical_or logical_not "
           "bitwise_not", per_output(1)),
    **_ops("max_pool2d max_pool2d_with_indices", per_window, "maxpool"),
    "avg_pool2d": AtenOp("avgpool", per_window),
    **_ops("max_pool1d max_pool3d avg_pool1d avg_pool3d", per_window),
    **_ops("adaptive_avg_pool2d _adaptive_avg_pool2d", per_input, "adaptive_avgpool"),
    "adaptive_max_pool2d": AtenOp("adaptive_maxpool", per_input),
    **_ops("adaptive_avg_pool1d mean sum amax", per_input),
    **_free("size", "size sym_size dim _assert_tensor_metadata"),
    **_free("same", "view _unsafe_view reshape flatten unflatten squeeze squeeze_ unsqueeze "
                    "unsqueeze_ view_as reshape_as alias detach detach_ clone contiguous identity"),
    **_free("pass", "dropout dropout_ feature_dropout native_dropout alpha_dropout", "dropout"),
    **_free("new", "zeros ones full empty arange zeros_like ones_like full_like empty_like "
                   "new_zeros new_ones new_empty new_full fill fill_ zero_ lift_fresh "
                   "lift_fresh_copy empty_strided new_empty_strided scalar_tensor"),
    **_free("rearrange", "cat concat", "concat"),
    **_free("rearrange", "embedding", "embedding"),
    **_free("rearrange", "stack split split_with_sizes unsafe_split unsafe_split_with_sizes "
                         "chunk unsafe_chunk unbind slice select index getitem narrow diagonal as_strided "
                         "as_strided_ expand expand_as permute transpose transpose_ t t_ numpy_T mT swapaxes "
                         "swapdims "
                         "movedim roll flip repeat pad constant_pad_nd to _to_copy type_as copy "
                         "copy_ masked_fill item _local_scalar_dense index_select gather take"),
}

# The table's rules in words, as a --model profile's meta states them.
RULES_TEXT = (
    "MACs: conv k_h*k_w*C_in/groups*C_out*H_out*W_out per image (transposed conv: per input "
    "position); linear, addmm, mm, bmm, matmul (1-D, broadcast, batched), mv, dot: output "
    "elements times the inner size (M*N*K); einsum as torch contracts it, left to right, an index "
    "no later operand needs summed out first, each product that sums a shared index the product "
    "of its remaining index sizes (one that sums none is element-wise: other ops); scaled "
    "dot-product attention (every aten form) L*S*(E+Ev) per batch and query head, "
    "a causal or given mask not priced (every score counted, as the math backend computes them); "
    "nn.MultiheadAttention's fused path its projections (2*L_q+L_k+L_v)*E*E plus 2*L_q*L_k*E, "
    "per batch; LSTM/GRU/RNN every weight matrix (W_ih, W_hh, W_hr) once per time step, batch "
    "element, layer and direction. Other ops: BatchNorm/LayerNorm/GroupNorm/RMSNorm 2 per output "
    "element; ReLU, GELU, SiLU, ReLU6, Hardswish and other activations, softmax (and "
    "_safe_softmax), add, sub, mul, div, neg, comparisons, mask logic (and, or, not) and "
    "element-wise math (pow, sqrt, rsqrt, log, cos, sin, abs, reciprocal, erf, minimum, "
    "maximum, where, clamp) 1 per output element; attention 1 per query element (scaling) and 1 per score "
    "(softmax), plus 1 per score averaging nn.MultiheadAttention's weights over heads; "
    "recurrent layers per step, layer and direction the gates' sums (G*H, plus 2*G*H with "
    "biases) and the cell's element-wise ops (LSTM 9H, GRU 8H, RNN H); einsum one per element "
    "summed out and one per element of a product that sums no index; max/avg pools the kernel "
    "area per output element; adaptive pools, mean, sum one "
    "per input element; views, cat, slicing, copies, padding, creating and filling tensors, "
    "masking, embeddings (a gather) and dropout (eval) are free. Any other op is listed as not "
    "counted, and the totals exclude it.")


def kind(name: str) -> str:
    """The op kind of the aten op ``name`` (its own name when the table does not list it)."""
    op = ATEN.get(name)
    return op.kind if op else name


class Free:
    """The free ops that do one of ``ways`` with the values (keys of ``FREE_WAYS``), as the table
    is when asked: ``name in Free("same")``."""

    def __init__(self, *ways: str) -> None:
        self.ways = ways

    def __contains__(self, name: str) -> bool:
        op = ATEN.get(name)
        return op is not None and op.free in self.ways

    def __iter__(self):
        return (name for name, op in ATEN.items() if op.free in self.ways)
