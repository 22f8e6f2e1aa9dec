"""An nn.Module -> a spec (the tables/*.yaml schema), from its torch.export graph.

The graph's data flow is read back into the spec's structure: a chain of ops is a layer sequence
(conv with the BatchNorm and ReLU right after it, a depthwise conv followed by a 1x1 conv as a
separable conv, pools, adaptive pools, linear, dropout, softmax, ReLU); a ``cat`` on channels is
``branches``, each branch running from the concat's immediate dominator (the value every branch
starts from) to the concat; an ``add`` is a ``residual`` block (a scalar ``mul`` ending the body is
its scale, a ReLU after the sum its ``relu``). Layers are grouped into rows by the module at
``depth`` that ran them, and rows are named after those modules; consecutive modules whose layers
fuse (conv1, bn1, relu) make one row named ``conv1+bn1+relu``. The first op that has no spec
layer stops the export with a UsageError naming the node and why.

torch is imported inside the functions only.
"""

from __future__ import annotations

from ..count.aten import Free, kind
from ..errors import UsageError
from ..spec.shapes import numel
from .export_graph import Graph, flat_nodes
from .rows import example_shape, export_program, op_name

# The ops that give their input's values in the same order (a reshape, an alias or a copy): a
# flatten before a linear layer, or nothing.
FREE = Free("same")


def _arg(node, index: int, name: str, default):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def _pair(value):
    if isinstance(value, (list, tuple)):
        value = list(value)
        return value[0] if len(value) == 1 or value[0] == value[1] else value
    return value


def _shape(node):
    return tuple(node.meta["val"].shape)


