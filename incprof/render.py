"""Presentation only: a profile DataFrame -> rich table, markdown, CSV or JSON. Nothing is computed here
beyond formatting."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field

import pandas as pd

from .spec import FILTER_COLUMNS
from .units import human
from .text import csv_cell, markdown, terminal

FILTER_HEADERS = dict(zip(FILTER_COLUMNS, ("#1x1", "#3x3 red", "#3x3", "#5x5 red", "#5x5",
                                           "pool proj")))
FILTER_SHORT = dict(zip(FILTER_COLUMNS, ("1x1", "3r", "3", "5r", "5", "pp")))


def _plain(value):
    """A cell as a JSON/CSV-ready Python value (None for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _pct(value) -> str:
    value = _plain(value)
    return "" if value is None else f"{value:+.1f}%"


def _int(value) -> str:
    value = _plain(value)
    return "" if value is None else f"{value:,}"


def records(df: pd.DataFrame) -> list[dict]:
    """The rows as plain dicts with Python ints/floats/None."""
    return [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _fvcore_cell(row: dict) -> str:
    if row["fvcore_params"] is None:
        return ""
    ok = row["fvcore_params"] == row["params"] and row["fvcore_macs"] == row["macs"]
    return "=" if ok else f"{row['fvcore_params']:,} / {row['fvcore_macs']:,}"


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


def summary_lines(df: pd.DataFrame) -> list[str]:
    """The totals, the depth check, the FlopCounterMode cross-check and the conventions, as
    sentences."""
    t, meta = df.attrs["totals"], df.attrs["meta"]
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
    lines.append(f"Receptive field of the last row ({df.loc[~df['aux'], 'row'].iloc[-1]}): "
                 f"{rf[0]}x{rf[1]} input pixels. Peak live "
                 f"activations of one inference pass: {human(t['peak_activation_bytes'])}B at "
                 f"{meta['dtype']}, batch {batch} (a model: each layer's input and output, and "
                 "every branch output until the concatenation).")
    if t["bottlenecks"]:
        lines.append(f"Representational bottlenecks (output more than "
                     f"{meta['bottleneck_factor']:g}x smaller than the previous row's; v3 paper, "
                     f"section 2, principle 1): {', '.join(t['bottlenecks'])}.")
    if t["fvcore_agrees"] is None:
        lines.append("FlopCounterMode cross-check: not run (--no-verify).")
    else:
        lines.append("FlopCounterMode on the built network (meta tensors): "
                     + ("agrees with the analytic params and MACs on every row"
                        if t["fvcore_agrees"] else "DISAGREES with the analytic counts (see "
                                                   "the FlopCounter column)")
                     + ("; the Conv2d and Linear output sizes agree with the analytic ones."
                        if t["fvcore_activations_agree"] else
                        "; the Conv2d and Linear output sizes DISAGREE with the analytic ones."))
        if t.get("fvcore_skipped"):
            lines.append("FlopCounterMode counted as zero (ops it has no FLOP formula for): "
                         + ", ".join(
                             f"{op} x{n}" for op, n in t["fvcore_skipped"].items()) + ".")
    lines.append("Conventions: " + meta["conventions"])
    return lines


@dataclass
class Grid:
    """A rendered-agnostic table: headers, string cells, notes and summary sentences."""

    title: str
    headers: list[tuple[str, str]]  # (header, "left" | "right" | "center")
    rows: list[list[str]]
    dim: list[bool] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    # For each column, a group number: a narrow terminal splits the table between groups, each
    # part led by the first column. Empty: every column is its own group.
    groups: list[int] = field(default_factory=list)
    wrap: tuple[int, ...] = ()  # columns of free text that may wrap onto several lines


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
    return [_ms(r["latency_ms"], r["latency_unstable"]),
            f"{r['latency_p10_ms']:.3f}-{r['latency_p90_ms']:.3f}",
            f"{r['gmacs_per_s']:.1f}", f"{r['macs_per_byte']:g}",
            *([("" if fraction is None else f"{fraction:.1%}")] if peaks else [])]


def latency_lines(df: pd.DataFrame) -> list[str]:
    """The machine-dependent part of a profile's summary: whole network, sum of rows, environment."""
    env, t = df.attrs["meta"].get("latency_env"), df.attrs["totals"].get("latency")
    if env is None:
        return []
    network = t["network"]
    whole = (network if isinstance(network, str) else
             f"{network['median_ms']:.3f} ms median (p10 {network['p10_ms']:.3f}, p90 "
             f"{network['p90_ms']:.3f}, {network['repeats']} repeats after {network['warmup']} "
             "warm-up" + (f"; UNSTABLE: {network['unstable']}" if network["unstable"] else "")
             + ")")
    lines = [f"MACHINE-DEPENDENT: latency on {env['device']} ({env['device_type']}), torch "
             f"{env['torch']}, CUDA {env['cuda'] or '-'}, cuDNN {env['cudnn'] or '-'}, "
             f"{env['dtype']} ({env['dtype_method']}), batch {env['batch_size']}, "
             f"{env['memory_format']}, {env['threads']} CPU threads"
             + (", torch.compile" if env["compile"] else "") + _conditions(env) + ".",
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
    cells = [_int(r[f]) or "-" for f in filters]
    return "" if set(cells) == {"-"} else "/".join(cells)


def _conditions(env: dict) -> str:
    """The machine load and TF32 settings a latency was measured under, as a clause."""
    load = "" if env["load_avg"] is None else f", 1-minute load {env['load_avg']:g}"
    tf32 = "" if not env["tf32"] else (f", TF32 convs {'on' if env['tf32']['conv'] else 'off'} "
                                       f"matmuls {'on' if env['tf32']['matmul'] else 'off'}")
    return load + tf32


def unstable_note(env: dict) -> str:
    """What the '?' after a latency means, from the run's own thresholds."""
    return (f"'?' marks an unstable latency: fewer than {env['min_repeats']} repeats, p90/p10 above "
            f"{env['spread_limit']:g}, or a 1-minute load above the {env['threads']} threads "
            f"({env['busy'] or 'not the case here'}); the reasons are in csv and json.")


def profile_grid(df: pd.DataFrame, exact: bool = False, columns=(), compact: bool = False) -> Grid:
    """The profile as a Grid; ``exact`` writes full integers instead of 3-figure ones, and
    ``columns`` adds groups of COLUMN_GROUPS ('all' adds every group). ``compact`` is the
    terminal's narrow form: note marks beside the row names, two-line headers, the six filter
    columns in one cell after the paper's, and no FlopCounter column when it agrees on every row
    (the summary says so)."""
    number = _int if exact else human
    groups = COLUMN_GROUPS if "all" in columns else tuple(columns)
    rows = records(df)
    show_filters = [f for f in FILTER_COLUMNS if df[f].notna().any()]
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
    filters = [(FILTER_HEADERS[f], "right", 4, lambda r, m, f=f: _int(r[f])) for f in show_filters]
    if compact and show_filters:
        filters = [("filters\n" + "/".join(FILTER_SHORT[f] for f in show_filters), "right", 4,
                    lambda r, m: _filters_cell(r, show_filters))]
    counts = [("params", "right", 2, lambda r, m: number(r["params"])),
              ("MACs", "right", 2, lambda r, m: number(r["macs"]))]
    paper = [(f"paper{sep}params", "right", 3, lambda r, m: r["printed_params"] or ""),
             (f"paper{sep}ops", "right", 3, lambda r, m: r["printed_ops"] or ""),
             (f"Δ{sep}params", "right", 3, lambda r, m: _pct(r["paper_params_delta_pct"])),
             (f"Δ{sep}ops", "right", 3, lambda r, m: _pct(r["paper_ops_delta_pct"]))]
    fvcore = [("FlopCounter", "center", 2, lambda r, m: _fvcore_cell(r))]
    if compact and all(_fvcore_cell(r) in ("=", "") for r in rows):
        fvcore = []
    flag = [("flag", "left", 2, lambda r, m: m)]
    spec += (counts + fvcore + paper + filters if compact
             else filters + counts + paper + fvcore + flag)
    headers = [(h, j) for h, j, _, _ in spec]
    group_of = [g for _, _, g, _ in spec]
    extra = []
    if "rf" in groups:
        extra += [("receptive field", 4), ("jump", 4)]
    if "memory" in groups:
        extra += [("activations", 5), ("act. bytes", 5), ("peak live", 5)]
    if "bottleneck" in groups:
        extra += [("size drop", 6), ("bottleneck", 6)]
    timed = df.attrs["meta"].get("latency_env") is not None
    peaks = bool(timed and df["peak_fraction"].notna().any())
    if timed:
        extra += [("latency ms", 7), ("p10-p90 ms", 7), ("GMAC/s", 7), ("MAC/byte", 7),
                  *([("of peak", 7)] if peaks else [])]
    headers += [(h, "center" if h == "bottleneck" else "right") for h, _ in extra]
    group_of += [g for _, g in extra]
    cells = [[cell(r, m) for _, _, _, cell in spec] + _extra_cells(r, groups, number)
             + (_latency_cells(r, peaks) if timed else []) for r, m in zip(rows, marks)]
    notes = _notes(rows, df.attrs["meta"]["flavor"])
    if compact and show_filters:
        notes.insert(0, "filters: " + " / ".join(FILTER_HEADERS[f] for f in show_filters)
                     + ", the paper's filter columns in that order; - where a row has none.")
    return Grid(df.attrs["meta"]["title"], headers, cells, [r["aux"] for r in rows], notes,
                summary_lines(df) + latency_lines(df), groups=group_of)


def _cells(grid: Grid) -> list[list[str]]:
    """The header row and the rows of a Grid as terminal-safe text (a header may keep a line
    break of its own)."""
    headers = ["\n".join(terminal(line) for line in h.split("\n")) for h, _ in grid.headers]
    return [headers] + [[terminal(cell) for cell in row] for row in grid.rows]


def _layout(grid: Grid, cells: list[list[str]], width: int) -> tuple[list[list[int]], dict]:
    """Split a Grid's non-empty columns into tables that fit ``width`` terminal columns: whole
    column groups where they fit, each table led by column 0; free-text columns shrink (and wrap)
    to their longest word before a table is split. Returns the column indices of each table and
    the width given to each shrunk column."""
    from rich.cells import cell_len

    count = len(grid.headers)
    natural = [max(cell_len(line) for row in cells for line in row[i].split("\n"))
               for i in range(count)]
    least = [max((cell_len(word) for row in cells for word in row[i].split()), default=0)
             if i in grid.wrap else natural[i] for i in range(count)]
    shown = [i for i in range(1, count) if any(row[i].strip() for row in cells[1:])]
    groups = grid.groups or list(range(count))
    runs: list[list[int]] = []
    for i in shown:
        if runs and groups[runs[-1][-1]] == groups[i]:
            runs[-1].append(i)
        else:
            runs.append([i])

    def size(columns, sizes):  # a SIMPLE_HEAD table: padding 1 a side, 1 between, 1 an edge
        return sum(sizes[i] + 3 for i in columns) + 1

    parts, pieces = [[0]], list(runs)
    while pieces:
        piece, part = pieces.pop(0), parts[-1]
        alone = len(part) == 1
        if size(part + piece, natural) <= width or (
                (alone or any(i in grid.wrap for i in piece))
                and size(part + piece, least) <= width):
            part.extend(piece)
        elif not alone:
            parts.append([0])
            pieces.insert(0, piece)
        elif len(piece) > 1:
            pieces[:0] = [[i] for i in piece]
        else:
            part.extend(piece)  # wider than the terminal on its own: rich folds it
    widths = {}
    for part in parts:
        excess = size(part, natural) - width
        for i in part:
            if excess > 0 and i in grid.wrap:
                cut = min(excess, natural[i] - least[i])
                widths[i], excess = natural[i] - cut, excess - cut
    return parts, widths


def _table(grid: Grid, cells: list[list[str]], columns: list[int], widths: dict, title: str):
    """A rich Table of some of a Grid's columns; every cell is a Text, so nothing is markup."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), header_style="bold", box=box.SIMPLE_HEAD)
    for i in columns:
        table.add_column(Text(cells[0][i]), justify=grid.headers[i][1], width=widths.get(i),
                         overflow="fold")
    dim = grid.dim or [False] * len(grid.rows)
    for row, faint in zip(cells[1:], dim):
        table.add_row(*(Text(row[i]) for i in columns), style="dim" if faint else None)
    return table


def rich_tables(grid: Grid, width: int | None = None) -> list:
    """A Grid as rich Tables: one with every column when ``width`` is None, else its non-empty
    columns split into as many tables as fit ``width`` columns, no cell cut."""
    cells = _cells(grid)
    title = terminal(grid.title)
    if width is None:
        return [_table(grid, cells, list(range(len(grid.headers))), {}, title)]
    parts, widths = _layout(grid, cells, width)
    return [_table(grid, cells, part, widths, title if n == 0 else f"{title} (continued)")
            for n, part in enumerate(parts)]


def rich_table(grid: Grid):
    """A rich Table of a Grid, every column in one table."""
    return rich_tables(grid)[0]


def print_grid(grid: Grid, console, wide: bool = False) -> None:
    """Print a Grid on a rich console, then its notes and summary: fitted to the console's width,
    or with ``wide`` every column in one table at its natural width."""
    from rich.measure import Measurement
    from rich.segment import Segments
    from rich.text import Text

    if wide:
        table = rich_table(grid)
        natural = Measurement.get(console, console.options.update_width(10**5), table).maximum
        lines = console.render_lines(table, console.options.update_width(max(natural, 1)),
                                     new_lines=True)
        console.print(Segments([segment for line in lines for segment in line]), crop=False)
    else:
        for table in rich_tables(grid, console.width):
            console.print(table)
    for line in grid.notes + [""] + grid.summary:
        console.print(Text(terminal(line)))


def grid_text(grid: Grid, wrap: int = 110, wide: bool = False) -> str:
    """A Grid as plain text: the table fitted to ``wrap`` columns (with ``wide``, every column
    at its natural width), notes and summary wrapped at ``wrap`` (no colour, no trailing
    spaces)."""
    import textwrap

    from rich.console import Console

    console = Console(file=io.StringIO(), width=10**4 if wide else wrap, force_terminal=False,
                      color_system=None)
    for table in rich_tables(grid, None if wide else wrap):
        console.print(table)
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    for paragraph in grid.notes + [""] + grid.summary:
        lines += textwrap.wrap(terminal(paragraph), wrap, subsequent_indent="    ") or [""]
    return "\n".join(lines) + "\n"


def grid_markdown(grid: Grid) -> str:
    """A Grid as a GitHub-flavoured markdown table, then its notes and summary as lists; every
    cell and line is escaped (see incprof.text.markdown)."""
    align = {"left": "---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(markdown(h) for h, _ in grid.headers) + " |",
             "|" + "|".join(align[j] for _, j in grid.headers) + "|"]
    for cells in grid.rows:
        lines.append("| " + " | ".join(markdown(c) for c in cells) + " |")
    if grid.notes:
        lines += [""] + [f"- {markdown(n, block=True)}" for n in grid.notes]
    lines += [""] + [f"- {markdown(s, block=True)}" for s in grid.summary]
    return "\n".join(lines) + "\n"


def to_text(df: pd.DataFrame, columns=(), wide: bool = False) -> str:
    """The profile as plain text: table (fitted to 110 columns, or with ``wide`` every column at
    its natural width), notes and summary."""
    return grid_text(profile_grid(df, columns=columns, compact=not wide), wide=wide)


def to_markdown(df: pd.DataFrame, columns=()) -> str:
    """The profile as markdown, with exact integers."""
    return grid_markdown(profile_grid(df, exact=True, columns=columns))


def _total_rows(df: pd.DataFrame) -> list[dict]:
    t = df.attrs["totals"]
    blank = dict.fromkeys(df.columns)
    return [{**blank, "row": "TOTAL", "type": "inference, no aux heads", "depth": t["depth"],
             "params": t["params"], "macs": t["macs"], "other_ops": t["other_ops"], "aux": False},
            {**blank, "row": "TOTAL_WITH_AUX", "type": "training, with aux heads",
             "params": t["params_with_aux"], "macs": t["macs_with_aux"], "aux": True}]


def _with_rows(df: pd.DataFrame, extra: list[dict]) -> pd.DataFrame:
    """The frame's rows plus ``extra`` ones, keeping its nullable-integer columns integers."""
    out = pd.DataFrame.from_records(records(df) + extra, columns=list(df.columns))
    for column in df.columns:
        if str(df[column].dtype) == "Int64":
            out[column] = out[column].astype("Int64")
    return out


def frame_csv(df: pd.DataFrame) -> str:
    """A DataFrame as CSV; its text cells are neutralised against spreadsheet formulas (see
    incprof.text.csv_cell), numbers are written as they are."""
    out = df.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(csv_cell)
    return out.to_csv(index=False, lineterminator="\n")


def to_csv(df: pd.DataFrame) -> str:
    """CSV with raw integers: one line per row, then the two totals."""
    return frame_csv(_with_rows(df, _total_rows(df)))


def to_json(df: pd.DataFrame) -> str:
    """JSON with raw integers: meta, rows and totals."""
    payload = {"meta": df.attrs["meta"], "rows": records(df), "totals": df.attrs["totals"]}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def _fewer(saving_pct) -> str:
    if saving_pct is None:
        return "no"
    return f"{saving_pct}% fewer" if saving_pct >= 0 else f"{-saving_pct}% more"


def _ms(value, unstable=None) -> str:
    return "" if value is None else f"{value:.3f}" + ("?" if unstable else "")


def comparison_grid(df: pd.DataFrame, exact: bool = False, compact: bool = False) -> Grid:
    """A module- or network-level comparison (see incprof.compare) as a Grid; ``compact`` (the
    terminal's narrow form) heads the columns A and B, named in the title, on two lines."""
    number = _int if exact else human
    meta, t = df.attrs["meta"], df.attrs["totals"]
    a, b = meta["a"], meta["b"]
    module = meta["level"] == "module"
    rows = records(df)
    verified = meta["verified_with_fvcore"]
    check = verified and not (compact and t.get("fvcore_agrees"))  # the summary says it agrees
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
        ok = all(r.get(f"{s}_fvcore_{k}") == r.get(f"{s}_{k}") for s in "ab"
                 for k in ("params", "macs"))
        cells.append([r["row"], *([r["input"]] if module else []), r["a_output"], r["b_output"],
                      number(r["a_params"]), number(r["b_params"]), number(r["a_macs"]),
                      number(r["b_macs"]), ratio(r["macs_ratio"]), saved(r["macs_saving_pct"]),
                      saved(r["params_saving_pct"]),
                      *([("=" if ok else "DIFFERS") if r["row"] != "total" else ""]
                        if check else []),
                      *([_ms(r.get("a_latency_ms"), r.get("a_latency_unstable")),
                         _ms(r.get("b_latency_ms"), r.get("b_latency_unstable"))] if timed else [])])
    summary = [f"A = {a} ({meta['a_title']}); B = {b} ({meta['b_title']}).",
               f"Totals over these rows, batch {meta['batch_size']}, inference (no aux heads): "
               f"{a} {t['a_params']:,} params and {t['a_macs']:,} MACs; {b} {t['b_params']:,} "
               f"params and {t['b_macs']:,} MACs. {b} needs {_fewer(t['macs_saving_pct'])} MACs "
               f"and {_fewer(t['params_saving_pct'])} params than {a} ({a}/{b} = "
               f"{t['macs_ratio']}x MACs)."]
    if module:
        summary.append(f"Each row is counted on the input it has in {b}, so the two columns "
                       "compare like with like.")
    wider = [r["row"] for r in rows if r["a_output"] != r["b_output"]]
    if wider:
        summary.append(f"Output sizes differ in {len(wider)} of {len(rows)} rows "
                       f"({', '.join(wider[:3])}{', ...' if len(wider) > 3 else ''}).")
    for side, label in (("only_in_a", a), ("only_in_b", b)):
        if meta.get(side):
            summary.append(f"Rows only in {label}: {', '.join(meta[side])}.")
    if verified:
        summary.append("FlopCounterMode on the built modules (meta tensors): " + (
            "agrees with the analytic counts on every row." if t.get("fvcore_agrees")
            else "DISAGREES with the analytic counts (see the FlopCounter column)."))
    summary.append("Conventions: " + meta["conventions"])
    if timed:
        env = meta["latency_env"]
        summary.append(f"MACHINE-DEPENDENT: latency columns are medians on {env['device']} "
                       f"({env['device_type']}), torch {env['torch']}, {env['dtype']}, batch "
                       f"{env['batch_size']}, {env['memory_format']}, {env['threads']} CPU "
                       f"threads{_conditions(env)}; the total row of a network comparison is "
                       "each whole network end to end.")
        summary.append(unstable_note(env))
    title = (f"{a} vs {b}, per module" if module else f"{a} vs {b}, whole networks")
    if compact:
        title = f"A = {a} vs B = {b}, " + ("per module" if module else "whole networks")
    return Grid(title, headers, cells, summary=summary, groups=groups)


def comparison_payload(frames: list[pd.DataFrame]) -> dict:
    """Comparison frames as one JSON-ready dict, keyed by level."""
    return {df.attrs["meta"]["level"]: {"meta": df.attrs["meta"], "rows": records(df),
                                        "totals": df.attrs["totals"]} for df in frames}


def comparison_csv(frames: list[pd.DataFrame]) -> str:
    """Comparison frames as one CSV with a ``level`` column and a total row per level."""
    parts = []
    for df in frames:
        level = df.attrs["meta"]["level"]
        part = _with_rows(df, [{"row": "TOTAL", **df.attrs["totals"]}])
        part.insert(0, "level", level)
        parts.append(part)
    columns = list(dict.fromkeys(c for p in parts for c in p.columns))
    return frame_csv(pd.concat(parts, ignore_index=True)[columns])


def factorization_grids(rules: pd.DataFrame, grid: pd.DataFrame, exact: bool = False,
                        compact: bool = False) -> list[Grid]:
    """The factorization lab's two tables (see incprof.lab) as Grids; ``compact`` (the terminal's
    narrow form) heads columns on two lines and leaves out the FlopCounter column when it agrees
    on every row."""
    number = _int if exact else human
    m, g = rules.attrs["meta"], grid.attrs["meta"]
    sep = "\n" if compact else " "
    agreed = ("FlopCounterMode on the built convs (meta tensors) agrees with every MACs figure "
              "in this table.")
    verified = m["verified_with_fvcore"] and not (
        compact and all(r["fvcore_agrees"] for r in records(rules)))
    check = [("FlopCounter", "center")] if verified else []
    rule_rows = [[r["rule"], number(r["original_macs"]), number(r["factorized_macs"]),
                  f"{r['saving_per_position_pct']:.1f}%", f"{r['saving_on_grid_pct']:.1f}%",
                  "" if r["paper_saving_pct"] is None else f"{r['paper_saving_pct']:.0f}%",
                  *(["=" if r["fvcore_agrees"] else "DIFFERS"] if verified else [])]
                 for r in records(rules)]
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
                           for r in records(rules) if r["rule"] == "3x3 -> two 2x2") + ".",
                 "Sources: " + "; ".join(r["paper_source"] for r in records(rules)
                                         if r["paper_source"] and r["paper_saving_pct"])
                 + ".", *([agreed] if m["verified_with_fvcore"] and not verified else [])])
    grid_verified = g["verified_with_fvcore"] and not (
        compact and all(r["fvcore_agrees"] for r in records(grid)))
    costs = {r["form"]: r["relative_to_conv_then_pool"] for r in records(grid)}
    grid_rows = [[r["form"], r["output"], number(r["macs"]), f"{r['macs_per_d2k2']:g}",
                  f"{r['relative_to_conv_then_pool']:g}", r["description"],
                  *(["=" if r["fvcore_agrees"] else "DIFFERS"] if grid_verified else [])]
                 for r in records(grid)]
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
                 *([agreed] if g["verified_with_fvcore"] and not grid_verified else [])])
    return [first, second]


