"""One training step, row by row, as Records: forward and backward MACs (input and weight
gradients), other ops and saved bytes from the spec (incprof.count.training), checked against
FlopCounterMode on a real backward (incprof.nn.backward), and the step's memory, modelled
(incprof.count.step_memory) beside the allocator's peak (incprof.nn.step_memory)."""

from __future__ import annotations

from ..count.analytic import MAX_BATCH, count_spec
from ..count.geometry import geometry
from ..count.step_memory import OPTIMIZERS
from ..count.step_memory import RULES as MEMORY_RULES
from ..count.step_memory import model_step_memory
from ..count.training import RULES, saved_bytes, step_spec
from ..errors import SpecError
from ..records import Records
from ..spec.fields import Pair
from ..spec.layers import Conv, Separable
from ..spec.model import ArchSpec
from ..spec.registry import load

COLUMNS = ["row", "type", "aux", "trained", "params", "forward_macs", "input_grad_macs",
           "weight_grad_macs", "backward_macs", "step_macs", "forward_other_ops",
           "backward_other_ops", "saved_bytes", "check_forward_macs", "check_input_grad_macs",
           "check_weight_grad_macs", "check_agrees", "measured_saved_bytes"]
INT_COLUMNS = ["params", "forward_macs", "input_grad_macs", "weight_grad_macs", "backward_macs",
               "step_macs", "forward_other_ops", "backward_other_ops", "saved_bytes",
               "check_forward_macs", "check_input_grad_macs", "check_weight_grad_macs",
               "measured_saved_bytes"]
CHECK_HOW = (
    "FlopCounterMode check: the built network runs a real forward and loss.backward() in training "
    "mode on meta tensors (shapes only, no arithmetic) at the batch shown, unscaled; per row, each "
    "row's input is detached and its gradient handed back row by row, each convolution_backward "
    "priced by FlopCounterMode's formula once per gradient, a backward matmul a weight gradient "
    "when no operand is a parameter and its output has a 2-D parameter's shape (or its "
    "transpose), else an input gradient. FlopCounterMode prices a grouped conv's "
    "weight gradient at groups x its MACs (its formula takes every input channel); the check "
    "expects that.")
MEASURE_HOW = (
    "Measured: one training step on this CPU (a first one untimed, so the optimizer's state "
    "exists), zeroed weights; saved bytes from torch.autograd.graph.saved_tensors_hooks "
    "(parameters and buffers excepted, each storage once, where first saved); the peak from "
    "torch.profiler's memory events (the highest running sum of allocations and frees) on top of "
    "the parameters, buffers, optimizer state and input alive before the step.")


def conventions(batch_size: int, optimizer: str | None, verified: bool, measured: bool) -> str:
    """The rules of a training profile, as a block that says only what applies (no memory rules
    without an ``optimizer``)."""
    text = ("MACs: multiply-accumulates of conv and linear layers (1 MAC = 1 multiply-add; "
            "FlopCounterMode's FLOPs / 2), "
            + ("per image" if batch_size == 1 else f"for the whole batch of {batch_size}") +
            f". {RULES}" + (f" Optimizer: {optimizer}. {MEMORY_RULES}" if optimizer else ""))
    if verified:
        text += f" {CHECK_HOW}"
    if measured:
        text += f" {MEASURE_HOW}"
    return text


def _check_batch(spec: ArchSpec, input_hw, batch_size: int) -> None:
    """Refuse a step torch cannot train: BatchNorm over one value per channel."""
    from ..spec.shapes import place

    for p in place(spec, input_hw):
        for layer, o in _leaf_outputs(p.layers, p.in_shape):
            if isinstance(layer, (Conv, Separable)) and layer.bn_eps is not None and \
                    o[1] * o[2] * batch_size == 1:
                raise SpecError("a training step cannot normalise one value per channel "
                                "(BatchNorm on a 1x1 output at batch 1); use --batch-size 2 "
                                "or more", path=spec.path, row=p.name)


def _leaf_outputs(layers, in_shape):
    """Every leaf layer with its output shape, depth first."""
    from ..spec.layers import sublayers
    from ..spec.shapes import walk

    for layer, i, o in walk(layers, in_shape)[0]:
        parts = sublayers(layer)
        if parts:
            for part in parts:
                yield from _leaf_outputs(part, i)
        else:
            yield layer, o


def execution_order(spec: ArchSpec) -> list[str]:
    """Rows and aux heads in the order a training forward pass runs them."""
    order: list[str] = []
    for row in spec.rows:
        order += [row.name, *(h.name for h in spec.aux if h.after == row.name)]
    return order