class _Writer:
    """Turns chains of graph nodes into spec layers (plain dicts, as YAML writes them)."""

    def __init__(self, graph: Graph) -> None:
        self.g = graph

    def sequence(self, start, end) -> list[tuple[dict, list]]:
        """(layer, row keys of its nodes) for each layer from ``start`` to ``end``."""
        items: list[tuple[dict, list]] = []
        for node, fork, combine in self.g.chain(start, end):
            self.g.used.add(node)
            if combine:
                items.append(self.combine(node, fork))
            else:
                self.single(node, items)
        return items

    def combine(self, node, fork) -> tuple[dict, list]:
        g, short = self.g, op_name(node.target).split(".")[-1]
        preds = g.inputs[node]
        if short in ("cat", "concat"):
            dim = _arg(node, 1, "dim", 0)
            if dim not in (1, 1 - len(_shape(node))) or len(_shape(node)) != 4:
                raise g.fail(node, f"concatenates on dim {dim}; the spec's branches concatenate "
                             "feature maps on channels")
            tensors = [a for a in flat_nodes(node.args[:1])]
            if any(t is fork for t in tensors) or len(tensors) != len(set(tensors)):
                raise g.fail(node, "a branch passes its input through unchanged, which the "
                             "spec's branches cannot express")
            parts = [self.sequence(fork, t) for t in tensors]
            keys = [k for part in parts for _, ks in part for k in ks] + [g.key[node]]
            return {"branches": [[layer for layer, _ in part] for part in parts]}, keys
        if short in ("add", "add_") and len(preds) == 2 and _arg(node, 2, "alpha", 1) == 1:
            a, b = node.args[0], node.args[1]
            if a is fork and b is fork:
                raise g.fail(node, "adds a value to itself")
            body_end, short_end = (b, a) if a is fork else (a, b) if b is fork else \
                self._body_first(fork, a, b)
            body = self.sequence(fork, body_end)
            scale = None
            if body and "_scale" in body[-1][0]:
                scale = body.pop()[0]["_scale"]
            shortcut = [] if short_end is fork else self.sequence(fork, short_end)
            if not body:
                raise g.fail(node, "the residual body has no layers")
            residual = {"body": [layer for layer, _ in body]}
            if shortcut:
                residual["shortcut"] = [layer for layer, _ in shortcut]
            if scale is not None:
                residual["scale"] = scale
            residual["relu"] = False
            keys = [k for _, ks in body + shortcut for k in ks] + [g.key[node]]
            return {"residual": residual}, keys
        raise g.fail(node, "combines two tensors in a way the spec has no layer for (only a "
                     "concat on channels and a residual add)")

    def _body_first(self, fork, a, b):
        """(body end, shortcut end): the operand scaled by a scalar, else the one run first."""
        scaled = [v for v in (a, b) if op_name(v.target).endswith("mul")
                  and not hasattr(v.args[1], "op")]
        if len(scaled) == 1:
            return scaled[0], b if scaled[0] is a else a

        def first(end):
            steps = self.g.chain(fork, end)
            return self.g.order[steps[0][0]]
        return tuple(sorted((a, b), key=first))

    def single(self, node, items: list) -> None:
        g, short = self.g, op_name(node.target).split(".")[-1]
        key = g.key[node]
        last = items[-1][0] if items else {}
        conv = last.get("conv") or last.get("separable")
        if short in ("conv2d", "convolution"):
            if short == "convolution" and _arg(node, 6, "transposed", False):
                raise g.fail(node, "a transposed conv has no spec layer")
            weight = _shape(node.args[1])
            stride = _pair(_arg(node, 3, "stride", 1))
            padding = _arg(node, 4, "padding", 0)
            padding = padding if isinstance(padding, str) else _pair(padding)
            dilation = _pair(_arg(node, 5, "dilation", 1))
            groups = _arg(node, 8 if short == "convolution" else 6, "groups", 1)
            if dilation != 1:
                raise g.fail(node, f"dilation {dilation}: the spec's convs are not dilated")
            cin = _shape(node.args[0])[1]
            bias = _arg(node, 2, "bias", None) is not None
            kernel = _pair(list(weight[2:]))
            if (weight[2:] == (1, 1) and groups == 1 and stride == 1 and padding in (0, "valid")
                    and "conv" in last and last["conv"]["groups"] > 1
                    and last["conv"]["groups"] == last["conv"].get("_cin")
                    and not last["conv"]["bias"] and last["conv"]["bn_eps"] is None
                    and not last["conv"]["relu"]):
                depthwise = last["conv"]
                items[-1] = ({"separable": {
                    "out": weight[0], "kernel": depthwise["kernel"], "stride": depthwise["stride"],
                    "padding": depthwise["padding"],
                    "multiplier": depthwise["out"] // depthwise["groups"], "bias": bias,
                    "bn_eps": None, "relu": False}}, items[-1][1] + [key])
                return
            items.append(({"conv": {"out": weight[0], "kernel": kernel, "stride": stride,
                                    "padding": padding, "groups": groups, "bias": bias,
                                    "bn_eps": None, "relu": False, "_cin": cin}}, [key]))
            return
        if kind(short) == "batchnorm":
            eps = node.args[-1] if short != "batch_norm" else _arg(node, 7, "eps", 1e-5)
            if conv is None or conv["bn_eps"] is not None or conv["relu"]:
                raise g.fail(node, "a BatchNorm that does not follow a conv directly has no "
                             "spec layer")
            if _arg(node, 1, "weight", None) is None or _arg(node, 2, "bias", None) is None:
                raise g.fail(node, "a BatchNorm without scale and shift has no spec layer")
            conv["bn_eps"] = eps
        elif short in ("relu", "relu_"):
            target = conv or last.get("linear") or last.get("residual")
            if target is not None and not target["relu"]:
                target["relu"] = True
            else:
                items.append(({"relu": {}}, [key]))
                return
        elif short in ("max_pool2d", "avg_pool2d"):
            kernel = _pair(node.args[1])
            stride = _pair(_arg(node, 2, "stride", None) or node.args[1])
            pool = {"kernel": kernel, "stride": stride,
                    "padding": _pair(_arg(node, 3, "padding", 0)),
                    "ceil_mode": bool(_arg(node, 5 if short == "max_pool2d" else 4,
                                           "ceil_mode", False))}
            if short == "max_pool2d" and _pair(_arg(node, 4, "dilation", 1)) != 1:
                raise g.fail(node, "a dilated max pool has no spec layer")
            if short == "avg_pool2d":
                if _arg(node, 6, "divisor_override", None) is not None:
                    raise g.fail(node, "an average pool with a divisor override has no spec layer")
                pool["count_include_pad"] = bool(_arg(node, 5, "count_include_pad", True))
            items.append(({"maxpool" if short == "max_pool2d" else "avgpool": pool}, [key]))
            return
        elif short in ("adaptive_avg_pool2d", "_adaptive_avg_pool2d"):
            size = _pair(node.args[1])
            items.append(({"global_avgpool": {}} if size == 1 else
                          {"adaptive_avgpool": {"size": size}}, [key]))
            return
        elif short == "mean":
            dims = sorted(d % 4 for d in _arg(node, 1, "dim", []))
            if len(_shape(node.args[0])) != 4 or dims != [2, 3]:
                raise g.fail(node, "a mean over other than the spatial dims has no spec layer")
            items.append(({"global_avgpool": {}}, [key]))
            return
        elif short == "linear":
            if len(_shape(node.args[0])) != 2:
                raise g.fail(node, "a linear layer on a tensor that is not flat (N, features) "
                             "has no spec layer")
            weight = _shape(node.args[1])
            items.append(({"linear": {"out": weight[0],
                                      "bias": _arg(node, 2, "bias", None) is not None,
                                      "relu": False}}, [key]))
            return
        elif short in ("dropout", "dropout_", "feature_dropout"):
            items.append(({"dropout": {"p": float(_arg(node, 1, "p", 0.5))}}, [key]))
            return
        elif short in ("softmax", "_softmax"):
            if _arg(node, 1, "dim", None) not in (1, -1) or len(_shape(node)) != 2:
                raise g.fail(node, "a softmax over other than the classes has no spec layer")
            items.append(({"softmax": {}}, [key]))
            return
        elif short in FREE:
            shape, before = _shape(node), _shape(node.args[0])
            if shape != before and not (len(shape) == 2 and shape[1] == numel(before[1:])):
                raise g.fail(node, f"reshapes {before} to {shape}; the spec only flattens "
                             "before a linear layer")
            return
        elif short == "mul" and not hasattr(node.args[1], "op") and isinstance(
                node.args[1], (int, float)):
            items.append(({"_scale": float(node.args[1])}, [key]))
            return
        else:
            raise g.fail(node, "this op has no spec layer")
        items[-1] = (items[-1][0], items[-1][1] + [key])


