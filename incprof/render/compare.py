"""Comparisons as Grids, JSON and CSV: two networks or modules side by side (incprof.analysis.compare), the
factorization lab's tables (incprof.analysis.lab), and resolution sweeps and the low-resolution experiment
(incprof.analysis.sweep)."""

from __future__ import annotations

from ..analysis.compare import output_values
from ..records import Records
from ..units import cpu_threads, human
from .grid import (Grid, commas, conditions, ms_cell, rows_csv, sweep_latency_note,
                   unstable_note)


def fewer(saving_pct) -> str:
    """A saving as '12.3% fewer' or, negative, '4.5% more'; 'no' for a missing one."""
    if saving_pct is None:
        return "no"
    return f"{saving_pct}% fewer" if saving_pct >= 0 else f"{-saving_pct}% more"


def comparison_grid(records: Records, exact: bool = False, compact: bool = False) -> Grid:
    """A module- or network-level comparison (see incprof.analysis.compare) as a Grid; ``compact`` (the
    terminal's narrow form) heads the columns A and B, named in the title, on two lines."""
    number = commas if exact else human
    meta, t = records.attrs["meta"], records.attrs["totals"]
    a, b = meta["a"], meta["b"]
    module = meta["level"] == "module"
    rows = records.rows
    verified = meta["verified"]
    check = verified and not (compact and t.get("check_agrees"))  # the summary says it agrees
    ha, hb, sep = ("A", "B", "\n") if compact else (a, b, " ")
    headers = [("row", "left"), *([("input", "right")] if module else []),
               (f"{ha} out", "right"), (f"{hb} out", "right"), (f"{ha}{sep}params", "right"),
               (f"{hb}{sep}params", "right"), (f"{ha}{sep}MACs", "right"),
               (f"{hb}{sep}MACs", "right"), (f"MACs{sep}ratio", "right"),
               (f"MACs{sep}saved", "right"), (f"params{sep}saved", "right"),
               *([("FlopCounter", "center")] if check else [])]
    groups = [0, *([1] if module else []), 1, 1, 2, 2, 2, 2, 3, 3, 3, *([3] if check else [])]
    timed = meta.get("latency_env") is not None
    if timed:
        headers += [(f"{ha} ms", "right"), (f"{hb} ms", "right")]
        groups += [4, 4]

    def ratio(v):
        return "" if v is None else f"{v:.2f}x"

    def saved(v):
        return "" if v is None else f"{v:.1f}%"

    cells = []
    for r in rows + [{"row": "total", "input": "", "a_output": "", "b_output": "", **t}]:
        ok = all(r.get(f"{s}_check_{k}") == r.get(f"{s}_{k}") for s in "ab"
                 for k in ("params", "macs"))
        cells.append([r["row"], *([r["input"]] if module else []), r["a_output"], r["b_output"],
                      number(r["a_params"]), number(r["b_params"]), number(r["a_macs"]),
                      number(r["b_macs"]), ratio(r["macs_ratio"]), saved(r["macs_saving_pct"]),
                      saved(r["params_saving_pct"]),
                      *([("=" if ok else "DIFFERS") if r["row"] != "total" else ""]
                        if check else []),
                      *([ms_cell(r.get("a_latency_ms"), r.get("a_latency_unstable")),
                         ms_cell(r.get("b_latency_ms"), r.get("b_latency_unstable"))] if timed else [])])
    summary = [f"Totals over these rows, batch {meta['batch_size']}, inference (no aux heads): "
               f"{a} {t['a_params']:,} params and {t['a_macs']:,} MACs; {b} {t['b_params']:,} "
               f"params and {t['b_macs']:,} MACs. {b} needs {fewer(t['macs_saving_pct'])} MACs "
               f"and {fewer(t['params_saving_pct'])} params than {a} ({a}/{b} = "
               f"{t['macs_ratio']}x MACs).",
               f"A = {a} ({meta['a_title']}); B = {b} ({meta['b_title']})."]
    if module:
        summary.append(f"Each row is counted on the input it has in {b}, so the two columns "
                       "compare like with like.")
    wider = [r["row"] for r in rows  # the same values compare equal: 1x1x512 and 512
             if output_values(r["a_output"]) != output_values(r["b_output"])]
    if wider:
        summary.append(f"Output sizes differ in {len(wider)} of {len(rows)} rows "
                       f"({', '.join(wider[:3])}{', ...' if len(wider) > 3 else ''}).")
    for side, label in (("only_in_a", a), ("only_in_b", b)):
        if meta.get(side):
            summary.append(f"Rows only in {label}: {', '.join(meta[side])}.")
    if verified:
        summary.append("FlopCounterMode on the built modules (an empty batch): " + (
            "agrees with the analytic counts on every row." if t.get("check_agrees")
            else "DISAGREES with the analytic counts (see the FlopCounter column)."))
    if timed:
        env = meta["latency_env"]
        summary.append(f"MACHINE-DEPENDENT: latency columns are medians on {env['device']} "
                       f"({env['device_type']}), torch {env['torch']}, {env['dtype']}, batch "
                       f"{env['batch_size']}, {env['memory_format']}, {cpu_threads(env['threads'])}"
                       f"{conditions(env)}; the total row of a network comparison is "
                       "each whole network end to end.")
        summary.append(unstable_note(env))
    # The answer first: the counts and savings before the shapes (group 1), which a narrow
    # terminal then moves to the continued table.
    order = sorted(range(len(headers)), key=lambda i: (groups[i] == 1, i))
    headers, groups = [headers[i] for i in order], [groups[i] for i in order]
    cells = [[row[i] for i in order] for row in cells]
    title = (f"{a} vs {b}, per module" if module else f"{a} vs {b}, whole networks")
    if compact:
        title = f"A = {a} vs B = {b}, " + ("per module" if module else "whole networks")
    return Grid(title, headers, cells, summary=summary, groups=groups,
                conventions="Conventions: " + meta["conventions"], total=summary[0])