def sweep_grid(df: pd.DataFrame, exact: bool = False) -> Grid:
    """A resolution sweep (see incprof.sweep) as a Grid."""
    number = _int if exact else human
    meta = df.attrs["meta"]
    env = meta["latency_env"]
    rows = [[r["input"], "yes" if r["valid"] else "no", number(r["params"]), number(r["macs"]),
             r["final_feature_map"] or "", r["receptive_field"] or "",
             f"{human(r['peak_activation_bytes'])}B" if r["valid"] else "",
             *([_ms(r["latency_ms"], r["latency_unstable"]) if not isinstance(r["latency_ms"], str)
                else r["latency_ms"]] if env else []), r["reason"] or ""]
            for r in records(df)]
    smallest = meta["min_input_size"]
    machine = [f"MACHINE-DEPENDENT: latency is the whole network's median at batch 1 on "
               f"{env['device']} ({env['device_type']}), torch {env['torch']}, {env['dtype']}, "
               f"{env['threads']} CPU threads{_conditions(env)}.", unstable_note(env)] if env else []
    return Grid(
        f"{meta['title']}: input resolution sweep",
        [("input", "right"), ("valid", "center"), ("params", "right"), ("MACs", "right"),
         (f"{meta['last_conv_row']} output", "right"), ("its receptive field", "right"),
         ("peak live", "right"), *([("latency ms", "right")] if env else []), ("why not", "left")],
        rows, wrap=(8 if env else 7,),
        summary=[("The smallest square input every row accepts is "
                  f"{smallest}x{smallest}." if smallest else
                  "No square input up to the native size is accepted."),
                 "Inference, no aux heads; MACs are conv and linear multiply-accumulates per "
                 f"image; peak live activations at {meta['dtype']}. " + (
                     "Params differ across these sizes: a linear layer reads a feature map whose "
                     "size follows the input." if df["params"].dropna().nunique() > 1 else
                     "Params are the same at every valid size: no layer's weights depend on the "
                     "grid."), *machine])


