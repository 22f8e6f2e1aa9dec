"""A model's module tree as it runs: every module in definition order, with the params, MACs and
other ops of everything under it (its subtotal), how many times it ran, and marks for a module
reached in several places (shared), run more than once (repeated) or never run on the example.

A module runs where it is called: one called by a module that does not own it (a shared one,
registered elsewhere) is a node under its caller, named ``[its.name]``, or by the name under which
the caller owns it (an alias). Each op counts in the node of the innermost module running it, each
parameter once (where its module first runs, else where it is defined), so every subtotal is the
sum of what is under it, at every depth. The ops come from the table's own pass
(capture.passes.record_ops: on meta tensors, shapes without arithmetic; a model whose control flow
reads a value runs for real), counted by the same rules (capture.rows.node_counts); the table's
profile at the deepest depth is made from the same records, for its FlopCounterMode check.
torch is imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records import Records
from .inputs import Example
from .passes import inside_whole, record_ops
from .rows import node_counts, profile_model_records

TREE_COLUMNS = ["module", "depth", "class", "calls", "params", "macs", "other_ops", "mark"]


@dataclass
class _Node:
    """One place in the tree: a module where it is defined, or where it is called from outside."""

    path: tuple  # segments; a call from outside its owner is one segment, "[its.first.name]"
    module: object
    defined: bool  # the module's own place (its first name), not a call from outside
    first_call: int = -1  # the trace index of its first call here (-1: it never ran here)
    calls: int = 0
    active: bool = False  # it, or a module under it, ran here
    params: int = 0
    macs: int = 0
    other_ops: int = 0
    params_at: str = ""  # where its tied params are counted (another module's place)
    tied_params: int = 0
    children: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return ".".join(self.path)


class _Tree:
    """The model's places: each module where it is defined, then, as the trace is read, where it
    is called from outside its owner."""

    def __init__(self, model) -> None:
        self.model = model
        self.names: dict[int, list[str]] = {}  # module -> every name, the first its own place
        for name, module in model.named_modules(remove_duplicate=False):
            self.names.setdefault(id(module), []).append(name)
        self.nodes: dict[tuple, _Node] = {}
        self.places: dict[int, list[_Node]] = {}  # module -> its nodes
        for name, module in model.named_modules():
            self._node(tuple(name.split(".")) if name else (), module, defined=True)
        self.by_call: dict[str, _Node] = {}  # dispatch_trace's call key -> its node

    def _node(self, path: tuple, module, defined: bool = False) -> _Node:
        if path not in self.nodes:
            self.nodes[path] = _Node(path, module, defined)
            self.places.setdefault(id(module), []).append(self.nodes[path])
            if path:
                self.nodes[path[:-1]].children.append(self.nodes[path])
        return self.nodes[path]

    def place(self, stack: dict) -> _Node | None:
        """The node of the innermost module call in ``stack`` (dispatch_trace's nn_module_stack:
        call key -> (name, class)): under its caller's node, by the name under which the
        caller's module owns it, else as ``[its first name]``."""
        caller = None
        for key, (name, _) in stack.items():
            if key not in self.by_call:
                self.by_call[key] = self.nodes[()] if caller is None else \
                    self._called(caller, self.model.get_submodule(name))
            caller = self.by_call[key]
        return caller

    def _called(self, caller: _Node, module) -> _Node:
        """The node of ``module`` called by ``caller``: under the caller by the name its module
        owns it by (the modules on the way, such as a ModuleList, get their nodes too), else as
        ``[its first name]``."""
        for name in self.names[id(module)]:
            for owner in self.names[id(caller.module)]:
                if not owner or name.startswith(owner + "."):
                    node, inner = caller, caller.module
                    for segment in name[len(owner) + 1 if owner else 0:].split("."):
                        inner = inner.get_submodule(segment)
                        node = self._node(node.path + (segment,), inner)
                    return node
        return self._node(caller.path + (f"[{self.names[id(module)][0]}]",), module)

    def count_params(self) -> None:
        """Each parameter once: at its module's first place in call order, else where the module
        is defined (a node's own params; subtotals are summed by ``rows``)."""
        seen: dict[int, _Node] = {}
        for _, module in self.model.named_modules():
            places = self.places[id(module)]
            ran = [n for n in places if n.calls]
            here = min(ran, key=lambda n: n.first_call) if ran else places[0]
            for param in module.parameters(recurse=False):
                if id(param) in seen:
                    here.params_at = here.params_at or seen[id(param)].name or "(model)"
                    here.tied_params += param.numel()
                else:
                    seen[id(param)] = here
                    here.params += param.numel()

    def activate(self, node: _Node) -> bool:
        """Mark ``node`` and every node under it active where it, or a module under it, ran."""
        node.active = node.calls > 0
        for child in node.children:
            node.active = self.activate(child) or node.active
        return node.active

    def rows(self, node: _Node, max_depth: int | None, out: list) -> dict:
        """Append ``node``'s row (down to ``max_depth``), then its children's (those defined
        under it, then those called from outside, in call order); return its subtotal row."""
        row = {"module": node.name, "depth": len(node.path), "class": type(node.module).__name__,
               "calls": node.calls, "params": node.params, "macs": node.macs,
               "other_ops": node.other_ops}
        if max_depth is None or row["depth"] <= max_depth:
            out.append(row)
        children = [c for c in node.children if c.defined] + \
            sorted((c for c in node.children if not c.defined), key=lambda c: c.first_call)
        for child in children:
            below = self.rows(child, max_depth, out)
            for column in ("params", "macs", "other_ops"):
                row[column] += below[column]
        row["mark"] = self._mark(node)
        return row

    def _mark(self, node: _Node) -> str:
        """Short marks: shared (the module has other places or names: see ``shared``),
        repeated xN, never called (nothing under it ran, here or in its other places), tied
        params (some of its params are counted at another module's place)."""
        places = self.places[id(node.module)]
        shared = len(places) > 1 or len(self.names[id(node.module)]) > 1
        marks = ["shared"] * shared + [f"repeated x{node.calls}"] * (node.calls > 1)
        if not any(n.active for n in places):
            marks.append("never called")
        return ", ".join(marks + ["tied params"] * bool(node.params_at))

    def shared(self) -> list[dict]:
        """Each shared module at the top of its subtree (its parent is not shared): its first
        name, class, every name, where it ran, its params and where they are counted; then
        each place whose params are counted at another module's place."""
        out = []
        for name, module in self.model.named_modules():
            places, names = self.places[id(module)], self.names[id(module)]
            parent = self.nodes[tuple(name.split("."))[:-1]].module if name else None
            if (len(places) > 1 or len(names) > 1) and parent is not None and \
                    len(self.places[id(parent)]) == 1 and len(self.names[id(parent)]) == 1:
                ran = [n for n in places if n.active]
                counted = min(ran, key=lambda n: n.first_call) if ran else places[0]
                out.append({"module": name, "class": type(module).__name__, "names": names,
                            "runs_as": [n.name for n in ran], "calls": sum(n.calls for n in ran),
                            "params": sum(p.numel() for p in module.parameters()),
                            "params_at": counted.name})
        tied = [{"module": n.name or "(model)", "tied_params": n.tied_params,
                 "params_at": n.params_at} for n in self.nodes.values() if n.params_at]
        return out + tied