def comparison_payload(comparisons: list[Records]) -> dict:
    """Comparisons as one JSON-ready dict, keyed by level."""
    return {c.attrs["meta"]["level"]: {"meta": c.attrs["meta"], "rows": c.rows,
                                       "totals": c.attrs["totals"]} for c in comparisons}


def comparison_csv(comparisons: list[Records]) -> str:
    """Comparisons as one CSV with a ``level`` column and a total row per level."""
    columns = list(dict.fromkeys(name for c in comparisons for name in ["level", *c.columns]))
    rows = [{"level": c.attrs["meta"]["level"], **row} for c in comparisons
            for row in c.rows + [{"row": "TOTAL", **{k: v for k, v in c.attrs["totals"].items()
                                                     if k in c.columns}}]]
    return rows_csv(columns, rows)


def factorization_grids(rules: Records, grid: Records, exact: bool = False,
                        compact: bool = False) -> list[Grid]:
    """The factorization lab's two tables (see incprof.analysis.lab) as Grids; ``compact`` (the terminal's
    narrow form) heads columns on two lines and leaves out the FlopCounter column when it agrees
    on every row."""
    number = commas if exact else human
    m, g = rules.attrs["meta"], grid.attrs["meta"]
    sep = "\n" if compact else " "
    agreed = ("FlopCounterMode on the built convs (an empty batch) agrees with every MACs figure "
              "in this table.")
    verified = m["verified"] and not (
        compact and all(r["check_agrees"] for r in rules.rows))
    check = [("FlopCounter", "center")] if verified else []
    rule_rows = [[r["rule"], number(r["original_macs"]), number(r["factorized_macs"]),
                  f"{r['saving_per_position_pct']:.1f}%", f"{r['saving_on_grid_pct']:.1f}%",
                  "" if r["paper_saving_pct"] is None else f"{r['paper_saving_pct']:.0f}%",
                  *(["=" if r["check_agrees"] else "DIFFERS"] if verified else [])]
                 for r in rules.rows]
    first = Grid(
        f"Factorizing one conv: {m['cin']} -> {m['cout']} channels on a {m['size']}x{m['size']} grid",
        [("rule", "left"), (f"MACs{sep}before", "right"), (f"MACs{sep}after", "right"),
         (f"saved per{sep}position", "right"), (f"saved on{sep}the grid", "right"),
         (f"v3 paper{sep}says", "right"), *check],
        rule_rows,
        summary=["Each factorized conv keeps the original's output width for both of its convs, "
                 "so 'saved per position' is the saving in weights (k_h*k_w*C_in*C_out), the "
                 "measure the paper uses. 'saved on the grid' counts every output position with "
                 "the padding used: two 2x2 convs need a 1-pixel larger intermediate grid"
                 + "".join(f", so they save {r['saving_on_grid_pct']:.1f}% on this grid against "
                           f"{r['saving_per_position_pct']:.1f}% per position"
                           for r in rules.rows if r["rule"] == "3x3 -> two 2x2") + ".",
                 "Sources: " + "; ".join(r["paper_source"] for r in rules.rows
                                         if r["paper_source"] and r["paper_saving_pct"])
                 + ".", *([agreed] if m["verified"] and not verified else [])])
    grid_verified = g["verified"] and not (
        compact and all(r["check_agrees"] for r in grid.rows))
    costs = {r["form"]: r["relative_to_conv_then_pool"] for r in grid.rows}
    grid_rows = [[r["form"], r["output"], number(r["macs"]), f"{r['macs_per_d2k2']:g}",
                  f"{r['relative_to_conv_then_pool']:g}", r["description"],
                  *(["=" if r["check_agrees"] else "DIFFERS"] if grid_verified else [])]
                 for r in grid.rows]
    second = Grid(
        f"Grid reduction {g['d']}x{g['d']}x{g['k']} -> {g['d'] // 2}x{g['d'] // 2}x{2 * g['k']} "
        f"with {g['kernel']}x{g['kernel']} convs",
        [("form", "left"), ("output", "right"), ("MACs", "right"), (f"MACs /{sep}(d²k²)", "right"),
         (f"vs conv{sep}then pool", "right"), ("what it is", "left"),
         *([("FlopCounter", "center")] if grid_verified else [])],
        grid_rows, wrap=(5,),
        summary=[f"The paper's 2d²k² for conv then pool counts one kernel tap; with "
                 f"{g['kernel']}x{g['kernel']} kernels it is 2·{g['kernel'] ** 2}·d²k² = "
                 f"{2 * g['kernel'] ** 2}d²k² (--grid-kernel 1 gives the paper's 2). Pool then "
                 f"conv costs {costs['pool then conv']:g}x conv then pool but squeezes the "
                 "representation through k channels at d/2 (a bottleneck); the parallel module "
                 f"costs {costs['parallel']:g}x and has none.",
                 "MACs: conv and linear multiply-accumulates per image; pooling is not counted.",
                 *([agreed] if g["verified"] and not grid_verified else [])])
    return [first, second]


