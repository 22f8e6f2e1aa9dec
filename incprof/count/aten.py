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
    """A matrix product of the operands at ``first`` and after: M*N*K, output elements times the
    inner size; no rule for a vector operand (FlopCounterMode counts none either)."""
    def rule(args, out):
        a, b = args[first], args[first + 1]
        if len(a) < 2 or len(b) < 2:
            return None
        return numel(out) * a[-1], 0
    return rule


def einsum(args, out):
    """A two-operand einsum: the product of every index's size; no rule for '...' or more
    operands."""
    equation, operands = args[0].replace(" ", ""), args[1]
    inputs = equation.split("->")[0].split(",")
    if "." in equation or len(inputs) != 2 or len(operands) != 2:
        return None
    sizes = {}
    for letters, shape in zip(inputs, operands):
        sizes.update(zip(letters, shape))
    return math.prod(sizes.values()), 0


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


# MACs: conv, transposed conv and linear as above, matrix products M*N*K, a two-operand einsum the
# product of its index sizes. Other ops per output element (normalisations 2, activations and
# element-wise arithmetic 1), per input element (reductions and adaptive pools), or per window
# (pools). baddbmm keeps a kind of its own: FlopCounterMode counts it, fvcore and ptflops' aten
# backend do not, so the referee cannot price it as a linear layer.
ATEN: dict[str, AtenOp] = {
    **_ops("conv1d conv2d conv3d", conv(False), "conv", bias=2),
    **_ops("convolution _convolution", conv(None), "conv", bias=2),
    **_ops("conv_transpose1d conv_transpose2d conv_transpose3d", conv(True), "conv", bias=2),
    "linear": AtenOp("linear", linear, bias=2),
    "addmm": AtenOp("linear", matmul(1), operand=1, bias=0),
    "baddbmm": AtenOp("baddbmm", matmul(1), operand=1, bias=0),
    **_ops("mm bmm matmul", matmul(0), "linear"),
    "einsum": AtenOp("einsum", einsum),
    **_ops("batch_norm native_batch_norm _native_batch_norm_legit "
           "_native_batch_norm_legit_no_training", per_output(2), "batchnorm"),
    **_ops("layer_norm native_layer_norm", per_output(2), "layer_norm"),
    **_ops("group_norm native_group_norm", per_output(2), "group_norm"),
    **_ops("instance_norm", per_output(2)),
    **_ops("relu relu_ relu6 hardtanh hardtanh_ leaky_relu leaky_relu_ sigmoid sigmoid_ tanh gelu "
           "silu silu_ hardswish hardswish_ hardsigmoid elu", per_output(1)),
    **_ops("softmax _softmax", per_output(1), "softmax"),
    **_ops("log_softmax _log_softmax", per_output(1), "log_softmax"),
    **_ops("add add_ sub sub_ mul mul_ div div_ rsub", per_output(1)),
    **_ops("max_pool2d max_pool2d_with_indices", per_window, "maxpool"),
    "avg_pool2d": AtenOp("avgpool", per_window),
    **_ops("max_pool1d max_pool3d avg_pool1d avg_pool3d", per_window),
    **_ops("adaptive_avg_pool2d _adaptive_avg_pool2d", per_input, "adaptive_avgpool"),
    **_ops("adaptive_avg_pool1d adaptive_max_pool2d mean sum amax", per_input),
    **_free("size", "size sym_size dim _assert_tensor_metadata"),
    **_free("same", "view _unsafe_view reshape flatten unflatten squeeze unsqueeze view_as "
                    "reshape_as alias detach clone contiguous identity"),
    **_free("pass", "dropout dropout_ feature_dropout native_dropout alpha_dropout", "dropout"),
    **_free("new", "zeros ones full empty arange zeros_like ones_like full_like empty_like "
                   "new_zeros new_ones new_empty new_full fill fill_ zero_ lift_fresh "
                   "lift_fresh_copy"),
    **_free("rearrange", "cat concat", "concat"),
    **_free("rearrange", "stack split split_with_sizes chunk unbind slice select index getitem "
                         "narrow as_strided expand expand_as permute transpose t swapaxes swapdims "
                         "movedim roll flip repeat pad constant_pad_nd to _to_copy type_as copy "
                         "copy_ masked_fill item _local_scalar_dense"),
}

# The table's rules in words, as a --model profile's meta states them.
RULES_TEXT = (
    "MACs: conv k_h*k_w*C_in/groups*C_out*H_out*W_out per image (transposed conv: per input "
    "position); linear, addmm, mm, bmm, matmul M*N*K, two-operand einsum the product of its index "
    "sizes. Other ops: BatchNorm/LayerNorm/GroupNorm 2 "
    "per output element; ReLU and other activations, softmax, add, sub, mul, div 1 per output "
    "element; max/avg pools the kernel area per output element; adaptive pools, mean, sum one per "
    "input element; views, cat, slicing, copies, padding, creating and filling tensors, masking "
    "and dropout (eval) are free. Any other op "
    "is listed as not counted, and the totals exclude it.")


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
