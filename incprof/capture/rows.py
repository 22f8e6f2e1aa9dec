"""Any ``nn.Module``: capture its graph, attribute every aten op to the module that called it, and
count params, MACs and other ops per row; then count again with torch's FlopCounterMode.

Rows are the modules at ``depth`` (1: the model's top-level children), as they are called: a
module registered in one place and called from inside another (a shared one) counts in the row
of the module that calls it. An op called by a module above that depth outside any of its
children goes to a row named after that module (the model's own ops: a row named
``(ClassName)``). Every op either has a counting rule in the aten-op vocabulary
(incprof.count.aten), or is listed as not counted; nothing is silently zero. FlopCounterMode's
count is attributed to rows the same way; where torch runs a kernel it has no formula for, the
row names it and the MACs incprof's rule gives it.

torch is imported inside the functions only.
"""

from __future__ import annotations

import io
import logging
from collections import Counter, defaultdict
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass, field

from ..count.aten import ATEN, RULES_TEXT
from ..errors import UsageError
from ..records import Records
from .guard import check_modules, op_ceiling
from .inputs import Example, default, register_outputs
from .inputs import image_shape as example_shape  # noqa: F401 (the referee's import)

# A model profile's columns, in order: one row per module at the chosen depth.
MODEL_COLUMNS = ["row", "module", "calls", "params", "shared_params", "macs", "other_ops",
                 "flop_counter_macs", "no_flop_formula", "no_flop_formula_macs", "output_size",
                 "ops", "not_counted"]


@dataclass
class ModelRow:
    """One row: a module at the chosen depth (or a parent's own ops), for the whole batch."""

    name: str
    module: str  # the module's class name
    calls: int = 0
    params: int = 0
    macs: int = 0
    other_ops: int = 0
    ops: Counter = field(default_factory=Counter)
    not_counted: Counter = field(default_factory=Counter)
    output_shape: tuple | None = None
    flop_counter_macs: int | None = None
    shared_params: int = 0  # params this row uses that an earlier row already counted
    # the ops FlopCounterMode ran here with no formula, that incprof's rules give MACs: op -> calls
    no_flop_formula: Counter = field(default_factory=Counter)
    no_flop_formula_macs: int = 0  # their MACs by incprof's rules

    @property
    def flop_counter_agrees(self) -> bool:
        """FlopCounterMode's MACs, plus those of the ops it has no formula for, are the row's."""
        return self.macs == self.flop_counter_macs + self.no_flop_formula_macs


@dataclass
class Captured:
    """A model's rows, how it was captured, and the input it was counted on."""

    rows: list[ModelRow]
    method: str
    input_shape: tuple
    model: str
    inputs: str = ""  # every input, as --input spells it


def op_name(target) -> str:
    """'aten.conv2d' for aten.conv2d.default; the function's name for other call targets."""
    packet = getattr(target, "_overloadpacket", None)
    if packet is not None:
        return str(packet)
    return getattr(target, "__name__", str(target))


def _shape(value) -> tuple | None:
    if isinstance(value, (tuple, list)):
        value = next((v for v in value if hasattr(v, "shape")), None)
    return tuple(int(s) for s in value.shape) if hasattr(value, "shape") else None


def _arg(value):
    """An argument as the vocabulary's rules take it: a tensor as its shape, lists item by item."""
    if hasattr(value, "meta"):
        return _shape(value.meta.get("val"))
    if isinstance(value, (tuple, list)):
        return [_arg(v) for v in value]
    return value


def node_counts(node) -> tuple[int, int, bool]:
    """(MACs, other ops, counted) of one call_function node, from the shapes in its meta, by its
    rule in incprof.count.aten (Python builtins on sizes are free)."""
    if node.target.__class__.__name__ == "builtin_function_or_method":
        return 0, 0, True
    op = ATEN.get(op_name(node.target).split(".")[-1])
    counts = op and op.rule([_arg(a) for a in node.args], _shape(node.meta.get("val")))
    if counts is None:
        return 0, 0, False
    return *counts, True


