"""The referee: every peer counter's total, predicted from incprof's own per-op counts. No torch at
import; ``referee`` builds the network and runs the peers (incprof.peers) inside.

A network is described to the referee as a plain inventory of the ops that run at inference
(``Op``: a kind, its input and output shape per image, its MACs, params and bias), which
``spec_ops`` derives from a spec (MACs and params from incprof.analytic, shapes from the spec's
shape inference) and which a captured model could provide as well. Each peer's counting
convention is data: ``CONVENTIONS[tool][kind]`` is a sum of named terms (``TERMS``), such as
``"macs + bias"`` or ``"2*in"``; a term ending in ``@1`` is counted for one image whatever the
batch (ptflops' pytorch backend divides its module counts by the batch size, but not its
functional ones). A kind a tool does not list counts zero for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .analytic import layer_counts
from .layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear,
                     Pool, ReLU, Residual, Separable, Softmax)
from .shapes import rule, walk


@dataclass(frozen=True)
class Op:
    """One op that runs at inference, per image: shapes are (C, H, W), or (F,) once flattened."""

    kind: str  # conv, linear, batchnorm, relu, maxpool, avgpool, adaptive_avgpool, lrn, softmax,
    #            dropout, add, scale, concat
    in_shape: tuple
    out_shape: tuple
    macs: int = 0
    params: int = 0
    bias: bool = False
    size: int = 0  # an LRN's window across channels


def _numel(shape: tuple) -> int:
    return math.prod(shape)


def _hw(shape: tuple) -> int:
    return math.prod(shape[1:]) if len(shape) > 1 else 1


# Each term: (op, batch) -> int, for the whole batch.
TERMS = {
    "macs": lambda op, n: n * op.macs,
    "bias": lambda op, n: n * _numel(op.out_shape) if op.bias else 0,
    "in": lambda op, n: n * _numel(op.in_shape),
    "out": lambda op, n: n * _numel(op.out_shape),
    "params": lambda op, n: n * op.params,
    # thop: (window area + 1 division) per output element, the window area as the float
    # in/out ratio per axis, the product truncated once (thop/vision/calc_func.py)
    "thop_adaptive": lambda op, n: int(
        (op.in_shape[1] / op.out_shape[1] * (op.in_shape[2] / op.out_shape[2]) + 1)
        * (n * _numel(op.out_shape))),
    # thop: exp, add and divide over the classes: 3C - 1 per row of C (count_softmax)
    "thop_softmax": lambda op, n: n * _numel(op.in_shape) // op.in_shape[0]
    * (3 * op.in_shape[0] - 1),
    # ptflops' patched functionals inside F.local_response_norm: x.mul(x), avg_pool3d over the
    # channel-padded square (C + size - 1 planes), div.mul(alpha), .add(k)
    "lrn_internals": lambda op, n: n * _hw(op.in_shape) * (4 * op.in_shape[0] + op.size - 1),
}

# What each peer counts. "unit" says whether the total is MACs or FLOPs (2 per MAC); "params"
# which parameters its parameter total holds: "all" (aux heads included: every parameter of the
# module) or "executed" (the modules that ran in eval mode), None where it gives none.
CONVENTIONS = {
    "fvcore": {"unit": "MACs", "params": "all", "ops": {
        "conv": "macs", "linear": "macs", "batchnorm": "2*in", "adaptive_avgpool": "in"}},
    "flop_counter": {"unit": "FLOPs", "params": None, "ops": {
        "conv": "2*macs", "linear": "2*macs"}},
    "ptflops_pytorch": {"unit": "MACs", "params": "all", "ops": {
        "conv": "macs@1 + bias@1", "linear": "macs@1 + bias@1", "batchnorm": "2*in@1",
        "relu": "out@1 + in", "maxpool": "in@1 + in", "avgpool": "in@1 + in",
        "adaptive_avgpool": "in@1 + in", "softmax": "in", "lrn": "lrn_internals"}},
    "ptflops_aten": {"unit": "MACs", "params": "all", "ops": {
        "conv": "macs + bias", "linear": "macs + bias"}},
    "thop": {"unit": "MACs", "params": "executed", "ops": {
        "conv": "macs", "linear": "macs", "batchnorm": "4*in", "avgpool": "out",
        "adaptive_avgpool": "thop_adaptive", "softmax": "thop_softmax"}},
    "torchinfo": {"unit": "MACs", "params": "all", "ops": {
        "conv": "macs + bias", "linear": "macs + bias", "batchnorm": "params"}},
}

def evaluate(expression: str, op: Op, batch: int) -> int:
    """The value of a convention expression (``"2*in@1 + bias"``) for one op and a batch size."""
    total = 0
    for term in expression.split("+"):
        term = term.strip()
        factor, _, name = term.rpartition("*")
        name, _, per = name.partition("@")
        total += int(factor or 1) * TERMS[name](op, 1 if per == "1" else batch)
    return total


def predict(ops: list[Op], tool: str, batch: int) -> dict[str, int]:
    """A tool's predicted total per op kind (kinds it counts as zero left out), for a batch."""
    rules = CONVENTIONS[tool]["ops"]
    out: dict[str, int] = {}
    for op in ops:
        if op.kind in rules:
            out[op.kind] = out.get(op.kind, 0) + evaluate(rules[op.kind], op, batch)
    return out


