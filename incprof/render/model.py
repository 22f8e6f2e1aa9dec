"""Presentation of a model profile (capture.rows.profile_model_records): rich table, text, markdown,
CSV, JSON. Every format lists the ops that have no counting rule."""

from __future__ import annotations

from ..records import Records
from ..units import cpu_threads, human
from .grid import (Grid, commas, conditions, grid_markdown, grid_text, json_text,
                   ms_cell, rows_csv, sweep_latency_note, unstable_note)
from .measure import one_image, prediction_cells, prediction_lines, profile_named


def summary_lines(records: Records) -> list[str]:
    """Totals (the second line), what they exclude, shared modules and the FlopCounterMode
    check (the counting rules are the Grid's conventions)."""
    t, meta = records.attrs["totals"], records.attrs["meta"]
    lines = [f"{meta['model']} ({meta['class']}), {input_text(meta)}, "
             f"rows: modules at depth {meta['depth']}, captured with {meta['capture']}.",
             f"Total: params {t['params']:,} ({human(t['params'])}), MACs {t['macs']:,} "
             f"({human(t['macs'])}), other ops {t['other_ops']:,}."]
    missing = t["not_counted"]
    lines.append("not counted: " + (", ".join(f"{op} x {k}" for op, k in missing.items())
                                    + "; the totals exclude them." if missing else
                                    "none (every op has a counting rule)."))
    idle = [r for r in records.rows if r["calls"] == 0]
    if idle:
        lines.append(f"never called (eval, this input): {', '.join(r['row'] for r in idle)}; "
                     f"their {sum(r['params'] for r in idle):,} params are in the total.")
    for r in records.rows:
        if r["calls"] > 1 or r["shared_params"]:
            lines.append(f"shared: {r['row']} runs {r['calls']} time(s); its MACs are counted per "
                         f"call, its params once" + (f" ({r['shared_params']:,} params already "
                                                     "counted in an earlier row)"
                                                     if r["shared_params"] else "") + ".")
    for r in records.rows:
        if r["no_flop_formula"]:
            lines.append(f"{r['row']}: FlopCounterMode has no formula for {r['no_flop_formula']} "
                         f"(counts it as 0); incprof's rule gives it {r['no_flop_formula_macs']:,} "
                         f"MACs, and FlopCounterMode counts the other {r['flop_counter_macs']:,}.")
    ruled = t.get("no_flop_formula_macs", 0)
    lines.append(("FlopCounterMode (FLOPs / 2) agrees with the per-op count on every row: "
                  f"{t['flop_counter_macs']:,} MACs" + (
                      f", plus {ruled:,} by incprof's rule where it has no formula." if ruled
                      else ".") if t["flop_counter_agrees"] else
                  "FlopCounterMode DISAGREES with the per-op count (see the FlopCounter column): "
                  f"{t['flop_counter_macs']:,} MACs against {t['macs']:,}."))
    lines += [f"not shown: {line}." for line in records.attrs.get("not_shown", [])]
    timing = records.attrs.get("latency")
    if timing:
        env = timing["env"]
        whole = timing["network_ms"]
        lines.append(f"MACHINE-DEPENDENT: latency is each row's module alone on the inputs it gets "
                     f"in the model (a row run more than once, or a parent's own ops: not timed), "
                     f"median ms on {env['device']} ({env['device_type']}), torch {env['torch']}, "
                     f"{env['dtype']}, {cpu_threads(env['threads'])}{conditions(env)}; the whole "
                     f"model: " + (whole if isinstance(whole, str) else
                                   ms_cell(whole, timing["network_unstable"]) + " ms") + ".")
        lines.append(unstable_note(env))
        if t.get("prediction") is None:
            lines.append("Predicted beside measured (docs/latency.md): none, no device profile "
                         "calibrated for this device, thread count, dtype and torch; 'incprof "
                         "calibrate' writes one, or give --device-profile.")
    return lines + prediction_lines(records)


def _flop_cell(row: dict) -> str:
    """'=' where FlopCounterMode agrees, '= (no formula)' where it does once the ops it has no
    formula for are added by incprof's rule, else FlopCounterMode's figure."""
    if row["flop_counter_macs"] + row["no_flop_formula_macs"] != row["macs"]:
        return f"{row['flop_counter_macs']:,}"
    return "= (no formula)" if row["no_flop_formula"] else "="


