"""A training step of any nn.Module (``--model --mode train``), row by row (the modules at
``depth``), counted twice on meta tensors (shapes only, no arithmetic):

- from the forward pass: each MAC op of the aten-op vocabulary (incprof.count.aten) priced by its
  rule, then its backward by the step's rules: every operand that needs a gradient gets one of
  the op's MACs, an input gradient for an activation, a weight gradient for a parameter (or a view
  of one); a frozen parameter or an input that needs none gets none;
- by FlopCounterMode's formulas on a real ``loss.backward()`` (the loss: the sum of every output),
  each backward op charged to the row whose forward made its autograd node (a pre-hook on every
  node of the graph, assigned to a row as that row's call returns).
"""

from __future__ import annotations

from collections import Counter

from ..count.aten import ATEN
from ..count.training import RULES
from ..records import Records

COLUMNS = ["row", "forward_macs", "input_grad_macs", "weight_grad_macs", "backward_macs",
           "step_macs", "check_forward_macs", "check_input_grad_macs",
           "check_weight_grad_macs", "check_agrees"]
MODEL_CHECK = (
    "Counted twice. From the forward pass: each MAC op priced by the aten-op vocabulary's rule, "
    "and every operand that needs a gradient gets one of its MACs (an input gradient for an "
    "activation, a weight gradient for a parameter). By FlopCounterMode's formulas on a real "
    "loss.backward(): each backward op charged to the row whose forward made its autograd node; "
    "a backward matmul is a weight gradient when no operand is a parameter and its output has a "
    "2-D parameter's shape (or its transpose). FlopCounterMode prices a grouped conv's weight "
    "gradient at groups x its MACs; the check expects that.")
# which positional arguments of a MAC op are its operands
OPERANDS = {"convolution": (0, 1), "_convolution": (0, 1), "conv2d": (0, 1), "addmm": (1, 2),
            "baddbmm": (1, 2), "mm": (0, 1), "bmm": (0, 1)}