# ------------------------------------------------------------------------------------ the inventory
def spec_ops(layers: tuple[Layer, ...], in_shape: tuple) -> list[Op]:
    """The ops a layer sequence runs at inference, in order, as ``incprof.build`` builds them."""
    ops: list[Op] = []
    for layer, i, o in walk(layers, in_shape)[0]:
        ops += rule(OP_RULES, layer)(layer, i, o)
    return ops


def _after(layer, shape: tuple) -> list[Op]:
    """BatchNorm and ReLU fused into a Conv, Separable or Linear layer."""
    ops = []
    if getattr(layer, "bn_eps", None) is not None:
        ops.append(Op("batchnorm", shape, shape, params=2 * shape[0]))
    if layer.relu:
        ops.append(Op("relu", shape, shape))
    return ops


def _conv_ops(layer: Conv, i: tuple, o: tuple) -> list[Op]:
    weights = layer_counts(layer, i, o).weights
    return [Op("conv", i, o, weights * o[1] * o[2], weights + layer.out * layer.bias, layer.bias),
            *_after(layer, o)]


def _separable_ops(layer: Separable, i: tuple, o: tuple) -> list[Op]:
    """The depthwise conv (no bias), then the pointwise conv, as incprof.build builds them."""
    counts = layer_counts(layer, i, o)
    mid = (i[0] * layer.multiplier, o[1], o[2])
    pointwise = mid[0] * layer.out
    return [Op("conv", i, mid, counts.macs - pointwise * o[1] * o[2], counts.weights - pointwise),
            Op("conv", mid, o, pointwise * o[1] * o[2], pointwise + layer.out * layer.bias,
               layer.bias), *_after(layer, o)]


def _linear_ops(layer: Linear, i: tuple, o: tuple) -> list[Op]:
    flat, out = (_numel(i),), (layer.out,)
    return [Op("linear", flat, out, layer_counts(layer, i, o).macs,
               flat[0] * layer.out + layer.out * layer.bias, layer.bias), *_after(layer, out)]


def _residual_ops(layer: Residual, i: tuple, o: tuple) -> list[Op]:
    ops = spec_ops(layer.body, i) + spec_ops(layer.shortcut, i)
    ops += [Op("scale", o, o)] if layer.scale != 1 else []
    return ops + [Op("add", o, o)] + ([Op("relu", o, o)] if layer.relu else [])


def _one(kind: str):
    return lambda layer, i, o: [Op(kind, i, o)]


# The ops each layer type runs at inference, per type (incprof.shapes.rule: a missing type is an
# error, not free).
OP_RULES = {
    Conv: _conv_ops, Separable: _separable_ops, Linear: _linear_ops,
    Pool: lambda layer, i, o: [Op(f"{layer.kind}pool", i, o)],
    GlobalAvgPool: _one("adaptive_avgpool"), AdaptiveAvgPool: _one("adaptive_avgpool"),
    LRN: lambda layer, i, o: [Op("lrn", i, o, size=layer.size)],
    Softmax: _one("softmax"), ReLU: _one("relu"), Dropout: _one("dropout"),
    Branches: lambda layer, i, o: [op for b in layer.branches for op in spec_ops(b, i)]
    + [Op("concat", o, o)],
    Residual: _residual_ops,
}


def network_ops(spec, input_hw=None) -> list[Op]:
    """The inference ops of a spec's main rows (aux heads do not run in eval mode), in order."""
    from .shapes import place

    return [op for p in place(spec, input_hw) if not p.is_aux
            for op in spec_ops(p.layers, p.in_shape)]


