"""The exported graph's data flow (incprof.capture.export_graph): immediate dominators, the module each
node ran in, and the one output."""

import pytest

torch = pytest.importorskip("torch")

from incprof.capture.export import export_program
from incprof.errors import UsageError
from incprof.capture.export_graph import Graph


class Block(torch.nn.Module):
    """x -> stem -> (left, right) -> cat: the cat's two paths start at the stem's output."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 4, 1)
        self.left = torch.nn.Conv2d(4, 2, 1)
        self.right = torch.nn.Sequential(torch.nn.Conv2d(4, 2, 1), torch.nn.ReLU())

    def forward(self, x):
        y = self.stem(x)
        return torch.cat([self.left(y), self.right(y)], 1)


def test_the_concat_is_dominated_by_the_value_both_branches_start_from():
    graph = Graph(export_program(Block().eval(), torch.zeros(1, 3, 4, 4), "block"), 1, "block")
    by_module = {}
    for node, key in graph.key.items():
        by_module.setdefault(key, []).append(node.name)
    (cat,) = [n for n in graph.inputs if n.name.startswith("cat")]
    (stem,) = [n for n in graph.inputs if graph.key[n] == "stem"]
    assert graph.idom[cat] is stem and graph.output is cat
    assert len(graph.inputs[cat]) == 2  # the two branch ends
    assert sorted(by_module) == ["", "left", "right", "stem"]  # the cat ran in no module
    # a branch is the chain from the dominator to its end, in execution order
    assert [n.name for n, _, _ in graph.chain(stem, graph.inputs[cat][1])] == by_module["right"]


def test_a_module_called_twice_is_refused_naming_the_node():
    class Twice(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 1)

        def forward(self, x):
            return self.conv(self.conv(x))

    with pytest.raises(UsageError, match=r"model twice: .*node conv2d_1 .*uses the weights "
                                         r"p_conv_weight again .*first by conv2d\)"):
        Graph(export_program(Twice().eval(), torch.zeros(1, 3, 4, 4), "twice"), 1, "twice")