def _row_key(path: str, depth: int) -> str:
    return ".".join(path.split(".")[:depth]) if path else ""


def call_row(paths: list[str], depth: int) -> str:
    """The row of an op run inside the module calls ``paths`` (outermost first): the module at
    ``depth`` on the way in. A module registered elsewhere (shared) counts where it is called: the
    walk stops at the first call that is not below the row reached so far by name."""
    key = ""
    for path in filter(None, paths):
        if key and not path.startswith(key + "."):
            break
        key = _row_key(path, depth)
        if key.count(".") + 1 >= depth:
            break
    return key


def capture(model, input_size=None, *, channels: int = 3, depth: int = 1, batch_size: int = 1,
            label: str | None = None, example: Example | None = None) -> Captured:
    """Count ``model`` per row (see the module docstring) on ``example`` (default: inputs.default);
    also counts every row again with FlopCounterMode. Raises UsageError (naming ``label``) for an
    input the model rejects or a model that does not trace."""
    label = label or type(model).__name__
    if depth < 1:
        raise UsageError(f"model {label}: --depth must be 1 or more, got {depth}")
    model = model.eval()
    x = example or default(model, input_size, channels, batch_size)
    check_modules(model, label)
    with op_ceiling(label):  # counted on the first forward pass, before the graph capture
        flops, no_formula, no_formula_macs = _flop_counter(model, x, label, depth)
    try:
        nodes, method = list(export_program(model, x, label).graph.nodes), \
            "torch.export (non-strict)"
    except UsageError as exc:  # e.g. data-dependent control flow: follow the example input
        from .trace import dispatch_trace

        nodes = dispatch_trace(model, x)
        method = (f"an eager trace of the example input's own path ({exc.args[0].split(': ', 1)[1]})")
    types = {name: type(m).__name__ for name, m in model.named_modules()}
    leaves = {name for name, m in model.named_modules() if not any(True for _ in m.children())}
    root = f"({type(model).__name__})"
    rows: dict[str, ModelRow] = {}
    call_keys: dict[str, set] = {}
    ran_in: dict[str, dict] = {}  # module path -> the rows it ran in, in order (dict as a set)

    def row_for(key: str) -> ModelRow:
        if key not in rows:
            rows[key] = ModelRow(key or root, types.get(key, type(model).__name__))
            call_keys[key] = set()
        return rows[key]

    for node in nodes:
        if node.op not in ("call_function", "call_module"):
            continue
        stack = list((node.meta.get("nn_module_stack") or {}).items())
        path = stack[-1][1][0] if stack else ""
        if node.op == "call_module" and not (path and (path.count(".") + 1 == depth
                                                       or path in leaves)):
            continue  # a parent's row comes from its own ops, where they run
        key = call_row([p for _, (p, _) in stack], depth)
        for _, (p, _) in stack:  # the modules running inside the row (not the row's parents)
            if p and not key.startswith(p + "."):
                ran_in.setdefault(p, {})[key] = True
        row = row_for(key)
        level = [k for k, (p, _) in stack if _row_key(p, depth) == key and p == key]
        call_keys[key].add(level[-1] if level else "")
        if node.op == "call_module":
            continue
        macs, other, counted = node_counts(node)
        name = op_name(node.target)
        row.ops[name.split(".")[-1]] += 1
        row.macs += macs
        row.other_ops += other
        if not counted:
            row.not_counted[name] += 1
        out = _shape(node.meta.get("val"))
        if out is not None:
            row.output_shape = out
    for key, row in rows.items():
        row.calls = len(call_keys[key])
    seen: dict[int, set] = {}  # param -> the rows that have it, the first counting it
    named: dict[int, list] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        named.setdefault(id(module), []).append(name)
    for name, module in model.named_modules(remove_duplicate=False):
        for pname, param in module.named_parameters(recurse=False, remove_duplicate=False):
            # the rows where the module ran (a shared one: where it is called), else where it
            # is named; the first counts the param, the others share it
            keys = [k for n in named[id(module)] for k in ran_in.get(n, ())] or \
                [_row_key(name, depth)]
            for key in dict.fromkeys(keys):
                if id(param) not in seen:
                    row_for(key).params += param.numel()
                elif key not in seen[id(param)]:
                    row_for(key).shared_params += param.numel()
                seen.setdefault(id(param), set()).add(key)
    for key, row in rows.items():
        row.flop_counter_macs = flops[key] // 2
        row.no_flop_formula, row.no_flop_formula_macs = no_formula[key], no_formula_macs[key]
    return Captured(list(rows.values()), method, x.shape(), label, x.describe())


