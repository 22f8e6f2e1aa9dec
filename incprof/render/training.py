"""Presentation of a training step (analysis.training.training_records): rich table, text,
markdown, CSV, JSON; the totals, the ratios and the memory beside the rules they follow."""

from __future__ import annotations

from ..records import Records
from ..units import human
from .grid import Grid, commas, grid_markdown, json_text, rows_csv


def _bytes(value: int) -> str:
    return f"{value:,} B ({human(value)}B)"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def summary_lines(records: Records) -> list[str]:
    """Totals, ratios, memory (modelled, and measured where run), the check, and the rules."""
    t, meta = records.attrs["totals"], records.attrs["meta"]
    m = t["memory"]
    batch = meta["batch_size"]
    lines = [
        f"Training step, {'per image' if batch == 1 else f'batch {batch}'}: forward "
        f"{t['forward_macs']:,} MACs + backward {t['backward_macs']:,} (input gradients "
        f"{t['input_grad_macs']:,}, weight gradients {t['weight_grad_macs']:,}) = "
        f"{t['step_macs']:,} MACs ({human(t['step_macs'])}); other ops: forward "
        f"{t['forward_other_ops']:,}, backward {t['backward_other_ops']:,}.",
        f"Training / inference MACs: {t['step_macs']:,} / {t['inference_macs']:,} (main network, "
        f"eval) = {t['training_over_inference_macs']:.4f}."]
    if t["aux_share"] is not None:
        lines.append(f"Aux heads' share of the step: {t['aux_step_macs']:,} MACs = "
                     f"{_share(t['aux_share'])}.")
    lines.append(
        f"Memory (modelled, {meta['optimizer']}): params {_bytes(m['param_bytes'])}, grads "
        f"{_bytes(m['grad_bytes'])}, optimizer state {_bytes(m['optimizer_bytes'])}, buffers "
        f"{_bytes(m['buffer_bytes'])}, input {_bytes(m['input_bytes'])}, saved for backward "
        f"{_bytes(m['saved_bytes'])}; peak {_bytes(m['peak_bytes'])}. Inference "
        f"{_bytes(m['inference_bytes'])}; training / inference memory "
        f"{m['training_over_inference']:.4f}.")
    measured = t.get("measured")
    if measured:
        verdict = "agree on every row" if measured["saved_agrees"] else "DIFFER (see the column)"
        lines.append(
            f"Measured on this CPU: peak {_bytes(measured['peak_bytes'])}; model / measured "
            f"{measured['model_over_measured']:.4f}. Saved bytes, model and "
            f"saved_tensors_hooks: {verdict}.")
    if t["check_agrees"] is not None:
        lines.append(
            (f"FlopCounterMode agrees on every row, and on the step: "
             f"{t['flop_counter_total']:,} MACs (FLOPs / 2)." if t["check_agrees"] else
             f"FlopCounterMode DISAGREES (see the FlopCounter column): {t['flop_counter_total']:,}"
             f" MACs against {t['flop_counter_expected']:,} expected."))
        if t["flop_counter_expected"] != t["step_macs"]:
            lines.append(f"FlopCounterMode's expected total, {t['flop_counter_expected']:,}, "
                         "exceeds the step's MACs by its grouped-conv weight gradients "
                         "(groups x their MACs).")
    if meta["frozen"]:
        lines.append(f"Frozen: {', '.join(meta['frozen'])}.")
    lines.append("Rules: " + meta["conventions"])
    return lines


def training_grid(records: Records, exact: bool = False) -> Grid:
    """The training step as a Grid."""
    number = commas if exact else human
    measured, verified = records.attrs["meta"]["measured"], records.attrs["meta"]["verified"]
    headers = [("row", "left"), ("fwd MACs", "right"), ("in-grad MACs", "right"),
               ("w-grad MACs", "right"), ("step MACs", "right"), ("bwd other ops", "right"),
               ("saved bytes", "right")] + ([("FlopCounter", "center")] if verified else [])
    if measured:
        headers.append(("hooks saved", "right"))
    cells = []
    for r in records.rows:
        check = "" if r["check_agrees"] is None else "=" if r["check_agrees"] else \
            f"{r['check_forward_macs']:,}/{r['check_input_grad_macs']:,}/" \
            f"{r['check_weight_grad_macs']:,}"
        row = [r["row"] + ("" if r["trained"] else " (frozen)"), number(r["forward_macs"]),
               number(r["input_grad_macs"]), number(r["weight_grad_macs"]),
               number(r["step_macs"]), number(r["backward_other_ops"]), number(r["saved_bytes"])]
        if verified:
            row.append(check)
        if measured:
            saved = r["measured_saved_bytes"]
            row.append("=" if saved == r["saved_bytes"] else f"{saved:,}")
        cells.append(row)
    meta = records.attrs["meta"]
    title = f"{meta['title']} ({meta['arch']}, {meta['flavor']}), one training step"
    return Grid(title, headers, cells, [r["aux"] for r in records.rows], [],
                summary_lines(records))


def to_markdown(records: Records) -> str:
    """Markdown with exact integers."""
    return grid_markdown(training_grid(records, exact=True))


def to_csv(records: Records) -> str:
    """CSV with raw integers, then a TOTAL line."""
    t = records.attrs["totals"]
    total = {"row": "TOTAL", **{k: t[k] for k in ("forward_macs", "input_grad_macs",
                                                  "weight_grad_macs", "backward_macs",
                                                  "step_macs", "forward_other_ops",
                                                  "backward_other_ops", "saved_bytes")}}
    return rows_csv(records.columns, records.rows + [total])