def _params(spec, input_hw) -> dict[str, int]:
    """Parameter totals under each parameter convention, from the analytic counts."""
    from .analytic import count_spec

    counted = count_spec(spec, input_hw)
    main = [rc.counts for rc in counted if not rc.placed.is_aux]
    bn = sum(op.params for op in network_ops(spec, input_hw) if op.kind == "batchnorm")
    params = sum(c.params for c in main)
    return {"params": params, "params_with_aux": sum(rc.counts.params for rc in counted),
            "params_and_bn_statistics": params + bn, "weights": sum(c.weights for c in main)}


# How the parameter conventions read, for the published figures.
PARAM_CONVENTIONS = {
    "params": "trainable parameters, no aux heads (incprof's params)",
    "params_with_aux": "trainable parameters, aux heads included (every tool's parameter total)",
    "params_and_bn_statistics": "every variable: parameters and BatchNorm's running mean and "
                                "variance, no aux heads (Keras' count_params)",
    "weights": "conv and linear weights only: no biases, no BatchNorm",
}


def referee(arch, *, flavor: str = "paper", aux: bool = True, input_size=None,
            batch_size: int = 1, tools=None, max_memory: int | None = None) -> dict:
    """Run every installed peer on the built network (eval mode, a zero input of ``batch_size``)
    and set its total beside incprof's prediction for its conventions. Returns plain data:
    ``meta``, and ``tools``: per peer its installed flag, unit, reported and predicted totals and
    parameter totals, their residuals, and the op kinds a non-zero residual comes from."""
    from . import peers
    from .limits import check_memory
    from .profiler import load

    if not 1 <= batch_size <= 4096:
        raise ValueError(f"batch size must be from 1 to 4096, got {batch_size}")
    spec = load(arch, flavor, aux)
    ops = network_ops(spec, input_size)
    params = _params(spec, input_size)
    check_memory(spec, input_size, batch_size, max_memory)
    rows = []
    for tool in tools or peers.PEERS:
        rows.append(_tool_row(tool, spec, input_size, batch_size, ops, params))
    hw = tuple(input_size or spec.input[1:])
    return {"meta": {"arch": spec.name, "title": spec.title, "flavor": flavor, "aux": bool(spec.aux),
                     "input": list(hw), "batch_size": batch_size},
            "tools": rows}


def _tool_row(tool: str, spec, input_size, batch_size: int, ops: list[Op], params: dict) -> dict:
    from . import peers

    convention = CONVENTIONS[tool]
    row = {"tool": tool, "installed": peers.installed(tool), "version": None,
           "unit": convention["unit"],
           "reported": None, "predicted": None, "residual": None, "params_reported": None,
           "params_predicted": None, "params_residual": None, "residual_from": None}
    if not row["installed"]:
        return row
    row["version"] = peers.version(tool)
    import torch

    from .build import build

    predicted = predict(ops, tool, batch_size)
    device = "meta" if tool in peers.META else "cpu"  # meta: no weight init, no arithmetic
    with torch.device(device):
        model = build(spec, input_size).eval()  # a fresh model: peers leave hooks and attributes
    x = torch.zeros(batch_size, spec.input[0], *(input_size or spec.input[1:]), device=device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one forward pass: more threads only wait on a busy machine
    try:
        reading = peers.run(tool, model, x)
    finally:
        torch.set_num_threads(threads)
    row.update(reported=reading.total, predicted=sum(predicted.values()))
    row["residual"] = reading.total - row["predicted"]
    if convention["params"]:
        row["params_predicted"] = params["params_with_aux" if convention["params"] == "all"
                                         else "params"]
        row["params_reported"] = reading.params
        row["params_residual"] = reading.params - row["params_predicted"]
    if row["residual"]:
        kinds = sorted(set(predicted) | set(reading.by_kind))
        row["residual_from"] = {k: reading.by_kind.get(k, 0) - predicted.get(k, 0) for k in kinds
                                if reading.by_kind.get(k, 0) != predicted.get(k, 0)} \
            if reading.by_kind else "the tool gives no per-op breakdown"
    return row


# ------------------------------------------------------------------------------ published figures
FIGURES = ("params", "MACs", "FLOPs")
_SCALE = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}


@dataclass(frozen=True)
class Figure:
    """A whole-network figure someone published, as printed, with what it is said to count."""

    source: str
    figure: str  # params, MACs or FLOPs
    value: str  # as printed: "42.68M", "6624904"
    flavor: str = "paper"
    input: tuple | None = None  # None: the spec's own input size
    stated: str | None = None  # the convention its source states, if any