def export_program(model, x, label: str):
    """``torch.export.export(model, args, kwargs, strict=False)`` on ``x`` (an inputs.Example or
    one tensor), with a failure as one UsageError line."""
    import torch
    import torch.fx.config as fx_config

    x = x if isinstance(x, Example) else Example((x,))
    emit = fx_config.do_not_emit_stack_traces
    fx_config.do_not_emit_stack_traces = True  # no node's stack trace is read: a fifth of export
    try:
        with _quiet_torch_logs():
            return torch.export.export(model, x.args, x.kwargs, strict=False)
    except Exception as exc:  # any failure to trace is the user's model's, reported in one line
        raise UsageError(f"model {label}: does not trace with torch.export: "
                         f"{type(exc).__name__}: {_first_line(exc)}") from None
    finally:
        fx_config.do_not_emit_stack_traces = emit


@contextmanager
def _quiet_torch_logs():
    """Keep torch's own log lines (graphs printed on a failed trace) off the user's terminal."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _dispatched(value):
    """A dispatched op's argument as the vocabulary's rules take it (a tensor as its shape)."""
    if hasattr(value, "shape"):
        return tuple(int(s) for s in value.shape)
    if isinstance(value, (tuple, list)):
        return [_dispatched(v) for v in value]
    return value


def _flop_counter(model, x: Example, label: str, depth: int) -> tuple[Counter, dict, Counter]:
    """FlopCounterMode's FLOPs per row (its formulas, each op in the row ``call_row`` gives it,
    as the graph count attributes ops), and per row the ops it ran with no formula that
    incprof's rules give MACs (op -> calls) and those MACs. The model runs eagerly on fake
    tensors (torch's FakeTensorMode: shapes without arithmetic)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    names: dict[int, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), name)
    children = {id(m): {id(c): n for n, c in m.named_children()} for m in model.modules()}
    calls: list[tuple[int, str]] = []  # (module, path as torch.export names it: as called)
    flops: Counter = Counter()
    no_formula: defaultdict = defaultdict(Counter)
    no_formula_macs: Counter = Counter()

    class Counting(FlopCounterMode):
        def _count_flops(self, func_packet, out, args, kwargs):
            key = call_row([path for _, path in calls], depth)
            if func_packet in self.flop_registry:
                flops[key] += self.flop_registry[func_packet](*args, **kwargs, out_val=out)
                return out
            op = ATEN.get(str(func_packet).split(".")[-1])
            counts = op and op.rule([_dispatched(a) for a in args], _shape(out))
            if counts and counts[0]:
                no_formula[key][str(func_packet)] += 1
                no_formula_macs[key] += counts[0]
            return out

    def push(module, args):
        if id(module) in names:
            parent, path = calls[-1] if calls else (None, "")
            child = children.get(parent, {}).get(id(module))
            calls.append((id(module), names[id(module)] if child is None else
                          f"{path}.{child}".lstrip(".")))

    def pop(module, args, out):
        if id(module) in names and calls:
            calls.pop()

    def run(fake: bool) -> None:
        from torch._subclasses.fake_tensor import FakeTensorMode

        for tally in (flops, no_formula, no_formula_macs, calls):
            tally.clear()
        if not fake:
            with Counting(display=False):
                register_outputs(x.run(model))  # so that torch.export can return it
            return
        with FakeTensorMode(allow_non_fake_inputs=True) as mode, Counting(display=False):
            fake = {id(v): mode.from_tensor(v) for v in (*x.args, *x.kwargs.values())
                    if isinstance(v, torch.Tensor)}
            register_outputs(Example(tuple(fake.get(id(v), v) for v in x.args),
                                     {k: fake.get(id(v), v) for k, v in x.kwargs.items()}).run(model))

    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(push),
             torch.nn.modules.module.register_module_forward_hook(pop)]
    try:  # with autograd on, as torch.export traces: no_grad would send nn.MultiheadAttention
        # down its fused fast path. Fake tensors first: shapes only, no arithmetic; a model whose
        # control flow reads a value runs for real.
        try:
            run(fake=True)
        except Exception:
            run(fake=False)
    except Exception as exc:  # the model rejected the input: one line naming it
        raise UsageError(f"model {label}: rejects input {x.describe()}: "
                         f"{type(exc).__name__}: {_first_line(exc)}") from None
    finally:
        for hook in hooks:
            hook.remove()
    return flops, no_formula, no_formula_macs


