"""A profile (analysis.profile.profile_records) as a Grid, text, markdown, CSV or JSON: the rows,
their notes, and the summary sentences. Presentation only."""

from __future__ import annotations

from ..records import Records
from ..spec.model import FILTER_COLUMNS
from ..units import cpu_threads, human
from .measure import prediction_cells, prediction_lines, profile_named
from .grid import (Grid, commas, conditions, grid_markdown, grid_text, json_text,
                   ms_cell, rows_csv, signed_pct, unstable_note)

FILTER_HEADERS = dict(zip(FILTER_COLUMNS, ("#1x1", "#3x3 red", "#3x3", "#5x5 red", "#5x5",
                                           "pool proj")))
FILTER_SHORT = dict(zip(FILTER_COLUMNS, ("1x1", "3r", "3", "5r", "5", "pp")))


def _check_cell(row: dict) -> str:
    if row["check_params"] is None:
        return ""
    ok = row["check_params"] == row["params"] and row["check_macs"] == row["macs"]
    return "=" if ok else f"{row['check_params']:,} / {row['check_macs']:,}"


def _notes(rows: list[dict], flavor: str = "paper") -> list[str]:
    """One numbered note per flagged row. A spec's reasons explain the paper's network, so another
    flavour's notes give the flags alone and one line on why its figures differ."""
    flagged = [r for r in rows if r["flag"]]
    paper = flavor == "paper"
    notes = [f"[{i}] {r['row']}: {r['flag']}." + (f" {r['reason']}" if paper and r["reason"] else "")
             for i, r in enumerate(flagged, 1)]
    if flagged and not paper:
        notes.append(f"The {flavor} flavour builds a different network from the paper's, so the "
                     "paper's printed figures are not expected to match it; the spec's notes on "
                     "these rows explain the paper flavour (--flavor paper).")
    return notes


def summary_lines(records: Records) -> list[str]:
    """The totals (the second line), the depth check and the FlopCounterMode cross-check, as
    sentences (the conventions are the Grid's own paragraph)."""
    t, meta = records.attrs["totals"], records.attrs["meta"]
    batch = meta["batch_size"]
    per = f"batch {batch}" + ("" if batch == 1 else f" (x{batch} per-image figures)")
    c, h, w = meta["input"]
    lines = [
        f"{meta['title']} [{meta['arch']}, flavour {meta['flavor']}], input {h}x{w}x{c}, {per}.",
        f"Total, inference (no aux heads): params {t['params']:,} ({human(t['params'])}), "
        f"MACs {t['macs']:,} ({human(t['macs'])}), other ops {t['other_ops']:,}.",
    ]
    if meta["aux_heads"]:
        heads = ", ".join(f"{name} after {after}" for name, after in meta["aux_heads"].items())
        lines.append(f"Total with aux heads ({heads}; training only): "
                     f"params {t['params_with_aux']:,} ({human(t['params_with_aux'])}), "
                     f"MACs {t['macs_with_aux']:,} ({human(t['macs_with_aux'])}).")
    if t["paper_depth"] is not None:
        mark = "matches" if t["depth"] == t["paper_depth"] else "differs"
        lines.append(f"Depth: {t['depth']} layers with parameters on the longest path; the paper "
                     f"says {t['paper_depth']} ({mark}).")
    for p in t["published"]:
        which = "with" if p["aux"] else "without"
        at = f"input {p['input'][0]}x{p['input'][1]}"
        if p["params_not_comparable"]:
            lines.append(f"{p['source']} publishes {p['params']:,} params ({which} aux heads, "
                         f"{at}): not comparable ({p['params_not_comparable']}).")
        if p["macs_not_comparable"]:
            lines.append(f"{p['source']} publishes {p['macs']} MACs ({at}): not comparable "
                         f"({p['macs_not_comparable']}).")
        if p["params"] is not None and p["params_matches"] is not None:
            lines.append(f"{p['source']} publishes {p['params']:,} params ({which} aux heads): "
                         f"{'matches exactly' if p['params_matches'] else 'DIFFERS'}.")
        if p["macs"] is not None and p["macs_matches"] is not None:
            lines.append(f"{p['source']} publishes {p['macs']} (conv and linear MACs per image): "
                         f"{'matches' if p['macs_matches'] else 'DIFFERS'} at that precision.")
    if t["paper_params_sum"] is not None and meta["paper_figures_apply"]:
        lines.append(f"Paper column sums: params {t['paper_params_sum']:,}, ops "
                     f"{t['paper_ops_sum'] or 0:,}.")
    if not meta["paper_figures_apply"]:
        lines.append("The paper's printed sizes, params and ops describe its own network at the "
                     "spec's input size: not comparable "
                     f"({meta.get('paper_figures_not_comparable') or 'other input'}).")
    rf = t["receptive_field"]
    last = [r["row"] for r in records.rows if not r["aux"]][-1]
    lines.append(f"Receptive field of the last row ({last}): "
                 f"{rf[0]}x{rf[1]} input pixels. Peak live "
                 f"activations of one inference pass: {human(t['peak_activation_bytes'])}B at "
                 f"{meta['dtype']}, batch {batch} (a model: each layer's input and output, and "
                 "every branch output until the concatenation).")
    if t["bottlenecks"]:
        lines.append(f"Representational bottlenecks (output more than "
                     f"{meta['bottleneck_factor']:g}x smaller than the previous row's; v3 paper, "
                     f"section 2, principle 1): {', '.join(t['bottlenecks'])}.")
    if t["check_agrees"] is None:
        lines.append("FlopCounterMode cross-check: not run (--no-verify).")
    else:
        lines.append("FlopCounterMode on the built network (an empty batch): "
                     + ("agrees with the analytic params and MACs on every row"
                        if t["check_agrees"] else "DISAGREES with the analytic counts (see "
                                                   "the FlopCounter column)")
                     + ("; the Conv2d and Linear output sizes agree with the analytic ones."
                        if t["check_mac_outputs_agree"] else
                        "; the Conv2d and Linear output sizes DISAGREE with the analytic ones."))
        if t.get("check_zero_ops"):
            lines.append("FlopCounterMode counted as zero (ops it has no FLOP formula for): "
                         + ", ".join(
                             f"{op} x{n}" for op, n in t["check_zero_ops"].items()) + ".")
    return lines