def training_records(arch: str | ArchSpec = "googlenet", *, flavor: str = "paper",
                     aux: bool = True, input_size: Pair | None = None, batch_size: int = 1,
                     frozen: frozenset[str] = frozenset(), optimizer: str = "sgd",
                     verify: bool = False, measure: bool = False, progress=None) -> Records:
    """One row per table row (then aux heads) of a training step, with the step's totals, ratios
    and memory in ``attrs["totals"]``. ``verify`` counts the step again with FlopCounterMode on
    meta tensors (no arithmetic); ``measure`` runs a real step on the CPU for the saved bytes and
    the allocator's peak."""
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be from 1 to {MAX_BATCH}, got {batch_size}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    spec = load(arch, flavor, aux)
    names = [r.name for r in spec.rows] + [h.name for h in spec.aux]
    unknown = sorted(set(frozen) - set(names))
    if unknown:
        raise SpecError(f"no row or aux head called {', '.join(unknown)} to freeze",
                        path=spec.path)
    counted = {rc.placed.name: rc.counts for rc in count_spec(spec, input_size, batch_size)}
    if not any(c.params for name, c in counted.items() if name not in frozen):
        raise SpecError("--freeze leaves no parameter to train: a training step needs one",
                        path=spec.path)
    rows = step_spec(spec, input_size, frozen)
    if verify or measure:
        _check_batch(spec, input_size, batch_size)
    checked = measured = None
    if verify:
        from ..nn.backward import measure_step

        if progress:
            progress("counting a training step with FlopCounterMode on meta tensors")
        checked = measure_step(spec, input_size, batch_size, frozen)
    if measure:
        from ..nn.step_memory import measure_step_memory

        if progress:
            progress("measuring a training step's memory on the CPU")
        measured = measure_step_memory(spec, input_size, batch_size, optimizer, frozen)
    records = []
    for r in rows:
        c, name, b = r.counts, r.placed.name, batch_size
        record = {
            "row": name, "type": "aux head" if r.placed.is_aux else spec.row(name).type,
            "aux": r.placed.is_aux, "trained": r.trained, "params": counted[name].params,
            "forward_macs": c.forward_macs * b, "input_grad_macs": c.input_grad_macs * b,
            "weight_grad_macs": c.weight_grad_macs * b, "backward_macs": c.backward_macs * b,
            "step_macs": c.step_macs * b, "forward_other_ops": c.forward_other_ops * b,
            "backward_other_ops": c.backward_other_ops * b, "saved_bytes": saved_bytes(c, b),
            "check_forward_macs": None, "check_input_grad_macs": None,
            "check_weight_grad_macs": None, "check_agrees": None, "measured_saved_bytes": None}
        if checked is not None:
            m = checked[name]
            record.update(check_forward_macs=m.forward_macs, check_input_grad_macs=m.input_grad_macs,
                          check_weight_grad_macs=m.weight_grad_macs)
            record["check_agrees"] = (m.forward_macs, m.input_grad_macs, m.weight_grad_macs) == (
                c.forward_macs * b, c.input_grad_macs * b,
                (c.weight_grad_macs + c.grouped_excess_macs) * b)
        if measured is not None:
            record["measured_saved_bytes"] = measured.saved_bytes[name]
        records.append(record)
    peak_elements = max(g.peak_elements for n, g in geometry(spec, input_size).items()
                        if n in {r.name for r in spec.rows})
    memory = model_step_memory(rows, execution_order(spec), batch_size, optimizer, peak_elements)
    totals = _totals(records, memory, checked, measured, rows, batch_size)
    meta = {"arch": spec.name, "title": spec.title, "flavor": flavor, "mode": "train",
            "input": [spec.input[0], *(input_size or spec.input[1:])], "batch_size": batch_size,
            "optimizer": optimizer, "frozen": sorted(frozen), "verified": verify,
            "measured": measure,
            "conventions": conventions(batch_size, optimizer, verify, measure)}
    return Records(COLUMNS, records, {"totals": totals, "meta": meta}, tuple(INT_COLUMNS))


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _totals(records: list[dict], memory, checked, measured, rows, batch_size: int) -> dict:
    main = [r for r in records if not r["aux"]]
    heads = [r for r in records if r["aux"]]
    sums = {k: sum(r[k] for r in records) for k in INT_COLUMNS[1:9]}
    inference_macs = sum(r["forward_macs"] for r in main)
    aux_step = sum(r["step_macs"] for r in heads)
    totals = {**sums, "inference_macs": inference_macs, "aux_step_macs": aux_step,
              "training_over_inference_macs": _ratio(sums["step_macs"], inference_macs),
              "aux_share": _ratio(aux_step, sums["step_macs"]) if heads else None,
              "flop_counter_expected": sums["step_macs"] + batch_size * sum(
                  r.counts.grouped_excess_macs for r in rows),
              "memory": {"param_bytes": memory.param_bytes, "buffer_bytes": memory.buffer_bytes,
                         "grad_bytes": memory.grad_bytes,
                         "optimizer_bytes": memory.optimizer_bytes,
                         "input_bytes": memory.input_bytes, "saved_bytes": memory.saved_bytes,
                         "peak_bytes": memory.peak_bytes,
                         "inference_bytes": memory.inference_bytes,
                         "training_over_inference": _ratio(memory.peak_bytes,
                                                           memory.inference_bytes)}}
    if checked is not None:
        totals["flop_counter_total"] = checked.flop_counter_total
        totals["flop_counter_flops"] = checked.flop_counter_flops
        totals["check_agrees"] = all(r["check_agrees"] for r in records) and \
            checked.flop_counter_total == totals["flop_counter_expected"]
    else:
        totals["check_agrees"] = None
    if measured is not None:
        totals["measured"] = {
            "peak_bytes": measured.peak_bytes, "state_bytes": measured.state_bytes,
            "optimizer_bytes": measured.optimizer_bytes,
            "saved_bytes": sum(measured.saved_bytes.values()),
            "model_over_measured": _ratio(memory.peak_bytes, measured.peak_bytes),
            "saved_agrees": all(r["saved_bytes"] == r["measured_saved_bytes"] for r in records)}
    return totals