def format_output(shape: tuple | None) -> str:
    """A row's output per image: H x W x C for a feature map (as the specs print it), else the
    dimensions after the batch joined with x."""
    if not shape:
        return ""
    if len(shape) == 4:
        return f"{shape[2]}x{shape[3]}x{shape[1]}"
    return "x".join(str(s) for s in shape[1:]) or "scalar"


def _listed(counts: Counter) -> str:
    return ", ".join(f"{name} x {n}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def profile_model_records(model, input_size=None, *, channels: int = 3, depth: int = 1,
                          batch_size: int = 1, label: str | None = None,
                          example: Example | None = None) -> Records:
    """One row per module at ``depth`` (see ``capture``): params, MACs, other ops, FlopCounterMode's
    MACs, the ops it has no formula for and their MACs by incprof's rules, calls, output size, op
    kinds and ops not counted. Totals in ``attrs["totals"]`` (``not_counted``: op -> calls,
    excluded from every total; ``flop_counter_agrees``), run facts in ``attrs["meta"]``."""
    captured = capture(model, input_size, channels=channels, depth=depth, batch_size=batch_size,
                       label=label, example=example)
    rows = [{"row": r.name, "module": r.module, "calls": r.calls, "params": r.params,
             "shared_params": r.shared_params, "macs": r.macs, "other_ops": r.other_ops,
             "flop_counter_macs": r.flop_counter_macs, "no_flop_formula": _listed(r.no_flop_formula),
             "no_flop_formula_macs": r.no_flop_formula_macs,
             "output_size": format_output(r.output_shape), "ops": _listed(r.ops),
             "not_counted": _listed(r.not_counted)} for r in captured.rows]
    missing = sum((r.not_counted for r in captured.rows), Counter())
    totals = {
        "params": sum(r.params for r in captured.rows), "macs": sum(r.macs for r in captured.rows),
        "other_ops": sum(r.other_ops for r in captured.rows),
        "flop_counter_macs": sum(r.flop_counter_macs for r in captured.rows),
        "no_flop_formula_macs": sum(r.no_flop_formula_macs for r in captured.rows),
        "flop_counter_agrees": all(r.flop_counter_agrees for r in captured.rows),
        "not_counted": dict(sorted(missing.items())),
        "shared": [r.name for r in captured.rows if r.calls > 1 or r.shared_params]}
    meta = {"model": captured.model, "class": type(model).__name__, "capture": captured.method,
            "input": list(captured.input_shape), "inputs": captured.inputs,
            "batch_size": captured.input_shape[0] if captured.input_shape else 1, "depth": depth,
            "rules": RULES_TEXT}
    return Records(MODEL_COLUMNS, rows, {"totals": totals, "meta": meta})

