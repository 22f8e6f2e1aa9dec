"""An nn.Module -> a spec (the tables/*.yaml schema), from its torch.export graph.

The graph's data flow is read back into the spec's structure: a chain of ops is a layer sequence
(conv with the BatchNorm and ReLU right after it, a depthwise conv followed by a 1x1 conv as a
separable conv, pools, adaptive pools, linear, dropout, softmax, ReLU); a ``cat`` on channels is
``branches``, each branch running from the concat's immediate dominator (the value every branch
starts from) to the concat; an ``add`` is a ``residual`` block (a scalar ``mul`` ending the body is
its scale, a ReLU after the sum its ``relu``). Layers are grouped into rows by the module at
``depth`` that ran them, and rows are named after those modules; consecutive modules whose layers
fuse (conv1, bn1, relu) make one row named ``conv1+bn1+relu``. The first op that has no spec
layer stops the export with a UsageError naming the node and why. Each op's writer, registered with
the layer type it writes, is in incprof.capture.export_layers.

torch is imported inside the functions only.
"""

from __future__ import annotations

import io
import logging
from contextlib import contextmanager, redirect_stderr

from ..count.aten import Free
from ..errors import UsageError, described
from ..spec.shapes import numel
from .export_graph import Graph, flat_nodes
from .export_layers import COMBINERS, WRITERS, clean, node_shape
from .export_names import legal_name, legal_text, original_comment
from .guard import check_size
from .inputs import Example
from .rows import aten_name, example_shape, own_row

# The ops that give their input's values in the same order (a reshape, an alias or a copy): a
# flatten before a linear layer, or nothing.
FREE = Free("same")


class _Writer:
    """Turns chains of graph nodes into spec layers (plain dicts, as YAML writes them), each op by
    its writer in incprof.capture.export_layers."""

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
        write = COMBINERS.get(aten_name(node.target))
        written = None if write is None else write(self, node, fork)
        if written is None:
            raise self.g.fail(node, "combines two tensors in a way the spec has no layer for (only "
                              "a concat on channels and a residual add)")
        return written

    def single(self, node, items: list) -> None:
        g, short = self.g, aten_name(node.target)
        if short in FREE:
            shape, before = node_shape(node), node_shape(node.args[0])
            if shape != before and not (len(shape) == 2 and shape[1] == numel(before[1:])):
                raise g.fail(node, f"reshapes {before} to {shape}; the spec only flattens "
                             "before a linear layer")
            return
        if short not in WRITERS:
            raise g.fail(node, "this op has no spec layer")
        layer = WRITERS[short](g, node, short, items)
        if layer is None:  # it set a setting of the layer before
            items[-1] = (items[-1][0], items[-1][1] + [g.key[node]])
        else:
            items.append((layer, [g.key[node]]))


def export_spec(model, input_size=None, *, channels: int = 3, depth: int = 1,
                label: str | None = None, left_out: dict | None = None) -> dict:
    """The spec of ``model`` as plain data (write it with ``to_yaml``), or a UsageError naming
    the first node that cannot be expressed and why. The modules the spec cannot hold (never run
    on the example) go into ``left_out``: name -> params."""
    import torch

    label = label or type(model).__name__
    model = model.eval()
    shape = example_shape(model, input_size, channels)
    check_size(model, torch.zeros(shape), label)
    program = export_program(model, torch.zeros(shape), label)
    graph = Graph(program, depth, label)
    writer = _Writer(graph)
    items = writer.sequence(graph.start, graph.output)
    for node in graph.inputs:
        short = aten_name(node.target)
        if node not in graph.used and short not in FREE:
            raise graph.fail(node, "its value is used outside the branch or block it belongs to")
    root = own_row(model)
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
    spec_rows, taken = [], set()
    for row in rows:
        original = "+".join(row["_keys"])
        kinds = [types.get(k, type(model).__name__) if not k.startswith("(") else
                 type(model).__name__ for k in row["_keys"]]
        spec_rows.append({"name": legal_name(original, taken),
                          "type": legal_name(" + ".join(dict.fromkeys(kinds))),
                          "layers": clean(row["layers"])})
        if spec_rows[-1]["name"] != original:
            spec_rows[-1]["_module"] = original  # kept in a comment by to_yaml
    if left_out is not None:
        left_out.update(_unused(model, program))
    return {"name": legal_name(label), "title": legal_text(f"{label}, exported by incprof"),
            "input": [shape[1], shape[2], shape[3]], "rows": spec_rows}


def _unused(model, program) -> dict:
    """The modules whose parameters the graph never reads, each named by its outermost module
    that holds only such parameters, with their params: the modules that never ran on the example
    (an aux head in eval), which a spec cannot hold."""
    owners = {s.arg.name: s.target for s in program.graph_signature.input_specs
              if s.kind.name == "PARAMETER"}
    unused = {owners[node.name] for node in program.graph.nodes
              if node.op == "placeholder" and node.name in owners and not node.users}
    dropped: dict = {}
    for fqn in sorted(unused, key=list(owners.values()).index):
        parts = fqn.split(".")
        for n in range(1, len(parts) + 1):  # the outermost module whose params are all unused
            key = ".".join(parts[:n])
            inside = [name for name in owners.values() if name == key or name.startswith(key + ".")]
            if all(name in unused for name in inside):
                break
        dropped[key] = dropped.get(key, 0) + model.get_parameter(fqn).numel()
    return dropped


def dropped_line(dropped: dict) -> str | None:
    """One line naming what an export left out (``export_spec``'s ``left_out``) and its params, or
    None when it left out nothing."""
    if not dropped:
        return None
    return (f"not exported: {', '.join(map(legal_text, dropped))} (never run on the example "
            f"input, e.g. aux heads in eval): {sum(dropped.values()):,} params the spec does not "
            "have")


def to_yaml(data: dict, left_out: dict | None = None) -> str:
    """A spec as YAML text that incprof's parser reads back (layers in flow style), led by a
    comment naming what the export left out (``export_spec``'s ``left_out``), if anything; a
    row whose name is not its module's as written keeps that name in a comment below it
    (export_names)."""
    import yaml

    head = {k: v for k, v in data.items() if k != "rows"}
    note = dropped_line(left_out or {})
    text = f"# {note}\n" if note else ""
    text += yaml.safe_dump(head, sort_keys=False, default_flow_style=None, width=100)
    text += "rows:\n"
    for row in data["rows"]:
        text += f"  - name: {_scalar(row['name'])}\n"
        if "_module" in row:
            text += f"    {original_comment(row['_module'])}\n"
        text += f"    type: {_scalar(row['type'])}\n    layers:\n"
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
                  label: str | None = None, notes: list | None = None):
    """The ArchSpec of ``model`` (``export_spec`` read back by the spec parser), so that every
    spec view (compare, variants, sweep, bench, latency) works on it; what the spec leaves out
    (``dropped_line``) is appended to ``notes``."""
    from ..spec.registry import parse_spec

    label = label or type(model).__name__
    left_out: dict = {}
    data = export_spec(model, input_size, channels=channels, depth=depth, label=label,
                       left_out=left_out)
    if notes is not None and dropped_line(left_out):
        notes.append(dropped_line(left_out))
    rows = [{k: v for k, v in row.items() if k != "_module"} for row in data["rows"]]
    return parse_spec({**data, "rows": rows}, label)


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
                         f"{described(exc)}") from None
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
