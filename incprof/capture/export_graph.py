"""The data flow of a torch.export graph, as incprof.capture.export reads it back into a spec: the nodes
computed from the model's input, each one's data inputs and immediate dominator (the value every
path to it starts from), and the module at the export's depth that ran it. torch is not imported
here: the graph arrives built.
"""

from __future__ import annotations

from ..errors import UsageError
from .rows import op_name


class Graph:
    """The data nodes of an exported graph (those computed from the input), their data inputs and
    immediate dominators, and the row each belongs to."""

    def __init__(self, program, depth: int, label: str) -> None:
        self.label = label
        user = {s.arg.name for s in program.graph_signature.input_specs
                if s.kind.name == "USER_INPUT"}
        self.inputs: dict = {}
        self.order: dict = {}
        self.idom: dict = {}
        self.level: dict = {}
        self.key: dict = {}
        self.output = None
        weights = {s.arg.name for s in program.graph_signature.input_specs
                   if s.kind.name == "PARAMETER"}
        first_user: dict = {}
        for i, node in enumerate(program.graph.nodes):
            for arg in flat_nodes(list(node.args)) if node.op == "call_function" else ():
                if arg.name in weights and first_user.setdefault(arg.name, node) is not node:
                    raise self.fail(node, f"it uses the weights {arg.name} again (a module "
                                    f"called twice, first by {first_user[arg.name].name}); a "
                                    "spec layer owns its weights")
            if node.op == "placeholder" and node.name in user:
                self.start = node
                self.idom[node], self.level[node], self.order[node] = None, 0, i
            elif node.op == "call_function":
                preds = [a for a in flat_nodes(node.args) + flat_nodes(list(node.kwargs.values()))
                         if a in self.idom]
                if not preds:
                    continue
                self.inputs[node] = list(dict.fromkeys(preds))
                self.order[node] = i
                self.idom[node] = self._common(self.inputs[node]) if len(
                    self.inputs[node]) > 1 else self.inputs[node][0]
                self.level[node] = self.level[self.idom[node]] + 1
                stack = list((node.meta.get("nn_module_stack") or {}).values())
                path = stack[-1][0] if stack else ""
                self.key[node] = ".".join(path.split(".")[:depth])
            elif node.op == "output":
                outs = [a for a in flat_nodes(node.args) if a in self.idom]
                if len(outs) != 1:
                    raise self.fail(node, "the model must return exactly one tensor computed "
                                    f"from its input, it returns {len(outs)}")
                self.output = outs[0]
        self.used: set = set()

    def _common(self, nodes):
        """The nearest node that dominates every one of ``nodes`` (in the dominator tree)."""
        nodes = list(nodes)
        while len(set(nodes)) > 1:
            deepest = max(range(len(nodes)), key=lambda i: self.level[nodes[i]])
            nodes[deepest] = self.idom[nodes[deepest]]
        return nodes[0]

    def fail(self, node, why: str) -> UsageError:
        """The error naming ``node`` and why it has no spec layer."""
        stack = list((getattr(node, "meta", {}).get("nn_module_stack") or {}).values())
        where = f" in {stack[-1][0]}" if stack and stack[-1][0] else ""
        return UsageError(f"model {self.label}: cannot be written as a spec: node {node.name} "
                          f"({op_name(node.target) if node.op == 'call_function' else node.op}"
                          f"{where}): {why}")

    def chain(self, start, end) -> list:
        """The (kind, node, fork) steps from ``start`` to ``end``, in execution order."""
        steps, node = [], end
        while node is not start:
            if node is self.start or node not in self.inputs:
                raise self.fail(end, "it does not follow from the value its block starts from")
            preds = self.inputs[node]
            fork = preds[0] if len(preds) == 1 else self.idom[node]
            steps.append((node, fork, len(preds) > 1))
            node = fork
        steps.reverse()
        return steps


def flat_nodes(args) -> list:
    """The graph nodes among ``args``, nested lists and tuples flattened, in order."""
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out += flat_nodes(a)
        elif hasattr(a, "op"):
            out.append(a)
    return out