# Extra column groups for `incprof table --columns`.
COLUMN_GROUPS = ("rf", "memory", "bottleneck")


def _extra_cells(r: dict, groups, number) -> list[str]:
    cells = []
    if "rf" in groups:
        cells += [f"{r['rf_h']}x{r['rf_w']}", f"{r['jump_h']}x{r['jump_w']}"]
    if "memory" in groups:
        cells += [number(r["activations"]), f"{human(r['activation_bytes'])}B",
                  f"{human(r['peak_activation_bytes'])}B"]
    if "bottleneck" in groups:
        ratio = r["representation_ratio"]
        cells += ["" if ratio is None else f"{ratio:g}x", "yes" if r["bottleneck"] else ""]
    return cells


def _latency_cells(r: dict, peaks: bool) -> list[str]:
    if r["latency_ms"] is None:
        return [r["latency_error"] or "", "", "", f"{r['macs_per_byte']:g}", *([""] * peaks)]
    fraction = r["peak_fraction"]
    return [ms_cell(r["latency_ms"], r["latency_unstable"]),
            f"{r['latency_p10_ms']:.3f}-{r['latency_p90_ms']:.3f}",
            f"{r['gmacs_per_s']:.1f}", f"{r['macs_per_byte']:g}",
            *([("" if fraction is None else f"{fraction:.1%}")] if peaks else [])]


