"""The fallback capture when torch.export cannot trace a model (data-dependent control flow): run
it eagerly on the example input under a TorchDispatchMode, recording each aten op with the stack of
modules that called it, as records shaped like exported graph nodes (capture.node_counts reads
them). torch is imported inside the function only."""

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


def dispatch_trace(model, x) -> list:
    """The aten ops the model runs on ``x`` (eagerly, autograd on, control flow as the example
    takes it), each with the stack of modules that called it: the fallback when torch.export
    cannot trace the model."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_map

    names = {id(m): name for name, m in model.named_modules(remove_duplicate=False)}
    stack: list[tuple] = []
    calls: Counter = Counter()
    records: list[_Op] = []

    def push(module, args):
        name = names.get(id(module))
        if name is not None:
            calls[name] += 1
            stack.append((f"{name}@{calls[name]}", (name, type(module).__name__)))
            records.append(_Op(None, (), {}, {"nn_module_stack": dict(stack)}))
            records[-1].op = "call_module"  # a call that may run no op (dropout in eval)

    def pop(module, args, out):
        if names.get(id(module)) is not None and stack:
            stack.pop()

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            wrap = lambda v: _Value(v) if isinstance(v, torch.Tensor) else v  # noqa: E731
            records.append(_Op(func, tree_map(wrap, args), tree_map(wrap, kwargs or {}),
                               {"val": out, "nn_module_stack": dict(stack)}))
            return out

    hooks = [torch.nn.modules.module.register_module_forward_pre_hook(push),
             torch.nn.modules.module.register_module_forward_hook(pop)]
    try:
        with Recorder():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return records
