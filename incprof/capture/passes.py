"""One pass of any model, recorded op by op (capture.trace.dispatch_trace) without arithmetic
where it can be: on meta tensors, else on fake tensors, else on the example itself. For counting
(capture.rows, capture.tree) the pass runs as a user runs the model, autograd on, under
FlopCounterMode, with the ops counted whole (attention, recurrent layers, einsum) watched; for
the latency model (capture.row_ops) it runs as a timed model does, under torch.inference_mode().

torch is imported inside the functions only.
"""

from __future__ import annotations

from ..errors import UsageError, described
from .guard import op_ceiling
from .inputs import Example
from .trace import dispatch_trace


META = "one pass on meta tensors (shapes, no arithmetic)"
FAKE = "one pass on fake tensors (FakeTensorMode: shapes, no arithmetic)"


def record_ops(model, x: Example, label: str, inference: bool = False) -> tuple[list, str]:
    """The records of one pass of ``model`` on ``x`` (capture.trace.dispatch_trace; for
    counting, under FlopCounterMode), and how it ran: on meta tensors (the model's parameters,
    buffers and inputs as tensors without data), else, where the model needs more (a tensor it
    makes itself on the CPU), on fake tensors (torch's FakeTensorMode), else, for a model whose
    control flow reads a value, on the example itself. Each pass is stopped past --max-ops. With
    ``inference``, the pass runs as a timed model does instead, under torch.inference_mode() and
    without FlopCounterMode (``_trace``)."""
    reason = ""
    for attempt, method in ((_on_meta_tensors, META), (_on_fake_tensors, FAKE)):
        try:
            return attempt(model, x, label, inference), method
        except UsageError:
            raise
        except Exception as exc:  # e.g. data-dependent control flow: follow the example input
            reason = described(exc)
    try:
        with op_ceiling(label):
            records = _trace(model, x, inference)
    except UsageError:
        raise
    except Exception as exc:  # the model rejected the input: one line naming it
        raise UsageError(f"model {label}: rejects input {x.describe()}: "
                         f"{described(exc)}") from None
    return records, f"an eager trace of the example input's own path (on fake tensors: {reason})"


class _Stateless:
    """An example run with the model's parameters and buffers replaced by ``state``
    (torch.func.functional_call), the model itself untouched."""

    def __init__(self, state: dict, example: Example) -> None:
        self.state, self.example = state, example

    def run(self, model):
        from torch.func import functional_call

        return functional_call(model, self.state, self.example.args, self.example.kwargs,
                               tie_weights=False)


def _trace(model, x, inference: bool) -> list:
    """dispatch_trace for counting (under FlopCounterMode, autograd on, the ops counted whole
    watched) or, with ``inference``, as a timed model runs: under torch.inference_mode(), where
    torch dispatches the ops a module calls (conv2d, batch_norm, linear) without autograd's
    decompositions or the clone it makes before an in-place op."""
    if not inference:
        return dispatch_trace(model, x, _whole(), flops=True)
    import torch

    with torch.inference_mode():
        return dispatch_trace(model, x)


def _on_meta_tensors(model, x: Example, label: str, inference: bool) -> list:
    """``_trace`` with the parameters, buffers and inputs on the meta device. For counting,
    autograd stays on, as a user's run has it: no_grad would send nn.MultiheadAttention down its
    fused path. (At inference, that fused path and nn.TransformerEncoderLayer's check the
    device: on meta tensors they take their unfused path.)"""
    import torch

    made: dict[int, object] = {}  # tensor -> its meta twin: one per tensor, however named

    def meta(value):
        if not isinstance(value, torch.Tensor):
            return value
        if id(value) not in made:
            made[id(value)] = torch.empty_like(value, device="meta").requires_grad_(
                value.requires_grad)
        return made[id(value)]

    # each module once (one reached under two names is swapped and put back once), each of its
    # tensors (a tied one the same twin in every module that holds it)
    state = {f"{prefix}.{name}".lstrip("."): meta(t) for prefix, module in model.named_modules()
             for name, t in (*module.named_parameters(recurse=False, remove_duplicate=False),
                             *module.named_buffers(recurse=False, remove_duplicate=False))}
    example = Example(tuple(map(meta, x.args)), {k: meta(v) for k, v in x.kwargs.items()})
    with op_ceiling(label):  # the model's ops only: the meta tensors above are made before
        return _trace(model, _Stateless(state, example), inference)


def _on_fake_tensors(model, x: Example, label: str, inference: bool) -> list:
    """``_trace`` with every input tensor made fake."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True) as mode:
        fake = {id(v): mode.from_tensor(v) for v in (*x.args, *x.kwargs.values())
                if isinstance(v, torch.Tensor)}
        example = Example(tuple(fake.get(id(v), v) for v in x.args),
                          {k: fake.get(id(v), v) for k, v in x.kwargs.items()})
        with op_ceiling(label):
            return _trace(model, example, inference)


def _whole() -> dict:
    """The aten ops that torch decomposes before a dispatch recorder sees them, whose rule counts
    them whole (as a graph keeps them), watched where the model calls them: nn.LSTM, GRU and RNN
    call torch._VF.lstm (aten.lstm), ...; attention and RMSNorm their torch.nn.functional
    function; torch.einsum. The ops torch runs inside (a CPU GRU's addmm and gates, an LSTM's
    mkldnn_rnn_layer, attention's CPU flash kernel or the math backend's bmm) are
    FlopCounterMode's side of the count only."""
    import torch

    functional = torch.nn.functional
    return {**{f"aten.{name}": (torch._VF, name) for name in ("lstm", "gru", "rnn_tanh", "rnn_relu")},
            "aten.scaled_dot_product_attention": (functional, "scaled_dot_product_attention"),
            "aten.rms_norm": (functional, "rms_norm"), "aten.einsum": (torch, "einsum")}


def inside_whole(records: list) -> set[int]:
    """The indices of the op records run inside an op counted whole (a "call_python" record, see
    ``_whole``): FlopCounterMode's side of the count only."""
    inner, until = set(), 0
    for index, record in enumerate(records):
        if record.op == "call_python":
            until = max(until, record.meta["last"])
        elif index < until:
            inner.add(index)
    return inner