def figures(spec) -> list[Figure]:
    """A spec's published figures: its ``published:`` entries (conv and linear MACs, params with or
    without aux heads as the entry says) and its ``refereed:`` list (read here, validated with
    line numbers)."""
    out = []
    for p in spec.published:
        if p.params is not None:
            out.append(Figure(p.source, "params", str(p.params), p.flavor, p.input,
                              "params_with_aux" if p.aux else "params"))
        if p.macs is not None:
            out.append(Figure(p.source, "MACs", p.macs, p.flavor, p.input, "macs"))
    return out + _refereed(spec)


def _refereed(spec) -> list[Figure]:
    from .fields import FieldReader
    from .yamlio import load_yaml

    if not spec.path:
        return []
    data = load_yaml(spec.path)
    entries = data.get("refereed") if isinstance(data, dict) else None
    if entries is None:
        return []
    reader = FieldReader()
    reader.path, reader.units = spec.path, {}
    line = data.key_lines.get("refereed", 0)
    if not isinstance(entries, list):
        raise reader.fail("refereed must be a list", line)
    names = {*PARAM_CONVENTIONS, "macs", *CONVENTIONS}
    out = []
    for entry in entries:
        at = getattr(entry, "line", line)
        entry = reader.mapping(entry, "a refereed entry", at)
        reader.keys(entry, {"source", "figure", "value", "flavor", "input", "stated"},
                    {"source", "figure", "value"}, "a refereed entry", at)
        figure, value = entry["figure"], str(entry["value"])
        if figure not in FIGURES:
            raise reader.fail(f"figure must be one of {', '.join(FIGURES)}, got {figure!r}", at)
        if _parse(value) is None:
            raise reader.fail(f"value must look like 42.68M or 6624904, got {value!r}", at)
        stated = entry.get("stated")
        if stated is not None and stated not in names:
            raise reader.fail(f"stated must be one of {', '.join(sorted(names))}, got "
                              f"{stated!r}", at)
        out.append(Figure(reader.text(entry["source"], "source", at, limit=4000), figure, value,
                          reader.text(entry.get("flavor", "paper"), "flavor", at),
                          None if entry.get("input") is None else
                          reader.pair(entry["input"], "input", at), stated))
    return out


def _parse(value: str):
    import re

    match = re.fullmatch(r"([0-9]+(?:\.([0-9]+))?)([KMG]?)", value.strip())
    return None if not match else (match[1], len(match[2] or ""), _SCALE[match[3]])


def _fits(count: int, value: str) -> bool:
    """Whether ``count`` prints as ``value`` at its precision (rounded half up)."""
    from decimal import Decimal

    from .units import round_half_up

    number, decimals, scale = _parse(value)
    return round_half_up(Decimal(count) / scale, decimals) == Decimal(number)


def candidates(spec, flavor: str, input_hw, figure: str) -> dict[str, int]:
    """Every convention's value for one figure kind, per image, from the analytic counts."""
    from .profiler import load

    spec = load(spec, flavor, True)
    if figure == "params":
        return _params(spec, input_hw)
    ops = network_ops(spec, input_hw)
    macs = {"macs": sum(op.macs for op in ops if op.kind in ("conv", "linear"))}
    macs.update({tool: sum(predict(ops, tool, 1).values()) for tool, c in CONVENTIONS.items()
                 if c["unit"] == "MACs"})
    return macs if figure == "MACs" else {f"2 x {name}": 2 * v for name, v in macs.items()}


def referee_figures(arch) -> list[dict]:
    """Each published figure of a spec with its source, the conventions its value fits at its
    printed precision, and a computed verdict; a figure that fits none is flagged with the
    nearest convention and the distance to it."""
    from .spec import resolve

    spec = resolve(arch) if isinstance(arch, str) else arch
    out = []
    for f in figures(spec):
        values = candidates(spec, f.flavor, f.input, f.figure)
        fits = [name for name, v in values.items() if _fits(v, f.value)]
        number, _, scale = _parse(f.value)
        target = float(number) * scale
        nearest = min(values, key=lambda name: (abs(values[name] / target - 1), name))
        if not fits:
            verdict = (f"FLAGGED: fits no convention; nearest {nearest} "
                       f"({values[nearest]:,}), the figure is "
                       f"{target / values[nearest] - 1:+.1%} from it")
        elif f.stated and f.stated not in fits:
            verdict = f"fits {', '.join(fits)}, but NOT its stated convention ({f.stated})"
        else:
            verdict = "fits " + ", ".join(fits)
        out.append({"arch": spec.name, "source": f.source, "figure": f.figure, "value": f.value,
                    "flavor": f.flavor, "input": list(f.input or spec.input[1:]),
                    "stated": f.stated, "fits": fits, "nearest": nearest,
                    "nearest_value": values[nearest], "verdict": verdict})
    return out
