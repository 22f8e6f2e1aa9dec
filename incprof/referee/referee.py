"""The referee: run every installed peer counter (incprof.referee.peers) on a built network or
any ``nn.Module`` and set its total beside the prediction for its conventions
(incprof.referee.conventions), with the residuals and the op kinds they come from. torch is
imported inside the functions only."""

from __future__ import annotations

from ..count.analytic import MAX_BATCH
from ..count.inventory import network_ops
from .bookkeeping import torchinfo_params
from .conventions import CONVENTIONS, THOP_MODULES, VIEWS, WATCHED, breakdown, param_totals, predict


def referee(arch=None, *, model=None, label: str | None = None, flavor: str = "paper",
            aux: bool = True, input_size=None, batch_size: int = 1, channels: int = 3,
            tools=None, max_memory: int | None = None, example=None, seq_len=None) -> dict:
    """Run every installed peer on the built network, or on ``model`` (any ``nn.Module``), in eval
    mode on zero inputs, and set its total beside incprof's prediction for its conventions. A
    model runs on ``example`` (an incprof.capture.inputs.Example: any args and kwargs), else on
    its default inputs (incprof.capture.inputs.default: an image of ``input_size``, ``channels``
    and ``batch_size``, or a Hugging Face model's inputs, ``seq_len`` token ids); each peer is
    given them its own way (incprof.referee.peers). Returns plain data: ``meta``, and ``tools``:
    per peer its installed flag, unit, reported and predicted totals and parameter totals, their
    residuals, and the op kinds a non-zero residual comes from."""
    from . import peers

    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be from 1 to {MAX_BATCH}, got {batch_size}")
    if model is not None:
        views, params, example, make, meta = _model_inventory(model, label, example, (
            input_size, channels, batch_size, seq_len))
    else:
        from ..count.limits import check_memory
        from ..nn.build import build
        from ..spec.registry import load

        spec = load(arch, flavor, aux)
        ops = network_ops(spec, input_size)
        counted = param_totals(spec, input_size)
        check_memory(spec, input_size, batch_size, max_memory)
        views = dict.fromkeys(VIEWS, ops)  # every layer of a spec is its module
        params = {"all": counted["params_with_aux"], "executed": counted["params"],
                  "torchinfo": counted["params_with_aux"]}  # no module of a spec is shared
        shape = (batch_size, spec.input[0], *(input_size or spec.input[1:]))
        meta = {"arch": spec.name, "title": spec.title, "flavor": flavor, "aux": bool(spec.aux)}
        example = _image(shape)

        def make(device: str):
            import torch

            with torch.device(device):  # zero weights: no peer's count reads their values
                return build(spec, input_size, weights="zero").eval()
    rows = [_tool_row(tool, make, example, views, params) for tool in tools or peers.PEERS]
    shape = example.shape()
    return {"meta": {**meta, "input": list(shape[2:]), "batch_size": shape[0] if shape else 1,
                     **({"inputs": example.describe()} if model is not None else {})},
            "tools": rows}


def _image(shape: tuple):
    """A spec's example: one zero image of ``shape`` (N, C, H, W)."""
    import torch

    from ..capture.inputs import Example

    return Example((torch.zeros(shape),), {}, "image")


def _model_inventory(model, label, example, default: tuple):
    """A model's inventory views, parameter totals, example (``example``, else its default made
    from ``default``: input size, channels, batch size, sequence length), a maker of fresh copies
    (the peers leave hooks and buffers on what they count; a user's model stays on its own device)
    and its meta."""
    import copy

    import torch

    from ..capture import inputs
    from ..capture.guard import check_modules, op_ceiling
    from ..capture.inventory import model_ops
    from ..errors import UsageError, described

    label = label or type(model).__name__
    model = model.eval()
    example = example or inputs.default(model, *default)
    check_modules(model, label)
    inventories = {}
    for grad, hooks in sorted({view[1:] for view in VIEWS}):  # one run per way of running
        try:
            with torch.set_grad_enabled(grad), op_ceiling(label):
                inventories[grad, hooks] = model_ops(copy.deepcopy(model), example, WATCHED,
                                                     hooks)
        except UsageError:
            raise
        except Exception as exc:  # the model rejected the input: one line naming it
            raise UsageError(f"model {label}: rejects input {example.describe()}: "
                             f"{described(exc)}") from None
    views = {view: getattr(inventories[view[1:]], view[0]) for view in VIEWS}
    inventory = inventories[CONVENTIONS["thop"]["grad"], CONVENTIONS["thop"]["hooks"]]
    hooked = inventories[CONVENTIONS["torchinfo"]["grad"], CONVENTIONS["torchinfo"]["hooks"]]
    params = {"all": inventory.params,
              "executed": sum(n for kind, n in inventory.executed.items() if kind in THOP_MODULES),
              "torchinfo": torchinfo_params(model, hooked.called)}
    meta = {"arch": label, "title": label, "flavor": None, "aux": False}
    return views, params, example, lambda device: copy.deepcopy(model), meta  # as it is


def _tool_row(tool: str, make, example, views: dict, params: dict) -> dict:
    from . import peers

    convention = CONVENTIONS[tool]
    row = {"tool": tool, "installed": peers.installed(tool), "version": None,
           "unit": convention["unit"],
           "reported": None, "predicted": None, "residual": None, "params_reported": None,
           "params_predicted": None, "params_residual": None, "residual_from": None,
           "failed": None}
    if not row["installed"]:
        return row
    row["version"] = peers.version(tool)
    import torch

    predicted = predict(views[convention["level"], convention["grad"], convention["hooks"]], tool,
                        example.batch_size(), peers.images(tool, example))
    device = "meta" if tool in peers.META else "cpu"  # meta: no weight init, no arithmetic
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one forward pass: more threads only wait on a busy machine
    try:  # a fresh model for every peer: peers leave hooks and attributes
        model = make(device)
        where = next(model.parameters(), torch.zeros(())).device  # the inputs go with it
        reading = peers.run(tool, model, peers.moved(example, where))
    except Exception as exc:  # the peer's own failure on this model: its row says so, the
        # other peers still run
        text = str(exc).strip().splitlines()
        line = f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
        cause = exc.__cause__  # a peer that wraps the model's own error (torchinfo)
        if cause is not None:
            said = str(cause).strip().splitlines()
            line += f" (from {type(cause).__name__}: {said[0] if said else ''})"
        row["failed"] = (text[0] if isinstance(exc, peers.PeerFailed) else line)[:240]
        return row
    finally:
        torch.set_num_threads(threads)
    row.update(reported=reading.total, predicted=sum(predicted.values()))
    row["residual"] = reading.total - row["predicted"]
    if convention["params"]:
        row["params_predicted"] = params[convention["params"]]
        row["params_reported"] = reading.params
        row["params_residual"] = reading.params - row["params_predicted"]
    if row["residual"]:
        expected = breakdown(views[convention["level"], convention["grad"], convention["hooks"]], tool,
                             example.batch_size(), peers.images(tool, example))
        kinds = sorted(set(expected) | set(reading.by_kind))
        row["residual_from"] = {k: reading.by_kind.get(k, 0) - expected.get(k, 0) for k in kinds
                                if reading.by_kind.get(k, 0) != expected.get(k, 0)}
    return row


def referee_runs() -> list[dict]:
    """``incprof.referee.referee.referee`` on every built-in network and flavour, at its own input size,
    batch 1, with its aux heads (as the reference implementations build them by default)."""
    from ..spec.registry import available, resolve
    from ..spec.variants import flavors

    return [referee(name, flavor=flavor) for name in available()
            for flavor in flavors(resolve(name))]