def input_text(meta: dict) -> str:
    """'input 224x224x3, batch 1' for one image (as the specs print it); else every input as
    --input spells it: 'inputs input_ids=1x128:int64, batch 1'."""
    if one_image(meta):
        n, c, h, w = meta["input"]
        return f"input {h}x{w}x{c}, batch {n}"
    return f"inputs {meta['inputs']}, batch {meta['batch_size']}"


def model_grid(records: Records, exact: bool = False) -> Grid:
    """The model profile as a Grid."""
    number = commas if exact else human
    headers = [("row", "left"), ("module", "left"), ("calls", "right"), ("output", "right"),
               ("params", "right"), ("MACs", "right"), ("other ops", "right"),
               ("FlopCounter", "center"), ("ops", "left"), ("not counted", "left")]
    views = records.attrs.get("views", [])
    memory, timed = "activation_bytes" in views, "latency_ms" in views
    predicted = "predicted_ms" in views
    headers[4:4] = ([("activations", "right")] * memory + [("latency ms", "right")] * timed
                    + [("predicted ms", "right"), ("bound", "left"),
                       *[("error", "right")] * timed] * predicted)
    cells = [[r["row"], r["module"], str(r["calls"]), r["output_size"],
              *([f"{human(r['activation_bytes'])}B" if r["activation_bytes"] is not None else ""]
                if memory else []),
              *([ms_cell(r["latency_ms"], r["latency_unstable"])] if timed else []),
              *(prediction_cells(r, timed) if predicted else []),
              number(r["params"]), number(r["macs"]), number(r["other_ops"]),
              _flop_cell(r),
              r["ops"], r["not_counted"]] for r in records.rows]
    summary = summary_lines(records)
    return Grid(records.attrs["meta"]["model"], headers, cells, [], [], summary,
                conventions="Rules: " + records.attrs["meta"]["rules"], total=summary[1])


def to_text(records: Records) -> str:
    """Plain text: the table and the summary."""
    return grid_text(model_grid(records))


def to_markdown(records: Records) -> str:
    """Markdown with exact integers."""
    return grid_markdown(model_grid(records, exact=True))


def to_csv(records: Records) -> str:
    """CSV with raw integers, then a TOTAL line whose not_counted cell lists the uncounted ops;
    with a prediction, each predicted row names its profile (render.measure.profile_named)."""
    t = records.attrs["totals"]
    total = {"row": "TOTAL", "params": t["params"], "macs": t["macs"], "other_ops": t["other_ops"],
             "flop_counter_macs": t["flop_counter_macs"],
             "not_counted": ", ".join(f"{op} x {k}" for op, k in t["not_counted"].items())}
    columns, rows = profile_named(records)
    return rows_csv(columns, rows + [total])


def to_json(records: Records) -> str:
    """JSON: meta, rows and totals (totals.not_counted: op -> calls)."""
    return json_text({"meta": records.attrs["meta"], "rows": records.rows,
                      "totals": records.attrs["totals"],
                      **({"latency": records.attrs["latency"]} if records.attrs.get("latency") else {}),
                      **({"not_shown": records.attrs["not_shown"]} if records.attrs.get("not_shown")
                         else {})})


def sweep_grid(records: Records, exact: bool = False) -> Grid:
    """A model's sweep over inputs (analysis.model_views.sweep_model_records) as a Grid."""
    number = commas if exact else human
    meta, env = records.attrs["meta"], records.attrs["meta"]["latency_env"]
    rows = [[r["input"], "yes" if r["valid"] else "no", number(r["params"]), number(r["macs"]),
             r["output"] or "", *([ms_cell(r["latency_ms"], r["latency_unstable"])] if env else []),
             r["not_counted"] or "", r["reason"] or ""] for r in records.rows]
    machine = sweep_latency_note(env, "the whole model's median")
    return Grid(
        f"{meta['model']} ({meta['class']}): input sweep",
        [("input", "right"), ("valid", "center"), ("params", "right"), ("MACs", "right"),
         ("last row's output", "right"), *([("latency ms", "right")] if env else []),
         ("not counted", "left"), ("why not", "left")], rows, wrap=(6 if env else 5,),
        summary=["Each input counted from the model's captured rows, eval mode; MACs for the whole "
                 "batch, ops without a rule listed and left out of the totals. A receptive field "
                 "and peak live memory are a spec's geometry: export the model for them.",
                 *machine])
