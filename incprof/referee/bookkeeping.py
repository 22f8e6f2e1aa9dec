"""torchinfo's parameter total of a model, as its own bookkeeping reaches it (torchinfo 1.8:
torchinfo.py apply_hooks, add_missing_container_layers, set_children_layers; layer_info.py
leftover_params; model_statistics.py). It differs from the model's parameter count where modules
are shared: a module met again is "recursive" and skipped, but a parent whose child is skipped
still counts that child's parameters among its own leftover ones, so they are counted twice.

The model is walked as torchinfo walks it, from its module tree and the order its modules were
called in (incprof.capture.inventory.ModelOps.called); no torch needed here.
"""

from __future__ import annotations


class _Layer:
    """One of torchinfo's layer entries: a module at a depth under a parent entry."""

    def __init__(self, module, depth: int, parent: _Layer | None) -> None:
        self.module, self.depth, self.parent = module, depth, parent
        self.leaf = not any(True for _ in module.children())
        self.params = 0
        self.recursive = False
        self.children: list[_Layer] = []

    def count(self, seen: set) -> None:
        """Its parameters (each once within the module), and whether its module was met before."""
        self.params = sum(p.numel() for p in self.module.parameters())
        self.recursive = id(self.module) in seen


def torchinfo_params(model, called) -> int:
    """torchinfo's total_params for ``model`` whose modules were called in the order ``called``
    (their first names in ``model.named_modules()``)."""
    # hooks are registered depth first, children in order; a module met again keeps its last place
    place: dict[int, _Layer] = {}
    stack = [(model, 0, None)]
    while stack:
        module, depth, parent = stack.pop()
        place[id(module)] = layer = _Layer(module, depth, parent)
        stack += [(child, depth + 1, layer)
                  for child in reversed(list(module._modules.values())) if child is not None]
    modules = dict(model.named_modules())
    layers: list[_Layer] = []
    seen: set[int] = set()
    for name in called:  # each call: a new entry at its module's registered place
        where = place.get(id(modules[name]))
        if where is None:
            continue
        layer = _Layer(where.module, where.depth, where.parent)
        layer.count(seen)
        layers.append(layer)
        seen.add(id(layer.module))
    _add_containers(layers, seen)
    for i, layer in enumerate(layers):  # children: every deeper entry that follows
        end = next((j for j in range(i + 1, len(layers)) if layers[j].depth <= layer.depth),
                   len(layers))
        layer.children = layers[i + 1:end]
    leftover: dict[int, int] = {}

    def left(layer: _Layer) -> int:
        if id(layer) not in leftover:
            leftover[id(layer)] = layer.params - sum(
                child.params if child.leaf else left(child)
                for child in layer.children if not child.recursive)
        return leftover[id(layer)]
    return sum(layer.params if layer.leaf else max(left(layer), 0)
               for layer in layers if not layer.recursive)


def _add_containers(layers: list[_Layer], seen: set) -> None:
    """Insert, before each entry, the entries of its parents that are not the current ones at
    their depths (containers never called themselves, such as an nn.ModuleList), as torchinfo
    does while it walks the growing list."""
    current: dict[int, _Layer] = {}
    for index, layer in enumerate(layers):  # the list grows under the walk, as torchinfo's
        shift = 0
        above: dict[int, _Layer] = {}
        parent = layer.parent
        while parent is not None and parent.depth > 0:
            above[parent.depth] = parent
            parent = parent.parent
        for depth in range(1, layer.depth):
            if (depth not in current or current[depth].module is not above[depth].module) \
                    and above[depth] is not layers[index + shift - 1]:
                above[depth].count(seen)
                layers.insert(index + shift, above[depth])
                seen.add(id(above[depth].module))
                current[depth] = above[depth]
                shift += 1
        current[layer.depth] = layer
        depth = layer.depth + 1
        while depth in current:
            current.pop(depth)
            depth += 1