def latency_lines(records: Records) -> list[str]:
    """The machine-dependent part of a profile's summary: whole network, sum of rows, environment."""
    env, t = records.attrs["meta"].get("latency_env"), records.attrs["totals"].get("latency")
    if env is None:
        return []
    network = t["network"]
    if isinstance(network, str):
        whole = network
    else:
        block = network["calls_per_repeat"]
        whole = (f"{network['median_ms']:.3f} ms median (p10 {network['p10_ms']:.3f}, p90 "
                 f"{network['p90_ms']:.3f}, {network['repeats']} repeats"
                 + (f" of {block} calls" if block > 1 else "")
                 + f" after {network['warmup']} warm-up calls"
                 + (f"; UNSTABLE: {network['unstable']}" if network["unstable"] else "") + ")")
    lines = [f"MACHINE-DEPENDENT: latency on {env['device']} ({env['device_type']}), torch "
             f"{env['torch']}, CUDA {env['cuda'] or '-'}, cuDNN {env['cudnn'] or '-'}, "
             f"{env['dtype']} ({env['dtype_method']}), batch {env['batch_size']}, "
             f"{env['memory_format']}, {cpu_threads(env['threads'])}"
             + (", torch.compile" if env["compile"] else "") + conditions(env) + ".",
             f"Whole network (eval, no aux heads): {whole}; sum of the rows timed alone: "
             f"{t['sum_of_rows_ms']:.3f} ms.", unstable_note(env)]
    if t["measured_peak_bytes"] is not None:
        lines.append(f"Measured peak memory of one forward pass ({env['measured_peak_method']}, "
                     f"beyond the weights and input): {human(t['measured_peak_bytes'])}B"
                     + (f", {t['measured_over_model_peak']}x the peak-live-activation model"
                        if t["measured_over_model_peak"] is not None else "") + ".")
    if env["peak"]:
        conv, linear = env["peak"]["conv"], env["peak"]["linear"]
        lines.append(f"'of peak' is achieved MAC/s over the dense peak of the math each row runs "
                     f"({conv['source']}): convs {conv['math']} {conv['tflops']:g} TFLOPS, "
                     f"linear layers {linear['math']} {linear['tflops']:g} TFLOPS; memory "
                     f"bandwidth {conv['bytes_per_s'] / 1e12:g} TB/s.")
    if t["compile_s"] is not None:
        lines.append(f"torch.compile took {t['compile_s']:.1f} s before the timed runs (rows "
                     "are timed eager).")
    lines.append("MAC/byte is MACs over the bytes a row reads and writes (input, weights, output "
                 "at the dtype): rows far below a device's MACs-per-byte balance point are "
                 "memory-bound, which is why latency does not follow MACs.")
    return lines


def _filters_cell(r: dict, filters) -> str:
    """The filter columns as one cell, '64/96/128/16/32/32' ('-' for a missing one; empty when
    all are)."""
    cells = [commas(r[f]) or "-" for f in filters]
    return "" if set(cells) == {"-"} else "/".join(cells)