def bench_grid(df: pd.DataFrame) -> Grid:
    """A batch-size benchmark (see incprof.bench) as a Grid; all of it is machine-dependent."""
    meta, env = df.attrs["meta"], df.attrs["meta"]["env"]
    rows = [[str(r["batch_size"]), _ms(r["latency_ms"], r["unstable"]),
             "" if r["p10_ms"] is None else f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}",
             "" if r["images_per_s"] is None else f"{r['images_per_s']:,.1f}",
             "" if r["gmacs_per_s"] is None else f"{r['gmacs_per_s']:.1f}", r["error"] or ""]
            for r in records(df)]
    return Grid(
        f"{meta['title']}: throughput by batch size",
        [("batch", "right"), ("latency ms", "right"), ("p10-p90 ms", "right"),
         ("images/s", "right"), ("GMAC/s", "right"), ("error", "left")], rows, wrap=(5,),
        summary=[f"MACHINE-DEPENDENT: {env['device']} ({env['device_type']}), torch "
                 f"{env['torch']}, CUDA {env['cuda'] or '-'}, cuDNN {env['cudnn'] or '-'}, "
                 f"{env['dtype']} ({env['dtype_method']}), {env['memory_format']}, "
                 f"{env['threads']} CPU threads" + (", torch.compile" if env["compile"] else "")
                 + _conditions(env) + ".", unstable_note(env),
                 f"Whole network in eval mode (no aux heads), {meta['macs_per_image']:,} MACs per "
                 "image; median of adaptive repeats after warm-up."])