def _clean(layer):
    """Drop the writer's private keys and the values that are the parser's defaults."""
    if isinstance(layer, list):
        return [_clean(x) for x in layer]
    if not isinstance(layer, dict):
        return layer
    out = {}
    conv = "kernel" in layer and "out" in layer
    for k, v in layer.items():
        if k.startswith("_") or (k == "groups" and v == 1) or (conv and k == "stride" and v == 1) or \
                (k == "padding" and v == 0) or (k == "ceil_mode" and v is False) or \
                (k == "count_include_pad" and v is True) or (k == "multiplier" and v == 1) or \
                (k == "bn_eps" and v is None) or (k == "bias" and v is True):
            continue
        out[k] = _clean(v)
    return out


def export_spec(model, input_size=None, *, channels: int = 3, depth: int = 1,
                label: str | None = None) -> dict:
    """The spec of ``model`` as plain data (write it with ``to_yaml``), or a UsageError naming
    the first node that cannot be expressed and why."""
    import torch

    label = label or type(model).__name__
    model = model.eval()
    shape = example_shape(model, input_size, channels)
    graph = Graph(export_program(model, torch.zeros(shape), label), depth, label)
    writer = _Writer(graph)
    items = writer.sequence(graph.start, graph.output)
    for node in graph.inputs:
        short = op_name(node.target).split(".")[-1]
        if node not in graph.used and short not in FREE:
            raise graph.fail(node, "its value is used outside the branch or block it belongs to")
    root = f"({type(model).__name__})"
    rows: list[dict] = []
    types = {name: type(m).__name__ for name, m in model.named_modules()}
    for layer, keys in items:
        names = list(dict.fromkeys(k or root for k in keys))
        if "_scale" in layer:
            raise UsageError(f"model {label}: cannot be written as a spec: a multiplication by "
                             f"{layer['_scale']} in {names[0]} that does not end a residual body")
        if rows and (rows[-1]["_keys"][-1] == names[0]):
            rows[-1]["layers"].append(layer)
            rows[-1]["_keys"] += [n for n in names if n not in rows[-1]["_keys"]]
        else:
            rows.append({"_keys": names, "layers": [layer]})
    spec_rows = []
    for row in rows:
        name = "+".join(row["_keys"])
        kinds = [types.get(k, type(model).__name__) if not k.startswith("(") else
                 type(model).__name__ for k in row["_keys"]]
        spec_rows.append({"name": name, "type": " + ".join(dict.fromkeys(kinds)),
                          "layers": _clean(row["layers"])})
    return {"name": label, "title": f"{label}, exported by incprof",
            "input": [shape[1], shape[2], shape[3]], "rows": spec_rows}