def profile_grid(records: Records, exact: bool = False, columns=(), compact: bool = False) -> Grid:
    """The profile as a Grid; ``exact`` writes full integers instead of 3-figure ones, and
    ``columns`` adds groups of COLUMN_GROUPS ('all' adds every group). ``compact`` is the
    terminal's narrow form: note marks beside the row names, two-line headers, the six filter
    columns in one cell after the paper's, and no FlopCounter column when it agrees on every row
    (the summary says so)."""
    number = commas if exact else human
    groups = COLUMN_GROUPS if "all" in columns else tuple(columns)
    rows = records.rows
    show_filters = [f for f in FILTER_COLUMNS if any(r[f] is not None for r in rows)]
    sep = "\n" if compact else " "
    marks, note = [], 0
    for r in rows:
        note += bool(r["flag"])
        marks.append(f"[{note}]" if r["flag"] else "")
    # (header, justify, group, cell of a row and its note mark)
    spec = [("row", "left", 0, (lambda r, m: f"{r['row']} {m}".rstrip()) if compact else
             (lambda r, m: r["row"])), ("type", "left", 1, lambda r, m: r["type"]),
            ("output", "right", 1, lambda r, m: r["output_size"]),
            ("depth", "right", 1, lambda r, m: str(r["depth"]))]
    filters = [(FILTER_HEADERS[f], "right", 4, lambda r, m, f=f: commas(r[f])) for f in show_filters]
    if compact and show_filters:
        filters = [("filters\n" + "/".join(FILTER_SHORT[f] for f in show_filters), "right", 4,
                    lambda r, m: _filters_cell(r, show_filters))]
    counts = [("params", "right", 2, lambda r, m: number(r["params"])),
              ("MACs", "right", 2, lambda r, m: number(r["macs"]))]
    paper = [(f"paper{sep}params", "right", 3, lambda r, m: r["printed_params"] or ""),
             (f"paper{sep}ops", "right", 3, lambda r, m: r["printed_ops"] or ""),
             (f"Δ{sep}params", "right", 3, lambda r, m: signed_pct(r["paper_params_delta_pct"])),
             (f"Δ{sep}ops", "right", 3, lambda r, m: signed_pct(r["paper_ops_delta_pct"]))]
    check = [("FlopCounter", "center", 2, lambda r, m: _check_cell(r))]
    if compact and all(_check_cell(r) in ("=", "") for r in rows):
        check = []
    flag = [("flag", "left", 2, lambda r, m: m)]
    spec += (counts + check + paper + filters if compact
             else filters + counts + paper + check + flag)
    headers = [(h, j) for h, j, _, _ in spec]
    group_of = [g for _, _, g, _ in spec]
    extra = []
    if "rf" in groups:
        extra += [("receptive field", 4), ("jump", 4)]
    if "memory" in groups:
        extra += [("activations", 5), ("act. bytes", 5), ("peak live", 5)]
    if "bottleneck" in groups:
        extra += [("size drop", 6), ("bottleneck", 6)]
    timed = records.attrs["meta"].get("latency_env") is not None
    peaks = bool(timed and any(r["peak_fraction"] is not None for r in rows))
    if timed:
        extra += [("latency ms", 7), ("p10-p90 ms", 7), ("GMAC/s", 7), ("MAC/byte", 7),
                  *([("of peak", 7)] if peaks else [])]
    predicted = records.attrs["totals"].get("prediction") is not None
    if predicted:
        extra += [("predicted ms", 8), ("bound", 8), *([("error", 8)] if timed else [])]
    headers += [(h, "center" if h == "bottleneck" else "right") for h, _ in extra]
    group_of += [g for _, g in extra]
    cells = [[cell(r, m) for _, _, _, cell in spec] + _extra_cells(r, groups, number)
             + (_latency_cells(r, peaks) if timed else [])
             + (prediction_cells(r, timed) if predicted else []) for r, m in zip(rows, marks)]
    notes = _notes(rows, records.attrs["meta"]["flavor"])
    if compact and show_filters:
        notes.insert(0, "filters: " + " / ".join(FILTER_HEADERS[f] for f in show_filters)
                     + ", the paper's filter columns in that order; - where a row has none.")
    summary = summary_lines(records)
    return Grid(records.attrs["meta"]["title"], headers, cells, [r["aux"] for r in rows], notes,
                summary + latency_lines(records) + prediction_lines(records), groups=group_of,
                conventions="Conventions: " + records.attrs["meta"]["conventions"],
                total=summary[1])


def to_text(records: Records, columns=(), wide: bool = False) -> str:
    """The profile as plain text: table (fitted to 110 columns, or with ``wide`` every column at
    its natural width), notes and summary."""
    return grid_text(profile_grid(records, columns=columns, compact=not wide), wide=wide)


def to_markdown(records: Records, columns=()) -> str:
    """The profile as markdown, with exact integers."""
    return grid_markdown(profile_grid(records, exact=True, columns=columns))


def _total_rows(records: Records) -> list[dict]:
    t = records.attrs["totals"]
    blank = dict.fromkeys(records.columns)
    return [{**blank, "row": "TOTAL", "type": "inference, no aux heads", "depth": t["depth"],
             "params": t["params"], "macs": t["macs"], "other_ops": t["other_ops"], "aux": False},
            {**blank, "row": "TOTAL_WITH_AUX", "type": "training, with aux heads",
             "params": t["params_with_aux"], "macs": t["macs_with_aux"], "aux": True}]


def to_csv(records: Records) -> str:
    """CSV with raw integers: one line per row, then the two totals. With a prediction, each
    predicted row names its profile in ``predicted_profile`` (UNCALIBRATED for a datasheet's)."""
    columns, rows = profile_named(records)
    return rows_csv(columns, rows + _total_rows(records))


def to_json(records: Records) -> str:
    """JSON with raw integers: meta, rows and totals."""
    return json_text({"meta": records.attrs["meta"], "rows": records.rows,
                      "totals": records.attrs["totals"]})