def to_json(records: Records) -> str:
    """JSON: meta (with the rules), rows and totals (memory, ratios, the check)."""
    return json_text({"meta": records.attrs["meta"], "rows": records.rows,
                      "totals": records.attrs["totals"]})


def referee_training_grid(result: dict) -> Grid:
    """The referee in training mode (referee.training.referee_training) as a Grid."""
    meta = result["meta"]
    given = meta["input"]  # a spec's shape, or a --model's inputs in words
    rows = [[t["tool"], t["version"], t["unit"], f"{t['reported']:,}", f"{t['predicted']:,}",
             f"{t['residual']:+,}" if t["residual"] else "0",
             ", ".join(f"{k} {v:+,}" for k, v in t["residual_from"].items())]
            for t in result["tools"]]
    zero = all(t["residual"] == 0 for t in result["tools"])
    p = result["predicted_from"]
    return Grid(
        f"{meta['title']}: a training step refereed ("
        f"{'model' if meta['flavor'] is None else meta['flavor'] + ' flavour'}, input "
        f"{given if isinstance(given, str) else 'x'.join(map(str, given))}, "
        f"batch {meta['batch_size']})",
        [("tool", "left"), ("version", "left"), ("unit", "left"), ("reported", "right"),
         ("predicted", "right"), ("residual", "right"), ("residual from", "left")], rows,
        summary=[("FlopCounterMode's training-step total is predicted to the unit." if zero else
                  "The residual is NOT zero: a row's count differs (see 'residual from')."),
                 f"Predicted: 2 x ({p['step_macs']:,} step MACs + {p['grouped_excess_macs']:,} "
                 "for grouped convs' weight gradients, which FlopCounterMode prices at groups x "
                 "their MACs). Reported: FlopCounterMode around a real forward and "
                 "loss.backward() on " + meta.get("ran_on", "meta tensors") + ".",
                 f"Not refereed in training mode: {', '.join(result['forward_only'])} count "
                 "forward passes only.",
                 "Rules: " + meta["conventions"]])


def comparison_grid(records: Records, exact: bool = False) -> Grid:
    """Two training steps side by side (analysis.training.compare_training_records)."""
    number = commas if exact else human
    meta, t = records.attrs["meta"], records.attrs["totals"]
    a, b = meta["labels"]

    def cell(value) -> str:
        return "" if value is None else number(value)

    cells = [[r["row"], cell(r["a_step_macs"]), cell(r["b_step_macs"]),
              cell(r["a_backward_macs"]), cell(r["b_backward_macs"]), cell(r["a_saved_bytes"]),
              cell(r["b_saved_bytes"]),
              "" if r["step_saved_pct"] is None else f"{r['step_saved_pct']:+.1f}%"]
             for r in records.rows]
    ta, tb = t["a"], t["b"]
    summary = [
        f"Step MACs: {a} {ta['step_macs']:,}, {b} {tb['step_macs']:,} (A/B "
        f"{t['step_ratio']}); training / inference MACs: {a} "
        f"{ta['training_over_inference_macs']}, {b} {tb['training_over_inference_macs']}.",
        f"Modelled peak memory ({meta['optimizer']}): {a} {_bytes(ta['memory']['peak_bytes'])}, "
        f"{b} {_bytes(tb['memory']['peak_bytes'])} (A/B {t['peak_ratio']}).",
        "saved = 1 - B/A of the step's MACs (negative: B costs more)."]
    if t["check_agrees"] is not None:
        summary.append("FlopCounterMode agrees on every row of both steps." if t["check_agrees"]
                       else "FlopCounterMode DISAGREES on a row (run table --mode train on each).")
    summary.append("Rules: " + meta["conventions"])
    return Grid(f"A training step: {a} against {b}",
                [("row", "left"), (f"{a} step MACs", "right"), (f"{b} step MACs", "right"),
                 (f"{a} bwd MACs", "right"), (f"{b} bwd MACs", "right"),
                 (f"{a} saved bytes", "right"), (f"{b} saved bytes", "right"),
                 ("B saves", "right")], cells, summary=summary)


def model_training_grid(records: Records, exact: bool = False) -> Grid:
    """A --model's training step (analysis.model_training) as a Grid."""
    number = commas if exact else human
    t, meta = records.attrs["totals"], records.attrs["meta"]
    cells = [[r["row"], number(r["forward_macs"]), number(r["input_grad_macs"]),
              number(r["weight_grad_macs"]), number(r["step_macs"]),
              "=" if r["check_agrees"] else f"{r['check_forward_macs']:,}/"
              f"{r['check_input_grad_macs']:,}/{r['check_weight_grad_macs']:,}"]
             for r in records.rows]
    summary = [
        f"{meta['model']} ({meta['class']}), input {meta['input']}, batch {meta['batch_size']}, "
        "rows: "
        f"modules at depth {meta['depth']}.",
        f"Training step: forward {t['forward_macs']:,} MACs + backward {t['backward_macs']:,} "
        f"(input gradients {t['input_grad_macs']:,}, weight gradients "
        f"{t['weight_grad_macs']:,}) = {t['step_macs']:,} MACs.",
        ("FlopCounterMode agrees on every row." if t["check_agrees"] else
         "FlopCounterMode DISAGREES on a row (see the FlopCounter column: forward/input/weight)."),
        "Rules: " + meta["conventions"]]
    return Grid(f"{meta['model']}: one training step",
                [("row", "left"), ("fwd MACs", "right"), ("in-grad MACs", "right"),
                 ("w-grad MACs", "right"), ("step MACs", "right"), ("FlopCounter", "center")],
                cells, summary=summary)
