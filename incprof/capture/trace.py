"""An eager trace of a model on an example input: each aten op (recorded under a TorchDispatchMode)
with the stack of modules that called it, as records shaped like graph nodes (capture.rows's
node_counts reads them). It is the one recorder of a model's ops: incprof.capture.rows counts a
model's rows from it (on meta or fake tensors, under torch's FlopCounterMode, whose FLOPs each
op record keeps), and the referee's inventory (incprof.capture.inventory) reads it too, with each module
call's input and output and the Python-level calls some peers see by patching attributes.
torch is imported inside the function only.
"""

from __future__ import annotations

from contextlib import nullcontext
from itertools import count


class _Op:
    """One aten call (or, with op "call_module", one module call) recorded eagerly, shaped like
    an exported graph node."""

    op = "call_function"

    def __init__(self, target, args, kwargs, meta: dict) -> None:
        self.target, self.args, self.kwargs, self.meta = target, args, kwargs, meta


class _Value:
    """A tensor argument, with its value where a graph node keeps it."""

    def __init__(self, tensor) -> None:
        self.meta = {"val": tensor}


def dispatch_trace(model, x, watch: dict | None = None, *, flops: bool = False) -> list:
    """The aten ops the model runs on ``x`` (eagerly, autograd on, control flow as the example
    takes it; on meta or fake tensors where ``x`` holds them), each with
    the stack of module calls it ran in (``nn_module_stack``: call id -> (path, class name), the
    path as the module is called: a child's path under its caller's, else its registered name).
    Each module call is a record with op "call_module" (its args as called) whose meta also holds
    the module, its first input (``in``), its output (``val``) and the span of records
    it ran (``first``, ``last``). ``watch`` maps a name to an (object, attribute) pair, such as
    ``{"F.relu": (torch.nn.functional, "relu")}``: while the model runs, each call through that
    attribute is a record with op "call_python" (target: the name) and the same meta, with its
    keyword arguments (``kwargs``). With ``flops``, the ops are recorded as torch's
    FlopCounterMode meets them (after its decompositions) and each op record's meta holds its
    FLOPs by FlopCounterMode's formula (``flops``: None where it has none)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_map

    names: dict[int, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names.setdefault(id(module), name)
    children = {id(m): {id(c): n for n, c in m.named_children()} for m in model.modules()}
    stack: list[tuple] = []  # (call id, (path, class name), module id), outermost first
    ids = count(1)
    records: list[_Op] = []
    opened: list[_Op] = []  # the module and watched calls still running, innermost last

    def modules() -> dict:
        return {call: where for call, where, _ in stack}

    def open_record(op: str, target, args, meta: dict) -> None:
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        records.append(_Op(target, args, {}, {"nn_module_stack": modules(), "in": first,
                                              "first": len(records) + 1, **meta}))
        records[-1].op = op
        opened.append(records[-1])

    def close_record(out) -> None:
        record = opened.pop()
        record.meta.update(val=out, last=len(records))

    def push(module, args):
        name = names.get(id(module))
        if name is not None:
            child = children.get(stack[-1][2], {}).get(id(module)) if stack else None
            path = name if child is None else f"{stack[-1][1][0]}.{child}".lstrip(".")
            stack.append((next(ids), (path, type(module).__name__), id(module)))
            open_record("call_module", None, args, {"module": module})  # may run no op

    def pop(module, args, out):
        if names.get(id(module)) is not None and stack:
            stack.pop()
            close_record(out)

    def watched(name: str, function):
        def call(*args, **kwargs):
            open_record("call_python", name, args, {"kwargs": kwargs})
            out = function(*args, **kwargs)
            close_record(out)
            return out
        return call

    def record(target, args, kwargs, out, **meta) -> None:
        wrap = lambda v: _Value(v) if isinstance(v, torch.Tensor) else v  # noqa: E731
        records.append(_Op(target, tree_map(wrap, args), tree_map(wrap, kwargs or {}),
                           {"val": out, "nn_module_stack": modules(), **meta}))

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            record(func, args, kwargs, out)
            return out

    mode = Recorder()
    if flops:
        from torch.utils.flop_counter import FlopCounterMode

        class Counting(FlopCounterMode):
            def __init__(self) -> None:
                super().__init__(display=False)
                self.mod_tracker = nullcontext()  # the module stack is the hooks' above

            def _count_flops(self, func_packet, out, args, kwargs):
                if func_packet is torch.ops.prim.device:  # a query, as size and stride are
                    return out
                formula = self.flop_registry.get(func_packet)
                record(func_packet, args, kwargs, out,
                       flops=None if formula is None else formula(*args, **kwargs, out_val=out))
                return out

        mode = Counting()
    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(push),
             torch.nn.modules.module.register_module_forward_hook(pop)]
    originals = [(owner, attr, getattr(owner, attr)) for owner, attr in (watch or {}).values()]
    try:
        for name, (owner, attr, function) in zip(watch or {}, originals):
            setattr(owner, attr, watched(name, function))
        with mode:
            x.run(model) if hasattr(x, "run") else model(x)  # an inputs.Example or a tensor
    finally:
        for owner, attr, function in originals:
            setattr(owner, attr, function)
        for hook in hooks:
            hook.remove()
    return records

