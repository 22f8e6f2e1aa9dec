"""The ops any ``nn.Module`` runs (``model_ops``), recorded for the referee: one eager run on the
example input (incprof.capture.trace), counted with incprof.capture.rows's rules, each aten op of
its kind in the aten-op vocabulary (incprof.count.aten). It gives two views, because the peers
count at two levels: the aten ops (what fvcore, FlopCounterMode and ptflops' aten backend see) and
the calls (what module hooks and patched functions see: each module of a kind in ``MODULE_KINDS``,
and each call through a watched attribute such as ``F.relu`` made outside such a module). A spec's
inventory is incprof.count.inventory.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..count import aten as vocabulary
from ..count.inventory import Op

# torch module classes, by op kind (the kind a spec layer of that module has, else its aten op's).
MODULE_KINDS = {"Conv1d": "conv", "Conv2d": "conv", "Conv3d": "conv", "Linear": "linear",
                "BatchNorm1d": "batchnorm", "BatchNorm2d": "batchnorm", "BatchNorm3d": "batchnorm",
                "LayerNorm": "layer_norm", "GroupNorm": "group_norm", "RMSNorm": "rms_norm",
                "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "PReLU": "prelu",
                "ELU": "elu", "GELU": "gelu",
                **{f"MaxPool{d}d": "maxpool" for d in (1, 2, 3)},
                **{f"AvgPool{d}d": "avgpool" for d in (1, 2, 3)},
                **{f"AdaptiveAvgPool{d}d": "adaptive_avgpool" for d in (1, 2, 3)},
                **{f"AdaptiveMaxPool{d}d": "adaptive_maxpool" for d in (1, 2, 3)},
                "LocalResponseNorm": "lrn", "Upsample": "upsample",
                "Softmax": "softmax", "Dropout": "dropout", "Embedding": "embedding",
                "MultiheadAttention": "multihead_attention",
                "LSTM": "lstm", "GRU": "gru", "RNN": "rnn"}
# Modules of other libraries a peer has a rule for, by (module, attribute) of the class as the peer
# imports it: ptflops' hook for timm's ViT attention (ptflops/pytorch_ops.py,
# timm_attention_counter_hook).
FOREIGN_KINDS = {("timm.models.vision_transformer", "Attention"): "timm_attention"}
# Modules whose watched calls inside are seen by a peer patching them, not part of the module's own
# rule: nn.MultiheadAttention's torch.bmm and F.softmax when it returns its weights.
_OPEN_MODULES = ("multihead_attention",)
# Modules torch.jit records as one aten op (aten::lstm, aten::gru, aten::rnn_tanh): fvcore sees
# them whole, not the ops torch's kernel runs.
JIT_MODULES = ("lstm", "gru", "rnn")
# An adaptive average pool to 1x1 runs as aten.mean below autograd, but is traced by torch.jit
# (fvcore) as itself: a mean inside such a pool keeps the pool's kind.
_POOLS = {"adaptive_avgpool", *(f"F.adaptive_avg_pool{d}d" for d in (1, 2, 3))}
# Calls torch.jit records as one op (fvcore sees them whole, not the aten ops they run: a 1-D
# adaptive average pool runs as a 2-D one at dispatch).
JIT_CALLS = ("torch.einsum", "F.adaptive_avg_pool1d")


def _attention_detail(module, args) -> tuple:
    """(L_q, L_k, L_v, E_q, E_k, E_v, heads, in-projection bias) of an nn.MultiheadAttention
    call on (query, key, value), per image; () when they were not passed by position."""
    if len(args) < 3 or not all(hasattr(a, "shape") for a in args[:3]):
        return ()
    length = 1 if module.batch_first else 0
    q, k, v = (a.shape for a in args[:3])
    return (q[length], k[length], v[length], q[2], k[2], v[2], module.num_heads,
            module.in_proj_bias is not None)


def module_kind(module) -> str | None:
    """The op kind of a module call: its class's in ``MODULE_KINDS`` when the class is torch's
    own (the peers look classes up exactly: timm's LayerNorm, a subclass, is not nn.LayerNorm),
    in ``FOREIGN_KINDS`` by qualified name, else "module" for a leaf module with parameters
    (torchinfo prices any), else None."""
    cls = type(module)
    if cls.__module__.startswith("torch.nn.") and cls.__name__ in MODULE_KINDS:
        return MODULE_KINDS[cls.__name__]
    import sys

    for (where, attr), kind in FOREIGN_KINDS.items():  # only a library the model imported
        if cls is getattr(sys.modules.get(where), attr, None):
            return kind
    leaf = not any(True for _ in module.children())
    return "module" if leaf and any(True for _ in module.parameters()) else None


def _kernel_area(kernel) -> int:
    """A pool's kernel area as torchscan reads it: the product of a tuple, an int as it is."""
    import math

    return math.prod(kernel) if isinstance(kernel, tuple) else kernel


def _recurrent_detail(module, args) -> tuple:
    """(input size, hidden size, layers, bidirectional, bias, proj size, steps, batch) of an
    nn.LSTM/GRU/RNN call. An unbatched input (steps, features) gives its features as the batch:
    thop and ptflops read an input's first two dimensions as steps and batch whatever it holds."""
    shape = tuple(args[0].shape) if args and hasattr(args[0], "shape") else ()
    if len(shape) == 3:
        batch, steps = (shape[0], shape[1]) if module.batch_first else (shape[1], shape[0])
    else:
        steps, batch = (*shape, 0, 0)[:2]
    return (module.input_size, module.hidden_size, module.num_layers, module.bidirectional,
            module.bias, getattr(module, "proj_size", 0), steps, batch)


def _call_detail(args, kwargs) -> tuple:
    """A watched call's arguments, each tensor as its shape: (args, keyword items)."""
    def plain(value):
        return _shape(value) if hasattr(value, "shape") else value
    return tuple(plain(a) for a in args), tuple((k, plain(v)) for k, v in kwargs.items())


def _einsum_detail(args) -> tuple:
    """(equation, operand shapes) of a torch.einsum call."""
    operands = args[1] if len(args) == 2 and isinstance(args[1], (list, tuple)) else args[1:]
    return (args[0], tuple(tuple(int(d) for d in o.shape) for o in operands))


# Where a watched name's attribute lives: "F.relu" is torch.nn.functional.relu (module, class).
_OWNERS = {"F": ("torch.nn.functional", None), "Tensor": ("torch", "Tensor"),
           "torch": ("torch", None)}


@dataclass(frozen=True)
class ModelOps:
    """A model's inventory for one batch: its aten ops, the same with each call in ``JIT_CALLS``
    as one op (what torch.jit records), its calls, and its parameter totals."""

    aten: list
    jit: list
    calls: list
    params: int  # every parameter, each shared one once
    executed: dict  # op kind -> the parameters of the leaf modules of that kind that ran
    called: tuple = ()  # the module calls in the order they began, each module by its first name


def _shape(value) -> tuple:
    from .rows import shape_of

    shape = shape_of(value)
    return tuple(int(s) for s in shape) if shape else ()


def model_ops(model, x, watch=(), hooks: bool = False) -> ModelOps:
    """The inventory of ``model`` run once on ``x`` (the whole batch: a tensor or an
    incprof.capture.inputs.Example of any args and kwargs), with each name in ``watch``
    (``F.relu``, ``Tensor.add``, ``torch.matmul``) recorded as a call wherever it is called
    through its attribute outside a module of a kind in ``MODULE_KINDS``; ``hooks``: with a
    forward hook attached to every module, as the peers that hook modules run it."""
    import importlib

    from .rows import aten_name, node_counts
    from .trace import dispatch_trace

    owners = {}
    for name in watch:
        prefix, _, attr = name.partition(".")
        module, cls = _OWNERS[prefix]
        owner = importlib.import_module(module)
        owners[name] = (getattr(owner, cls) if cls else owner, attr)
    attached = [m.register_forward_hook(lambda *_: None) for m in model.modules()] if hooks \
        else []  # as a peer that hooks every module runs it
    try:
        records = dispatch_trace(model, x, owners)
    finally:
        for handle in attached:
            handle.remove()
    paths: dict[int, int] = {}  # module -> its names in the module tree (a shared module's: 2+)
    for _, module in model.named_modules(remove_duplicate=False):
        paths[id(module)] = paths.get(id(module), 0) + 1
    macs = [node_counts(r)[0] if r.op == "call_function" else 0 for r in records]
    batch = x.batch_size() if hasattr(x, "batch_size") else int(x.shape[0])  # an Example's
    aten, jit, calls, executed = [], [], [], {}
    whole_until = 0  # the records up to here run inside a call in JIT_CALLS
    inside: list[tuple[int, str]] = []  # the calls that enclose the current record: (last, kind)
    modules: list[tuple[int, str | None]] = []  # the module calls among them
    for index, r in enumerate(records):
        while inside and inside[-1][0] <= index:
            inside.pop()
        while modules and modules[-1][0] <= index:
            modules.pop()
        if r.op == "call_function":
            short = aten_name(r.target)
            if short == "mean" and any(kind in _POOLS for _, kind in inside):
                short = "adaptive_avg_pool2d"
            args = [a for a in r.args if hasattr(a, "meta")]
            entry = vocabulary.ATEN.get(short)
            bias = entry is not None and entry.bias is not None and len(r.args) > entry.bias \
                and r.args[entry.bias] is not None
            first = entry.operand if entry else 0
            source = args[first] if len(args) > first else (args[0] if args else None)
            aten.append(Op(vocabulary.kind(short),
                           _shape(source.meta.get("val")) if source else (),
                           _shape(r.meta.get("val")), macs[index], bias=bias, batch=batch))
            if index >= whole_until:
                jit.append(aten[-1])
            continue
        span = sum(macs[r.meta["first"]:r.meta["last"]])
        kind = module_kind(r.meta["module"]) if r.op == "call_module" else r.target
        inside.append((r.meta["last"], kind))
        if r.op == "call_module":
            module = r.meta["module"]
            within = tuple(k for _, k in modules if k)
            modules.append((r.meta["last"], kind))
            if kind is None:
                continue
            params = sum(p.numel() for p in module.parameters())
            if not any(True for _ in module.children()):  # thop meets it once per path
                executed[id(module)] = (kind, params * paths.get(id(module), 1))
            detail = _attention_detail(module, r.args) if kind == "multihead_attention" else \
                _recurrent_detail(module, r.args) if kind in JIT_MODULES else \
                (module.num_heads, module.head_dim) if kind == "timm_attention" else \
                (_kernel_area(module.kernel_size),) if kind in ("maxpool", "avgpool") else \
                ((_shape(r.meta["in"]), module.size, module.scale_factor, module.mode), ()) \
                if kind == "upsample" else ()  # as it calls F.interpolate
            affine = getattr(module, "affine", getattr(module, "elementwise_affine", None))
            bias = bool(affine) if affine is not None else getattr(module, "bias", None) is not None
            leaf = not any(True for _ in module.children())
            calls.append(Op(kind, _shape(r.meta["in"]), _shape(r.meta["val"]), span, params,
                            bias, getattr(module, "size", 0), batch, detail, within,
                            paths.get(id(module), 1), type(module).__name__,
                            tuple((n, p.numel()) for n, p in module.named_parameters())
                            if leaf else ()))
            if kind in JIT_MODULES and index >= whole_until:
                whole_until = r.meta["last"]
                jit.append(Op(kind, calls[-1].in_shape, calls[-1].out_shape, span, batch=batch))
            continue
        if r.target in JIT_CALLS and index >= whole_until:
            whole_until = r.meta["last"]
            jit.append(Op(r.target, _shape(r.meta["in"]), _shape(r.meta["val"]), span,
                          batch=batch,
                          detail=_einsum_detail(r.args) if r.target == "torch.einsum" else ()))
        inner = modules[-1][1] if modules else None
        if inner in (None, "module", *FOREIGN_KINDS.values(), *_OPEN_MODULES):
            calls.append(Op(r.target, _shape(r.meta["in"]), _shape(r.meta["val"]), span,
                            batch=batch, detail=_call_detail(r.args, r.meta["kwargs"])))
    by_kind: dict[str, int] = {}
    for kind, params in executed.values():
        by_kind[kind] = by_kind.get(kind, 0) + params
    first = {}
    for name, module in model.named_modules():
        first.setdefault(id(module), name)
    called = tuple(first[id(r.meta["module"])] for r in records if r.op == "call_module")
    return ModelOps(aten, jit, calls, sum(p.numel() for p in model.parameters()), by_kind, called)