def _first_clause(reason: str | None) -> str:
    """Why an input size fails, on one line: its first clause, the row named without quotes
    ("pool3: max pool kernel 3x3 is larger than its padded input 2x2"); csv and json keep it
    whole."""
    if not reason:
        return ""
    text = reason.split("; ")[0]
    if text.startswith("row '") and "': " in text:
        row, rest = text[len("row '"):].split("': ", 1)
        text = f"{row}: {rest}"
    return text


def sweep_grid(records: Records, exact: bool = False) -> Grid:
    """A resolution sweep (see incprof.analysis.sweep) as a Grid: a narrow terminal shows the
    reasons a size fails in a table of their own, one line each."""
    number = commas if exact else human
    meta = records.attrs["meta"]
    env = meta["latency_env"]
    rows = [[r["input"], "yes" if r["valid"] else "no", number(r["params"]), number(r["macs"]),
             r["final_feature_map"] or "", r["receptive_field"] or "",
             f"{human(r['peak_activation_bytes'])}B" if r["valid"] else "",
             *([ms_cell(r["latency_ms"], r["latency_unstable"])] if env else []), _first_clause(r["reason"])]
            for r in records.rows]
    smallest = meta["min_input_size"]
    machine = sweep_latency_note(env, "the whole network's median at batch 1")
    return Grid(
        f"{meta['title']}: input resolution sweep",
        [("input", "right"), ("valid", "center"), ("params", "right"), ("MACs", "right"),
         (f"{meta['last_conv_row']} output", "right"), ("its receptive field", "right"),
         ("peak live", "right"), *([("latency ms", "right")] if env else []), ("why not", "left")],
        rows, groups=[0, 1, 1, 1, 1, 1, 1, *([1] if env else []), 2],
        summary=[("The smallest square input every row accepts is "
                  f"{smallest}x{smallest}." if smallest else
                  "No square input up to the native size is accepted."),
                 "Inference, no aux heads; MACs are conv and linear multiply-accumulates per "
                 f"image; peak live activations at {meta['dtype']}. " + (
                     "Params differ across these sizes: a linear layer reads a feature map whose "
                     "size follows the input." if len({r["params"] for r in records.rows
                                          if r["params"] is not None}) > 1 else
                     "Params are the same at every valid size: no layer's weights depend on the "
                     "grid."), *machine])


def lowres_grid(lowres: Records) -> Grid:
    """The low-resolution experiment (sweep.lowres_records) as a Grid, with its verdict."""
    m = lowres.attrs["meta"]
    cells = [[r["variant"], r["input"], r["change"], r["stem_output"], f"{r['params']:,}",
              f"{r['macs']:,}", f"{r['macs_vs_299_pct']:+.2f}%",
              "yes" if r["within_1pct"] else "no"] for r in lowres.rows]
    worst = max(lowres.rows, key=lambda r: abs(r["macs_vs_299_pct"]))
    return Grid(
        f"{m['title']}: the paper's low-resolution networks",
        [("network", "left"), ("input", "right"), ("first layers", "left"),
         ("into the first module", "right"), ("params", "right"), ("MACs", "right"),
         (f"MACs vs {m['reference']}", "right"), ("within 1%", "center")], cells,
        summary=[f"The paper's claim: {m['claim']}.",
                 "Read here as: conv_1a, the only one of the first two layers with a stride, "
                 "at stride 1 for 151x151 and 79x79; pool_1, the first pooling layer, removed "
                 "for 79x79 (see incprof.spec.variants.lowres).",
                 f"Rule: {m['rule']}. Verdict: the claim "
                 f"{'holds' if m['claim_holds'] else 'does not hold'} for these counts; the "
                 f"largest difference is {worst['macs_vs_299_pct']:+.2f}% ({worst['variant']}).",
                 "Inference, no aux heads; MACs per image."])
