"""Each peer counter's conventions as data, and its total predicted from incprof's own per-op
counts (incprof.referee.referee runs the peers beside these predictions). No torch.

A network is described to the referee as a plain inventory of the ops that run at inference
(incprof.count.inventory: from a spec, or from any ``nn.Module``). Each peer's counting convention is data:
``CONVENTIONS[tool]["ops"][kind]`` is a sum of named terms (``TERMS``), such as ``"macs + bias"``
or ``"2*in"``; a term ending in ``@1`` is counted for one image whatever the batch (ptflops'
pytorch backend divides its module counts by the batch size, but not its functional ones). A kind
a tool does not list counts zero for it. ``level`` says which view of a model's inventory the tool
sees: its aten ops, or its calls (module hooks and patched functions, whose kinds include the
watched attributes such as ``F.relu``).
"""

from __future__ import annotations

import math

from ..count.inventory import Op, network_ops
from ..spec.shapes import numel


def _spatial(op: Op) -> tuple:
    """The dimensions after the channels (a spec's op has no batch dimension)."""
    return op.in_shape[2 if op.batch else 1:], op.out_shape[2 if op.batch else 1:]


def _torchscan_kernel(op: Op) -> int:
    """torchscan's approximate kernel of an adaptive pool (modules/_pooling.py): per axis
    in // out where out divides in, else in % out + 1; their product."""
    return math.prod(i // o if i % o == 0 else i % o + 1 for i, o in zip(*_spatial(op)))


def _features(op: Op) -> int:
    """The size of the dimension after the batch (the first of a spec's per-image shape)."""
    return op.in_shape[1 if op.batch else 0]


def _fvcore_einsum(op: Op) -> int:
    """fvcore's count of an einsum (fvcore/nn/jit_handles.py, einsum_flop_jit): its letters renamed
    in order of appearance, two batched-matmul equations priced as such, any other at half of
    numpy's optimized FLOP estimate for the contraction as its report prints it (4 significant
    digits), rounded down."""
    import numpy as np

    equation, shapes = op.detail
    equation = equation.replace(" ", "")
    letters = dict.fromkeys(c for c in equation if c.isalpha())
    equation = equation.translate({ord(c): 97 + i for i, c in enumerate(letters)})
    if equation == "abc,abd->acd":
        return math.prod(shapes[0]) * shapes[-1][-1]
    if equation == "abc,adc->adb":
        return math.prod(shapes[0]) * shapes[-1][1]
    operands = [np.broadcast_to(np.zeros(()), shape) for shape in shapes]  # shapes, no memory
    report = np.einsum_path(equation, *operands, optimize="optimal")[1]
    line = next(line for line in report.split("\n") if "optimized flop" in line.lower())
    return int(float(line.split(":")[-1]) // 2)


def _ptflops_attention(op: Op) -> int:
    """ptflops' formula for one image of an nn.MultiheadAttention call (pytorch_ops.py,
    multihead_attention_counter_hook): query scaling, the three input projections and their
    bias, per head Q K^T, softmax and attention x V, and the output projection with its bias."""
    if not op.detail:  # called with keywords: not recorded, so the residual names it
        return 0
    lq, lk, lv, eq, ek, ev, heads, bias = op.detail
    return (lq * eq + lq * eq * eq + lk * ek * ek + lv * ev * ev + (lq + lk + lv) * eq * bias
            + heads * (lq * lk * (eq // heads) + lq * lk + lq * lk * (ev // heads))
            + lq * ev * (ev + 1))


def _thop_rnn(op: Op) -> int:
    """thop's count of an nn.LSTM/GRU/RNN call (thop/rnn_hooks.py, count_lstm and the others):
    per cell (input size I, hidden H) H*(I+H) + H, plus 2H with biases, times the gates (LSTM 4,
    GRU 2 plus one more with the candidate's own 3H...), as its _count_*_cell write it; every
    layer after the first on H (2H bidirectional) inputs; times steps and batch."""
    inputs, hidden, layers, bidirectional, bias, _proj, steps, batch = op.detail

    def cell(i: int) -> int:
        state = hidden * (i + hidden) + hidden + 2 * hidden * bias
        if op.kind == "lstm":
            return 4 * state + 4 * hidden
        if op.kind == "gru":
            return 3 * state + 4 * hidden
        return state

    directions = 2 if bidirectional else 1
    total = cell(inputs) * directions + (layers - 1) * cell(hidden * directions) * directions
    return total * steps * batch


def _ptflops_rnn(op: Op) -> int:
    """ptflops' count of an nn.LSTM/GRU/RNN call (pytorch_ops.py, rnn_flops_counter_hook): per
    layer the forward direction's W_ih and W_hh elements, the cell's element-wise ops (RNN H, GRU
    7H, LSTM 10H) and both biases' elements; times steps and batch; doubled when bidirectional."""
    inputs, hidden, layers, bidirectional, bias, proj, steps, batch = op.detail
    gates, extra = {"lstm": (4, 10), "gru": (3, 7), "rnn": (1, 1)}[op.kind]
    directions = 2 if bidirectional else 1
    out = proj or hidden
    total = 0
    for layer in range(layers):
        width = inputs if layer == 0 else out * directions
        total += gates * hidden * (width + out) + extra * hidden + 2 * gates * hidden * bias
    return total * steps * batch * directions


def _ptflops_matmul(op: Op) -> int:
    """ptflops' count of a patched matrix product (pytorch_ops.py, _matmul_tensor_flops_hook):
    the first operand's elements times the second's last dimension, whatever the broadcast."""
    first, second = op.detail[0][:2]
    return numel(first) * second[-1]


def _ptflops_addmm(op: Op) -> int:
    """ptflops' count of torch.addmm or baddbmm (_addmm_tensor_flops_hook): the product's
    first operand's elements times the second's last dimension, plus the added input's own
    elements (not broadcast) unless beta is 0."""
    (added, first, second, *_), keywords = op.detail
    return numel(first) * second[-1] + (numel(added) if dict(keywords).get("beta", 1) else 0)


def _ptflops_interpolate(op: Op) -> int:
    """ptflops' count of F.interpolate or F.upsample (_interpolate_functional_flops_hook): the
    size asked for (an int raised to the spatial dimensions) times N and C, else the input's
    elements times the scale factor (a tuple's entries cast to int and multiplied, a number
    raised to the spatial dimensions), truncated."""
    args, keywords = op.detail
    named = dict(keywords)
    shape = named.get("input", args[0] if args else ())
    size = named.get("size", args[1] if len(args) > 1 else None)
    spatial = len(shape) - 2
    if size is not None:
        area = math.prod(size) if isinstance(size, (tuple, list)) else int(size) ** spatial
        return area * math.prod(shape[:2])
    scale = named.get("scale_factor", args[2] if len(args) > 2 else None)
    if isinstance(scale, (tuple, list)) and len(scale) == spatial:
        return numel(shape) * math.prod(int(s) for s in scale)
    return int(numel(shape) * scale ** spatial)


def _torchinfo_module(op: Op) -> int:
    """torchinfo's count of a leaf module call (layer_info.py, calculate_macs): each parameter
    named weight or bias times the output's positions (a class named Conv*: the output's size
    without its second dimension; any other: its first dimension), each other parameter whose
    name holds weight or bias (a recurrent layer's weight_ih_l0) times the output's first two
    dimensions; any other parameter 0. The output is the first tensor a module returns."""
    out = op.out_shape
    total = 0
    for name, elements in op.weights:
        if name in ("weight", "bias"):
            total += elements * (numel(out[:1] + out[2:]) if "Conv" in op.module else
                                 (out[0] if out else 0))
        elif "weight" in name or "bias" in name:
            total += elements * numel(out[:2])
    return total


# Each term: (op, n) -> int, for n copies of the op (a spec's op is one image's; a model's op, which
# covers its batch already, is taken once). Shapes are indexed from the end, so (C, H, W) and
# (N, C, H, W) read alike.
TERMS = {
    "macs": lambda op, n: n * op.macs,
    "bias": lambda op, n: n * numel(op.out_shape) if op.bias else 0,
    "in": lambda op, n: n * numel(op.in_shape),
    "out": lambda op, n: n * numel(op.out_shape),
    "params": lambda op, n: n * max(op.batch, 1) * op.params,  # once per image
    "torchinfo_module": lambda op, n: n * _torchinfo_module(op),
    "affine_in": lambda op, n: n * numel(op.in_shape) if op.bias else 0,  # an affine norm's
    "thop_rnn": lambda op, n: n * _thop_rnn(op),
    "ptflops_rnn": lambda op, n: n * _ptflops_rnn(op),
    # ptflops' timm ViT attention hook: the query's scaling and, per head, Q K^T, softmax and
    # the weights times V (N tokens of the head size); its qkv and proj Linear inside are not
    # counted, the hooked module's children being left out of its sum
    # torchscan (modules/macs.py): max pool kernel - 1 per output element, average pool kernel - 1
    # + the spatial dimensions (2 for a 2-D pool), adaptive average pool its approximate kernel
    # (per axis in // out, else in % out + 1) area - 1 + the spatial dimensions, adaptive max
    # pool that area - 1
    "ts_maxpool": lambda op, n: n * numel(op.out_shape) * (op.detail[0] - 1),
    "ts_avgpool": lambda op, n: n * numel(op.out_shape) * (op.detail[0] - 1
                                                           + len(_spatial(op)[0])),
    "ts_adaptive": lambda op, n: n * numel(op.out_shape) * (_torchscan_kernel(op) - 1
                                                            + len(_spatial(op)[0])),
    "ts_adaptive_max": lambda op, n: n * numel(op.out_shape) * (_torchscan_kernel(op) - 1),
    "ptflops_timm_attention": lambda op, n: n * op.in_shape[-2] * op.detail[0] * (
        op.detail[1] + op.in_shape[-2] * (2 * op.detail[1] + 1)) * op.in_shape[0],
    # thop: (window area + 1 division) per output element, the window area as the float
    # in/out ratio per axis, the product truncated once (thop/vision/calc_func.py)
    "thop_adaptive": lambda op, n: int(
        (math.prod(i / o for i, o in zip(*_spatial(op))) + 1) * (n * numel(op.out_shape))),
    # thop: exp, add and divide over the classes: 3C - 1 per row of C (count_softmax)
    "thop_softmax": lambda op, n: n * numel(op.in_shape) // _features(op)
    * (3 * _features(op) - 1),
    # ptflops' patched functionals inside F.local_response_norm: x.mul(x), avg_pool3d over the
    # channel-padded square (C + size - 1 planes), div.mul(alpha), .add(k)
    "fvcore_einsum": lambda op, n: n * _fvcore_einsum(op),  # shapes of the whole batch
    "ptflops_attention": lambda op, n: n * max(op.batch, 1) * _ptflops_attention(op),
    "ptflops_matmul": lambda op, n: n * _ptflops_matmul(op),
    # ptflops' nn.Upsample hook: the first image's output elements
    "first_out": lambda op, n: n * numel(op.out_shape[1:] if op.batch else op.out_shape),
    # thop's nn.Upsample (calc_func.py, calculate_upsample): per output element 1 (nearest),
    # 5 (linear), 11 (bilinear) or 259 (bicubic); another mode 0
    "thop_upsample": lambda op, n: n * numel(op.out_shape) * {
        "nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}.get(op.detail[0][3], 0),
    "ptflops_addmm": lambda op, n: n * _ptflops_addmm(op),
    "ptflops_interpolate": lambda op, n: n * _ptflops_interpolate(op),
    "lrn_internals": lambda op, n: n * numel(op.in_shape) // op.in_shape[-3]
    * (4 * op.in_shape[-3] + op.size - 1),
}

# ptflops' pytorch backend also patches these attributes while it runs (pytorch_ops.py,
# FUNCTIONAL_MAPPING and TENSOR_OPS_MAPPING) and counts every call through them, per batch: the
# input's elements for activations and pools, the (broadcast) output's for add and mul, the
# first operand's elements times the second's last dimension for matrix products (plus the
# added input's elements for addmm and baddbmm), and the output size for interpolation. A call
# made inside a module of a known kind (nn.ReLU calls F.relu) is part of that module's own rule
# below ("relu": "out@1 + in").
_PTFLOPS_FUNCTIONS = {
    **dict.fromkeys([f"F.{f}" for f in ("relu", "prelu", "elu", "relu6", "gelu", "silu",
                                        "softmax")] +
                    [f"F.{kind}_pool{d}d" for kind in ("avg", "max", "adaptive_avg", "adaptive_max")
                     for d in (1, 2, 3)], "in"),
    **dict.fromkeys(("torch.add", "Tensor.add", "torch.mul", "Tensor.mul"), "out"),
    **dict.fromkeys(("torch.matmul", "Tensor.matmul", "torch.mm", "Tensor.mm", "torch.bmm",
                     "Tensor.bmm"), "ptflops_matmul"),
    **dict.fromkeys(("torch.addmm", "Tensor.addmm", "torch.baddbmm"), "ptflops_addmm"),
    **dict.fromkeys(("F.interpolate", "F.upsample"), "ptflops_interpolate"),
}

# What each peer counts. "unit" says whether the total is MACs or FLOPs (2 per MAC); "params"
# which parameters its parameter total holds: "all" (every parameter of the module, aux heads
# included), "executed" (the modules of a known kind that ran in eval mode) or "torchinfo" (its
# own bookkeeping, which counts a shared module's parameters again: incprof.referee.bookkeeping),
# None where it gives none; "level" which view of a model's inventory it sees
# (incprof.count.inventory): "aten" ops, "jit" (the aten ops with each call torch.jit records
# whole as one op: fvcore traces with torch.jit) or "calls";
# "tree" the power of a module's paths in the module tree (a module shared by two parents has
# two) its module counts are multiplied by: ptflops sums its counts once per path
# (accumulate_flops), thop too (dfs_count) and also hooks the module once per path
# (model.apply), so every call is counted that many times;
# "grad" whether it runs the model with autograd on (nn.MultiheadAttention, for one, takes a fused
# path without it, so a model's inventory is taken both ways); "hooks" whether it attaches forward
# hooks to the model's own modules (nn.TransformerEncoderLayer takes its fused path only where
# none is attached; FlopCounterMode's module tracker hooks globally).
CONVENTIONS = {
    # fvcore: an affine LayerNorm or GroupNorm 5 per element, else 4 (jit_handles.py,
    # norm_flop_counter); aten::lstm, gru and rnn have no handle
    "fvcore": {"unit": "MACs", "params": "all", "grad": True, "hooks": True, "level": "jit",
               "ops": {
        "conv": "macs", "linear": "macs", "batchnorm": "2*in", "adaptive_avgpool": "in",
        "layer_norm": "4*in + affine_in", "group_norm": "4*in + affine_in",
        "torch.einsum": "fvcore_einsum"}},
    "flop_counter": {"unit": "FLOPs", "params": None, "grad": False, "hooks": False,
                     "level": "aten", "ops": {
        "conv": "2*macs", "linear": "2*macs"}},
    "ptflops_pytorch": {"unit": "MACs", "params": "all", "grad": True, "hooks": True,
                        "level": "calls", "tree": 1, "apart": True, "ops": {
        "conv": "macs@1 + bias@1", "linear": "macs@1 + bias@1", "batchnorm": "2*in@1",
        "relu": "out@1 + in", "maxpool": "in@1 + in", "avgpool": "in@1 + in",
        "adaptive_avgpool": "in@1 + in", "adaptive_maxpool": "in@1 + in", "softmax": "in",
        "upsample": "first_out@1 + ptflops_interpolate",
        "lrn": "lrn_internals",
        # its relu hook on the module, plus the patched functional the module calls (nn.ReLU6
        # and nn.LeakyReLU call F.hardtanh and F.leaky_relu, which it does not patch)
        "relu6": "out@1", "leaky_relu": "out@1", "prelu": "out@1 + in", "elu": "out@1 + in",
        "gelu": "out@1 + in",
        # its bn hook: the input's elements, twice with an ``affine`` attribute set (LayerNorm
        # has none: elementwise_affine)
        "layer_norm": "in@1", "group_norm": "in@1 + affine_in@1",
        "lstm": "ptflops_rnn@1", "gru": "ptflops_rnn@1", "rnn": "ptflops_rnn@1",
        "multihead_attention": "ptflops_attention@1",
        "timm_attention": "ptflops_timm_attention@1", **_PTFLOPS_FUNCTIONS}},
    "ptflops_aten": {"unit": "MACs", "params": "all", "grad": True, "hooks": True,
                     "level": "aten", "ops": {
        "conv": "macs + bias", "linear": "macs + bias"}},
    # thop: count_normalization 2 per element, 4 when affine; PReLU 1 per element; recurrent
    # layers its own cell formulas
    "thop": {"unit": "MACs", "params": "executed", "grad": False, "hooks": True, "level": "calls",
             "tree": 2, "ops": {
        "conv": "macs", "linear": "macs", "batchnorm": "4*in", "avgpool": "out",
        "adaptive_avgpool": "thop_adaptive", "softmax": "thop_softmax",
        "layer_norm": "2*in + 2*affine_in", "prelu": "in", "lstm": "thop_rnn",
        "gru": "thop_rnn", "rnn": "thop_rnn", "upsample": "thop_upsample"}},
    # torchinfo: a spec's layers, parameters times output positions for a conv, times the batch
    # for the rest; a model's leaf module calls, its rule for any class ("modules",
    # _torchinfo_module: a recurrent layer's weights times the batch and the steps)
    "torchinfo": {"unit": "MACs", "params": "torchinfo", "grad": False, "hooks": True,
                  "level": "calls", "modules": "torchinfo_module", "ops": {
        "conv": "macs + bias", "linear": "params", "batchnorm": "params"}},
    "torchscan": {"unit": "MACs", "params": "all", "grad": False, "hooks": True,
                  "level": "calls", "ops": {
        "conv": "macs", "linear": "macs", "batchnorm": "2*in", "maxpool": "ts_maxpool",
        "avgpool": "ts_avgpool", "adaptive_avgpool": "ts_adaptive",
        "adaptive_maxpool": "ts_adaptive_max"}},
}
# The module kinds whose parameters thop counts: the leaf modules it has a rule for that ran
# (thop/profile.py register_hooks; count_parameters is registered beside each rule).
THOP_MODULES = frozenset({"conv", "linear", "batchnorm", "layer_norm", "prelu", "softmax", "relu",
                          "relu6", "leaky_relu", "maxpool", "avgpool", "adaptive_avgpool",
                          "adaptive_maxpool", "upsample",
                          "dropout", "lstm", "gru", "rnn"})
# The inventory views the peers see: (level, grad, hooks).
VIEWS = tuple(sorted({(c["level"], c["grad"], c["hooks"]) for c in CONVENTIONS.values()}))
# Every attribute some peer sees calls through (kinds named like "F.relu").
WATCHED = tuple(sorted({kind for c in CONVENTIONS.values() for kind in c["ops"] if "." in kind}))

def evaluate(expression: str, op: Op, batch: int, images: int | None = None,
             per_image: bool | None = None) -> int:
    """The value of a convention expression (``"2*in@1 + bias"``) for one op and a batch size;
    a model's op (which covers its batch already) has its ``@1`` terms divided by ``images``
    (the images the tool divides by; default the op's batch). ``per_image`` True or False keeps
    only the ``@1`` terms, or only the others."""
    total = 0
    for term in expression.split("+"):
        term = term.strip()
        factor, _, name = term.rpartition("*")
        name, _, per = name.partition("@")
        if per_image is not None and per_image != (per == "1"):
            continue
        if not op.batch:
            value = TERMS[name](op, 1 if per == "1" else batch)
        else:  # the op covers the batch already: one image's share is an even part of it
            value = TERMS[name](op, 1) // ((images or op.batch) if per == "1" else 1)
        total += int(factor or 1) * value
    return total


def predict(ops: list[Op], tool: str, batch: int, images: int | None = None,
            per_image: bool | None = None) -> dict[str, int]:
    """A tool's predicted total per op kind (kinds it counts as zero left out), for a batch
    (``images`` and ``per_image`` as ``evaluate``)."""
    rules = CONVENTIONS[tool]["ops"]
    modules = CONVENTIONS[tool].get("modules")  # one rule for every module call of a model
    out: dict[str, int] = {}
    tree = CONVENTIONS[tool].get("tree", 0)
    for op in ops:  # a module inside one the tool prices whole is part of that one's count
        if modules and op.module:
            value = evaluate(modules, op, batch, images, per_image)
        elif op.kind in rules and not any(kind in rules for kind in op.within):
            value = evaluate(rules[op.kind], op, batch, images, per_image)
        else:
            continue
        if value:  # a module of no kind under its class name, as the peers' breakdowns
            key = op.module if op.kind == "module" else op.kind
            out[key] = out.get(key, 0) + value * op.copies ** tree
    return out


def breakdown(ops: list[Op], tool: str, batch: int, images: int | None = None) -> dict[str, int]:
    """A tool's predicted total split as its own breakdown splits it (incprof.referee.peers):
    per op kind, and for ptflops' pytorch backend ("apart") its module hooks' counts per kind
    and its patched calls' counts together under ``peers.CALLS``."""
    from .peers import CALLS

    if not CONVENTIONS[tool].get("apart"):
        return predict(ops, tool, batch, images)
    calls = sum(predict(ops, tool, batch, images, per_image=False).values())
    return {**predict(ops, tool, batch, images, per_image=True), **({CALLS: calls} if calls else {})}


def param_totals(spec, input_hw) -> dict[str, int]:
    """Parameter totals under each parameter convention (incprof.referee.published.PARAM_CONVENTIONS),
    from the analytic counts."""
    from ..count.analytic import count_spec

    counted = count_spec(spec, input_hw)
    main = [rc.counts for rc in counted if not rc.placed.is_aux]
    bn = sum(op.params for op in network_ops(spec, input_hw) if op.kind == "batchnorm")
    params = sum(c.params for c in main)
    return {"params": params, "params_with_aux": sum(rc.counts.params for rc in counted),
            "params_and_bn_statistics": params + bn, "weights": sum(c.weights for c in main)}