def to_yaml(data: dict) -> str:
    """A spec as YAML text that incprof's parser reads back (layers in flow style)."""
    import yaml

    head = {k: v for k, v in data.items() if k != "rows"}
    text = yaml.safe_dump(head, sort_keys=False, default_flow_style=None, width=100)
    text += "rows:\n"
    for row in data["rows"]:
        text += f"  - name: {_scalar(row['name'])}\n    type: {_scalar(row['type'])}\n    layers:\n"
        for layer in row["layers"]:
            dumped = yaml.safe_dump([layer], sort_keys=False, default_flow_style=True,
                                    width=10**6).strip()
            text += f"      - {dumped[1:-1]}\n"
    return text


def _scalar(text: str) -> str:
    import json

    return json.dumps(text)


def load_by_use_order(network, model, example) -> list[tuple[str, str]]:
    """Copy ``model``'s parameters and buffers into ``network`` by the order their modules are first
    used in each one's graph (shapes asserted); returns the (model key, network key) pairs."""
    ours = _use_order(network, example, "network")
    theirs = _use_order(model, example, "model")
    if len(theirs) < len(ours):
        raise UsageError(f"the model has {len(theirs)} used state entries, the spec's network "
                         f"{len(ours)}")
    model_state, network_state = model.state_dict(), network.state_dict()
    copied = {}
    for (their_key, our_key) in zip(theirs, ours):
        if model_state[their_key].shape != network_state[our_key].shape:
            raise UsageError(f"{their_key} {tuple(model_state[their_key].shape)} does not fit "
                             f"{our_key} {tuple(network_state[our_key].shape)}")
        copied[our_key] = model_state[their_key]
    missing = set(network_state) - set(copied)
    if missing:
        raise UsageError(f"the spec's network has entries the model does not use: "
                         f"{sorted(missing)[:3]}")
    network.load_state_dict(copied)
    return list(zip(theirs, ours))


def _use_order(module, example, label: str) -> list[str]:
    """State keys in the order their module's first parameter or buffer is used by the graph,
    each module's own entries together (the model's own parameters one by one)."""
    program = export_program(module.eval(), example, label)
    signature = program.graph_signature
    names = {**signature.inputs_to_parameters, **signature.inputs_to_buffers}
    state = list(module.state_dict())
    keys: list[str] = []
    for node in program.graph.nodes:
        for arg in flat_nodes(list(node.args)):
            fqn = names.get(arg.name) if arg.op == "placeholder" else None
            if fqn is None or fqn in keys:
                continue
            owner = fqn.rpartition(".")[0]
            group = [k for k in state if k.rpartition(".")[0] == owner] if owner else [fqn]
            keys += [k for k in group if k not in keys]
    return keys


def spec_of_model(model, input_size=None, *, channels: int = 3, depth: int = 1,
                  label: str | None = None):
    """The ArchSpec of ``model`` (``export_spec`` read back by the spec parser), so that every
    spec view (compare, variants, sweep, bench, latency) works on it."""
    from ..spec.registry import parse_spec

    label = label or type(model).__name__
    return parse_spec(export_spec(model, input_size, channels=channels, depth=depth, label=label),
                      label)
