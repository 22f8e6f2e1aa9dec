"""Each row's ops as a timed model runs them, for the latency model (incprof.nn.predict_ops): one
more pass of the model (capture.passes.record_ops with ``inference``: on meta tensors where it
can, no arithmetic; else on fake tensors; else, for a model whose control flow reads its values,
on the example itself), under torch.inference_mode() as the model is timed, so that the ops are
those eager PyTorch dispatches at inference (conv2d, batch_norm, linear), not autograd's
decompositions. Two fused CPU paths check the device and so take their unfused path on meta
tensors: nn.MultiheadAttention's and nn.TransformerEncoderLayer's; they are priced as the ops of
that path. Each op keeps its name, its arguments as shapes, its output's shape and whether that
output shares an input's storage (a view; a reshape that copies is a copy); each row, its module
calls. Rows are named as capture.rows names them.

torch is imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .inputs import Example
from .passes import record_ops
from .rows import arg_shape, aten_name, call_row, own_row, shape_of


@dataclass(frozen=True)
class OpCall:
    """One op as it runs: its aten name ("conv2d"), its positional arguments (tensors as their
    shapes), its output's shape (None for no tensor) and whether the output is a view of an
    input (no values written)."""

    name: str
    args: tuple
    out: tuple | None
    view: bool


@dataclass
class RowOps:
    """A row's ops in the order they ran, and its module calls."""

    ops: list[OpCall] = field(default_factory=list)
    calls: int = 0


def _is_view(record) -> bool:
    """Whether every tensor the op gives shares its storage with one of its inputs (a view or
    the input itself: inference tensors keep no view links, their storage tells)."""
    def storages(value) -> list:
        values = value if isinstance(value, (tuple, list)) else [value]
        return [v.untyped_storage()._cdata for v in values if hasattr(v, "untyped_storage")]

    given = storages(record.meta.get("val"))
    inputs = {s for a in record.args for s in storages(getattr(a, "meta", {}).get("val"))}
    return bool(given) and all(s in inputs for s in given)


def row_ops(model, example: Example, depth: int, label: str) -> tuple[dict[str, RowOps], str]:
    """The ops each row (the modules at ``depth``, as capture.rows) runs at inference on
    ``example``, by row name; and how the pass ran (capture.passes.record_ops)."""
    records, method = record_ops(model.eval(), example, label, inference=True)
    root = own_row(model)
    rows: dict[str, RowOps] = {}
    for record in records:
        stack = record.meta["nn_module_stack"]
        key = call_row([path for path, _ in stack.values()], depth) or root
        row = rows.setdefault(key, RowOps())
        if record.op == "call_module":
            row.calls += 1
        elif record.op == "call_function":
            row.ops.append(OpCall(aten_name(record.target),
                                  tuple(arg_shape(a) for a in record.args),
                                  shape_of(record.meta.get("val")), _is_view(record)))
    return rows, method