FAMILY_MEMORY_BATCH = 32  # a common training batch; the memory ratios depend on it


def family_training_records(names: list[str]) -> Records:
    """One row per network (paper flavour, its own input size, aux heads included): a training
    step's MACs per image against inference's, the aux heads' share, and training / inference
    memory at FAMILY_MEMORY_BATCH images with sgd and with adam (the model; no measurement)."""
    rows = []
    for name in names:
        t = training_records(name).attrs["totals"]
        memory = {opt: training_records(name, batch_size=FAMILY_MEMORY_BATCH,
                                        optimizer=opt).attrs["totals"]["memory"]
                  for opt in ("sgd", "adam")}
        rows.append({
            "arch": name, "inference_macs": t["inference_macs"], "step_macs": t["step_macs"],
            "input_grad_macs": t["input_grad_macs"], "weight_grad_macs": t["weight_grad_macs"],
            "training_over_inference_macs": t["training_over_inference_macs"],
            "aux_share": t["aux_share"],
            "backward_over_forward": _ratio(t["backward_macs"], t["forward_macs"]),
            "inference_bytes": memory["sgd"]["inference_bytes"],
            "sgd_peak_bytes": memory["sgd"]["peak_bytes"],
            "adam_peak_bytes": memory["adam"]["peak_bytes"],
            "sgd_over_inference": memory["sgd"]["training_over_inference"],
            "adam_over_inference": memory["adam"]["training_over_inference"]})
    return Records(list(rows[0]), rows, {"memory_batch": FAMILY_MEMORY_BATCH})


def compare_training_records(a: ArchSpec, b: ArchSpec, *, labels: tuple[str, str] = ("A", "B"),
                             batch_size: int = 1, optimizer: str = "sgd",
                             verify: bool = False) -> Records:
    """Two training steps side by side, rows joined by name (a row only one side has shows blank
    on the other): step MACs, backward MACs and saved bytes each, and what B saves (1 - B/A, in
    %); each side's totals, memory and check in ``attrs``."""
    sides = [training_records(s, batch_size=batch_size, optimizer=optimizer, verify=verify)
             for s in (a, b)]
    by_name = [{r["row"]: r for r in side.rows} for side in sides]
    names = [r["row"] for r in sides[0].rows] + [r["row"] for r in sides[1].rows
                                                  if r["row"] not in by_name[0]]
    rows = []
    for name in names:
        ra, rb = by_name[0].get(name), by_name[1].get(name)
        row = {"row": name}
        for key in ("step_macs", "backward_macs", "saved_bytes"):
            row[f"a_{key}"] = ra[key] if ra else None
            row[f"b_{key}"] = rb[key] if rb else None
        row["step_saved_pct"] = (round((1 - rb["step_macs"] / ra["step_macs"]) * 100, 1) + 0.0
                                 if ra and rb and ra["step_macs"] else None)
        rows.append(row)
    ta, tb = (side.attrs["totals"] for side in sides)
    totals = {"a": ta, "b": tb, "step_ratio": _ratio(ta["step_macs"], tb["step_macs"]),
              "peak_ratio": _ratio(ta["memory"]["peak_bytes"], tb["memory"]["peak_bytes"]),
              "check_agrees": None if not verify else bool(ta["check_agrees"] and
                                                           tb["check_agrees"])}
    meta = {"labels": list(labels), "batch_size": batch_size, "optimizer": optimizer,
            "mode": "train", "verified": verify,
            "conventions": conventions(batch_size, optimizer, verify, False)}
    columns = list(rows[0])
    return Records(columns, rows, {"totals": totals, "meta": meta},
                   tuple(c for c in columns if c not in ("row", "step_saved_pct")))