def referee_grid(result: dict) -> Grid:
    """An ``incprof.referee.referee`` result as a Grid: each peer's total beside incprof's
    prediction for its conventions, and the residuals, as exact integers."""
    from .peers import DESCRIPTIONS

    meta = result["meta"]

    def cell(value) -> str:
        return "" if value is None else f"{value:,}"

    def residual(value) -> str:
        return "" if value is None else f"{value:+,}" if value else "0"

    rows = []
    for t in result["tools"]:
        if not t["installed"]:
            rows.append([t["tool"], "", t["unit"], "not installed", "", "", "", "", "", ""])
            continue
        where = t["residual_from"]
        rows.append([t["tool"], t["version"] or "", t["unit"], cell(t["reported"]),
                     cell(t["predicted"]),
                     residual(t["residual"]), cell(t["params_reported"]),
                     cell(t["params_predicted"]), residual(t["params_residual"]),
                     "" if not where else where if isinstance(where, str) else
                     ", ".join(f"{k} {v:+,}" for k, v in where.items())])
    ran = [t for t in result["tools"] if t["installed"]]
    zero = all(t["residual"] == 0 and not t["params_residual"] for t in ran)
    return Grid(
        f"{meta['title']}: peer counters refereed ({meta['flavor']} flavour, input "
        f"{meta['input'][0]}x{meta['input'][1]}, batch {meta['batch_size']})",
        [("tool", "left"), ("version", "left"), ("unit", "left"), ("reported", "right"),
         ("predicted", "right"),
         ("residual", "right"), ("params reported", "right"), ("params predicted", "right"),
         ("params residual", "right"), ("residual from", "left")], rows,
        notes=[f"{tool}: {text}." for tool, text in DESCRIPTIONS.items()],
        summary=[(f"Every installed peer's total ({len(ran)} of {len(result['tools'])}) is "
                  "predicted to the unit." if zero else
                  "A residual is NOT zero: the tool counts something its convention here does "
                  "not describe (see 'residual from')."),
                 "Predicted: incprof's own per-op counts (conv and linear MACs, bias adds, "
                 "BatchNorm, pooling, ReLU, softmax, LRN) under each tool's conventions, for the "
                 "whole batch; residual = reported - predicted. The network is built in eval mode "
                 "on a zero input" + (", with its aux heads: they do not run, and only the "
                 "parameter totals that count every module hold them." if meta["aux"] else ".")])


def figures_grid(figures: list[dict], title: str) -> Grid:
    """Published figures refereed (``incprof.referee.referee_figures``) as a Grid."""
    rows = [[f["arch"], f["source"], f["figure"], f["value"], f["flavor"],
             f"{f['input'][0]}x{f['input'][1]}", f["stated"] or "", f["verdict"]]
            for f in figures]
    return Grid(title, [("arch", "left"), ("source", "left"), ("figure", "left"),
                        ("value", "right"), ("flavour", "left"), ("input", "right"),
                        ("stated convention", "left"), ("verdict", "left")], rows,
                summary=["A figure fits a convention when that convention's exact count, per "
                         "image, rounds half up to the printed value at its printed precision. "
                         "A figure that fits none is FLAGGED with the nearest convention and how "
                         "far the figure is from it."])
