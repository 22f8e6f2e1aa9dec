"""A model's module tree: every module once, in definition order, with the params, MACs and other
ops of everything under it (its subtotal), how many times it ran, and marks for a module reached
under several names (shared), run more than once (repeated) or never run on the example.

The counts come from the model's rows at its deepest level (capture.rows: each module's own ops
are its row), so every subtotal adds up from the same rows as the table; calls are counted by
forward hooks on one more run of the example. torch is imported inside the functions only.
"""

from __future__ import annotations

from collections import Counter

from ..records import Records
from .inputs import Example
from .rows import profile_model_records

TREE_COLUMNS = ["module", "depth", "class", "calls", "params", "macs", "other_ops", "mark"]


def module_calls(model, example: Example) -> Counter:
    """How many times each module (by id) runs on ``example``."""
    import torch

    calls: Counter = Counter()

    def count(module, args):
        calls[id(module)] += 1

    hook = torch.nn.modules.module.register_module_forward_pre_hook(count)
    try:
        with torch.no_grad():
            example.run(model)
    finally:
        hook.remove()
    return calls


def _under(key: str, path: str) -> bool:
    return not path or key == path or key.startswith(path + ".")


def tree_records(model, example: Example, *, max_depth: int | None = None,
                 label: str | None = None) -> Records:
    """One row per module down to ``max_depth`` (None: every depth), the model itself first (depth
    0, the totals); ``attrs["profile"]`` is the deepest rows' profile (profile_model_records), and
    ``attrs["depths"]`` each depth's MACs summed over its modules."""
    model = model.eval()
    names = list(model.named_modules(remove_duplicate=False))
    deepest = max((name.count(".") + 1 for name, _ in names if name), default=1)
    profile = profile_model_records(model, depth=deepest, label=label, example=example)
    root = f"({type(model).__name__})"
    aliases: dict[int, list[str]] = {}
    for name, module in names:
        aliases.setdefault(id(module), []).append(name)
    # a row found under a module's other name counts under its first name, where the tree shows it
    rows = [dict(r, key="" if r["row"] == root else
                 aliases[id(model.get_submodule(r["row"]))][0]) for r in profile.rows]
    calls = module_calls(model, example)
    out = []
    for name, module in model.named_modules():  # each module once, under its first name
        depth = name.count(".") + 1 if name else 0
        if max_depth is not None and depth > max_depth:
            continue
        under = [r for r in rows if _under(r["key"], name)]
        marks = []
        others = aliases[id(module)][1:]
        if others:
            marks.append("shared: also " + ", ".join(others))
        if calls[id(module)] > 1:
            marks.append(f"repeated x{calls[id(module)]}")
        if calls[id(module)] == 0:
            marks.append("never called")
        out.append({"module": name or root, "depth": depth, "class": type(module).__name__,
                    "calls": calls[id(module)], "params": sum(r["params"] for r in under),
                    "macs": sum(r["macs"] for r in under),
                    "other_ops": sum(r["other_ops"] for r in under), "mark": "; ".join(marks)})
    depths = {d: sum(r["macs"] for r in out if r["depth"] == d)
              for d in sorted({r["depth"] for r in out})}
    return Records(TREE_COLUMNS, out, {"profile": profile, "depths": depths})