def model_training_records(model, input_size=None, *, channels: int = 3, depth: int = 1,
                           batch_size: int = 2, label: str | None = None,
                           example=None) -> Records:
    """One row per module at ``depth`` of a training step of ``model`` (a copy, on meta tensors;
    on the CPU with the example's zeros where the model reads values), run on ``example`` (a
    capture.inputs.Example, the one inference counting uses; default: capture.inputs.default)."""
    from ..capture.inputs import default
    from ..errors import UsageError, described, first_line

    label = label or type(model).__name__
    example = example or default(model, input_size, channels, batch_size)
    try:
        rows, analytic, pricing = _run(model, example, depth, "meta", label)
        how = "meta tensors (shapes only, no arithmetic)"
    except UsageError:
        raise
    except Exception as exc:  # a model that reads values (.item()), or rejects the input
        try:
            rows, analytic, pricing = _run(model, example, depth, "cpu", label)
        except UsageError:
            raise
        except Exception as again:  # the model rejected the input: one line naming it
            raise UsageError(f"model {label}: rejects input {example.describe()}: "
                             f"{described(again)}") from None
        how = (f"the CPU with the example's zeros (real arithmetic: on meta tensors, "
               f"{first_line(exc)})")
    records = []
    for name in rows.order:
        if name == rows.root and not (analytic.counts.get(name) or pricing.forward[name]
                                      or pricing.input_grad[name] or pricing.weight_grad[name]):
            continue  # the model's own ops: none with MACs
        a = analytic.counts.get(name, Counter())
        record = {"row": name, "forward_macs": a["forward"], "input_grad_macs": a["input"],
                  "weight_grad_macs": a["weight"], "backward_macs": a["input"] + a["weight"],
                  "step_macs": a["forward"] + a["input"] + a["weight"],
                  "check_forward_macs": pricing.forward[name] // 2,
                  "check_input_grad_macs": pricing.input_grad[name] // 2,
                  "check_weight_grad_macs": pricing.weight_grad[name] // 2}
        record["check_agrees"] = (record["check_forward_macs"], record["check_input_grad_macs"],
                                  record["check_weight_grad_macs"]) == (
            a["forward"], a["input"], a["weight"] + a["excess"])
        records.append(record)
    totals = {k: sum(r[k] for r in records) for k in COLUMNS[1:9]}
    totals["flop_counter_flops"] = pricing.flop_counter_flops  # FlopCounterMode's own total
    totals["flop_counter_expected"] = totals["step_macs"] + sum(
        analytic.counts.get(name, Counter())["excess"] for name in rows.order)
    totals["check_agrees"] = all(r["check_agrees"] for r in records) and \
        totals["flop_counter_flops"] == 2 * totals["flop_counter_expected"]
    meta = {"model": label, "class": type(model).__name__, "mode": "train", "depth": depth,
            "input": example.describe(), "batch_size": example.batch_size(), "ran_on": how,
            "conventions": "MACs: multiply-accumulates of the aten-op vocabulary's MAC ops "
            "(FlopCounterMode's FLOPs / 2), for the whole batch. " + RULES + " The loss is the "
            "sum of every output. Ran on " + how + ". " + MODEL_CHECK}
    return Records(COLUMNS, records, {"totals": totals, "meta": meta},
                   tuple(c for c in COLUMNS if c not in ("row", "check_agrees")))


def _run(model, example, depth: int, device: str, label: str):
    """Both counts of one training step of a copy of ``model`` on ``device``, run on a copy of
    ``example`` there."""
    import copy

    import torch
    import torch.utils._pytree

    from ..capture.inputs import Example, register_outputs
    from ..errors import UsageError
    from ..nn.backward import _Pricing, parameter_shapes

    net = copy.deepcopy(model).to(device).train()
    args, kwargs = torch.utils._pytree.tree_map_only(
        torch.Tensor, lambda t: t.to(device), (example.args, example.kwargs))
    x = Example(args, kwargs, example.source)
    params = {id(p): p for p in net.parameters()}
    rows = _Rows(net, depth)
    analytic = _Analytic(params, rows)
    pricing = _Pricing(set(params), parameter_shapes(net))
    pricing.row = rows.root
    rows.moved = lambda row: setattr(pricing, "row", row)
    from torch.utils.flop_counter import FlopCounterMode

    whole = FlopCounterMode(display=False)
    with rows, analytic, pricing, whole:
        outputs = x.run(net)
        register_outputs(outputs)  # a dataclass output's tensors are leaves too
        leaves = [o for o in torch.utils._pytree.tree_leaves(outputs)
                  if isinstance(o, torch.Tensor) and o.requires_grad]
        if not leaves:
            raise UsageError(f"model {label}: its output ({type(outputs).__name__}) holds no "
                             "tensor that needs a gradient, so there is no loss to train on")
        rows.assign(leaves, rows.root)
        pricing.backward = True
        analytic.active = False
        hooks = [node.register_prehook(lambda grads, row=row: rows.moved(row))
                 for node, row in rows.nodes.items()]
        sum(o.float().sum() for o in leaves).backward()
    for hook in hooks:
        hook.remove()
    pricing.flop_counter_flops = whole.get_total_flops()
    return rows, analytic, pricing


class _Rows:
    """Which row runs now (module hooks), and which row each autograd node belongs to."""

    def __init__(self, net, depth: int) -> None:
        self.names = {id(m): name for name, m in net.named_modules()}
        self.depth = depth
        self.root = f"({type(net).__name__})"
        self.stack: list[str] = []
        self.order: list[str] = []
        self.nodes: dict = {}
        self.moved = lambda row: None  # called with the row that runs from now on
        self._hooks: list = []

    @property
    def current(self) -> str:
        return self.stack[-1] if self.stack else self.root

    def _push(self, module, args) -> None:
        name = self.names.get(id(module))
        if name is None:
            return
        key = ".".join(name.split(".")[:self.depth]) if name else self.root
        if key not in self.stack:  # a row starts: what ran before it belongs to the row outside
            import torch

            self.assign([a for a in torch.utils._pytree.tree_leaves(args)
                         if isinstance(a, torch.Tensor)], self.current)
        self.stack.append(key or self.root)
        if self.stack[-1] not in self.order:
            self.order.append(self.stack[-1])
        self.moved(self.current)

    def _pop(self, module, args, out) -> None:
        if self.names.get(id(module)) is None:
            return
        import torch

        row = self.stack.pop()
        if row not in self.stack:  # the row's call returns: its graph is complete
            self.assign([o for o in torch.utils._pytree.tree_leaves(out)
                         if isinstance(o, torch.Tensor)], row)
        self.moved(self.current)

    def assign(self, tensors, row: str) -> None:
        """Every autograd node behind ``tensors`` that no row has yet goes to ``row``."""
        todo = [t.grad_fn for t in tensors if t.grad_fn is not None]
        if row not in self.order:
            self.order.append(row)
        while todo:
            node = todo.pop()
            if node is None or node in self.nodes:
                continue
            self.nodes[node] = row
            todo.extend(n for n, _ in node.next_functions)

    def __enter__(self):
        import torch

        self._hooks = [torch.nn.modules.module.register_module_forward_pre_hook(self._push),
                       torch.nn.modules.module.register_module_forward_hook(self._pop)]
        return self

    def __exit__(self, *exc) -> None:
        for hook in self._hooks:
            hook.remove()


class _Analytic:
    """A TorchDispatchMode (made on entry) pricing each forward MAC op by the vocabulary's rule,
    and its gradients by the step's rules."""

    def __init__(self, params: dict, rows: _Rows) -> None:
        self.params, self.rows = params, rows
        self.counts: dict = {}
        self.active = True
        self._mode = None

    def _parameter(self, value):
        for candidate in (value, getattr(value, "_base", None)):
            if id(candidate) in self.params:
                return self.params[id(candidate)]
        return None

    def price(self, func, args, kwargs, out) -> None:
        import torch

        name = func.overloadpacket.__name__
        op = ATEN.get(name)
        if not self.active or name not in OPERANDS or op is None:
            return
        shapes = [tuple(a.shape) if isinstance(a, torch.Tensor) else a for a in args]
        counted = op.rule(shapes, tuple(out.shape))
        if counted is None:
            return
        macs = counted[0]
        row = self.counts.setdefault(self.rows.current, Counter())
        row["forward"] += macs
        for index in OPERANDS[name]:
            operand = args[index]
            if not isinstance(operand, torch.Tensor) or not operand.requires_grad:
                continue
            if self._parameter(operand) is None:
                row["input"] += macs
            else:
                row["weight"] += macs
                if name in ("convolution", "_convolution"):
                    row["excess"] += macs * (args[8] - 1)  # FlopCounterMode: groups x

    def __enter__(self):
        from ..nn.backward import pricing_mode

        self._mode = pricing_mode(self.price)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