def tree_records(model, example: Example, *, max_depth: int | None = None,
                 label: str | None = None) -> Records:
    """One row per module place down to ``max_depth`` (None: every depth), the model itself first
    (depth 0, the totals); ``attrs["profile"]`` is the table's profile at the deepest depth
    (profile_model_records), ``attrs["depths"]`` each depth's MACs summed over its modules,
    ``attrs["shared"]`` the shared modules and tied params (_Tree.shared), ``attrs["trace"]``
    how the pass ran (record_ops)."""
    model = model.eval()
    deepest = max((name.count(".") + 1 for name, _ in model.named_modules() if name), default=1)
    trace, traced_on = record_ops(model, example, label or type(model).__name__)
    profile = profile_model_records(model, depth=deepest, label=label, example=example,
                                    recorded=(trace, traced_on))
    tree = _Tree(model)
    inner = inside_whole(trace)  # counted whole where the model called them
    for index, record in enumerate(trace):
        node = tree.place(record.meta.get("nn_module_stack") or {})
        if node is None or index in inner:
            continue
        if record.op == "call_module":
            node.calls += 1
            node.first_call = index if node.first_call < 0 else node.first_call
        else:
            macs, other, _ = node_counts(record)
            node.macs += macs
            node.other_ops += other
    tree.count_params()
    tree.activate(tree.nodes[()])
    out: list[dict] = []
    tree.rows(tree.nodes[()], max_depth, out)
    out[0]["module"] = f"({type(model).__name__})"
    depths: dict[int, int] = {}
    for row in out:
        depths[row["depth"]] = depths.get(row["depth"], 0) + row["macs"]
    return Records(TREE_COLUMNS, out, {"profile": profile, "depths": depths,
                                       "shared": tree.shared(), "trace": traced_on})
