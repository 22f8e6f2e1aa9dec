"""An eager trace of a model on an example input: each aten op (recorded under a TorchDispatchMode)
with the stack of modules that called it, as records shaped like exported graph nodes
(capture.node_counts reads them). It is the fallback capture when torch.export cannot trace a model
(data-dependent control flow), and the referee's inventory of a model, which also needs each module
call's input and output and the Python-level calls some peers see by patching attributes.
torch is imported inside the function only."""

from __future__ import annotations

from collections import Counter


class _Op:
    """One aten call (or, with op "call_module", one module call) recorded eagerly, shaped like
    an exported graph node."""

    op = "call_function"

    def __init__(self, target, args, kwargs, meta: dict) -> None:
        self.target, self.args, self.kwargs, self.meta = target, args, kwargs, meta


class _Value:
    """A tensor argument, with its value where an exported node keeps it."""

    def __init__(self, tensor) -> None:
        self.meta = {"val": tensor}


def dispatch_trace(model, x, watch: dict | None = None) -> list:
    """The aten ops the model runs on ``x`` (eagerly, autograd on, control flow as the example
    takes it), each with the stack of modules that called it. Each module call is a record with op
    "call_module" (its args as called) whose meta also holds the module, its first input (``in``),
    its output (``val``) and the span of records it ran (``first``, ``last``). ``watch`` maps a
    name to an (object, attribute) pair, such as ``{"F.relu": (torch.nn.functional, "relu")}``:
    while the model runs, each call through that attribute is a record with op "call_python"
    (target: the name) and the same meta, with its keyword arguments (``kwargs``)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_map

    names = {id(m): name for name, m in model.named_modules(remove_duplicate=False)}
    stack: list[tuple] = []
    calls: Counter = Counter()
    records: list[_Op] = []
    opened: list[_Op] = []  # the module and watched calls still running, innermost last

    def open_record(op: str, target, args, meta: dict) -> None:
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        records.append(_Op(target, args, {}, {"nn_module_stack": dict(stack), "in": first,
                                              "first": len(records) + 1, **meta}))
        records[-1].op = op
        opened.append(records[-1])

    def close_record(out) -> None:
        record = opened.pop()
        record.meta.update(val=out, last=len(records))

    def push(module, args):
        name = names.get(id(module))
        if name is not None:
            calls[name] += 1
            stack.append((f"{name}@{calls[name]}", (name, type(module).__name__)))
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

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            wrap = lambda v: _Value(v) if isinstance(v, torch.Tensor) else v  # noqa: E731
            records.append(_Op(func, tree_map(wrap, args), tree_map(wrap, kwargs or {}),
                               {"val": out, "nn_module_stack": dict(stack)}))
            return out

    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(push),
             torch.nn.modules.module.register_module_forward_hook(pop)]
    originals = [(owner, attr, getattr(owner, attr)) for owner, attr in (watch or {}).values()]
    try:
        for name, (owner, attr, function) in zip(watch or {}, originals):
            setattr(owner, attr, watched(name, function))
        with Recorder():
            x.run(model) if hasattr(x, "run") else model(x)  # an inputs.Example or a tensor
    finally:
        for owner, attr, function in originals:
            setattr(owner, attr, function)
        for hook in hooks:
            hook.remove()
    return records
