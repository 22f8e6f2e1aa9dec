"""Presentation only: a profile DataFrame -> rich table, markdown, CSV or JSON. Nothing is computed here
beyond formatting."""

from __future__ import annotations

import io
import json
import math

import pandas as pd

from .spec import FILTER_COLUMNS

FILTER_HEADERS = dict(zip(FILTER_COLUMNS, ("#1x1", "#3x3 red", "#3x3", "#5x5 red", "#5x5",
                                           "pool proj")))


def human(n) -> str:
    """A count in three significant figures with an SI suffix: 6998552 -> '7.00M'."""
    if n is None or (isinstance(n, float) and math.isnan(n)) or n is pd.NA:
        return ""
    n = int(n)
    if abs(n) < 1000:
        return str(n)
    value, unit = float(n), ""
    for unit in ("K", "M", "G", "T"):
        value /= 1000
        if abs(value) < 999.5:
            break
    decimals = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
    return f"{value:.{decimals}f}{unit}"


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


def _notes(rows: list[dict]) -> list[str]:
    return [f"[{i}] {r['row']}: {r['flag']}. {r['reason']}"
            for i, r in enumerate((r for r in rows if r["flag"]), 1)]


def summary_lines(df: pd.DataFrame) -> list[str]:
    """The totals, the depth check, the fvcore check and the conventions, as sentences."""
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
        mark = "matches" if t["depth"] == t["paper_depth"] else "DOES NOT match"
        lines.append(f"Depth: {t['depth']} layers with parameters; the paper says "
                     f"{t['paper_depth']} ({mark}).")
    if t["paper_params_sum"] is not None and meta["paper_figures_apply"]:
        lines.append(f"Paper column sums: params {t['paper_params_sum']:,}, ops "
                     f"{t['paper_ops_sum'] or 0:,}.")
    if not meta["paper_figures_apply"]:
        lines.append("The paper's printed sizes and ops apply to the spec's own input size; at "
                     "this input they are not compared.")
    if t["fvcore_agrees"] is None:
        lines.append("fvcore cross-check: not run (--no-verify).")
    else:
        lines.append("fvcore on the built network: "
                     + ("agrees with the analytic params and MACs on every row."
                        if t["fvcore_agrees"] else "DISAGREES with the analytic counts (see "
                                                   "the fvcore column)."))
    lines.append("Conventions: " + meta["conventions"])
    return lines


def rich_table(df: pd.DataFrame):
    """A rich Table of the profile, with numbered notes for flagged rows in its caption."""
    from rich import box
    from rich.table import Table

    rows = records(df)
    show_filters = [f for f in FILTER_COLUMNS if df[f].notna().any()]
    table = Table(title=df.attrs["meta"]["title"], header_style="bold", box=box.SIMPLE_HEAD)
    for header, justify in (("row", "left"), ("type", "left"), ("output", "right"),
                            ("depth", "right"), *((FILTER_HEADERS[f], "right") for f in show_filters),
                            ("params", "right"), ("MACs", "right"), ("paper params", "right"),
                            ("paper ops", "right"), ("Δ params", "right"), ("Δ ops", "right"),
                            ("fvcore", "center"), ("flag", "left")):
        table.add_column(header, justify=justify)
    note = 0
    for r in rows:
        if r["flag"]:
            note += 1
        table.add_row(
            r["row"], r["type"], r["output_size"], str(r["depth"]),
            *(_int(r[f]) for f in show_filters), human(r["params"]), human(r["macs"]),
            r["printed_params"] or "", r["printed_ops"] or "", _pct(r["paper_params_delta_pct"]),
            _pct(r["paper_ops_delta_pct"]), _fvcore_cell(r), f"[{note}]" if r["flag"] else "",
            style="dim" if r["aux"] else None)
    return table


def print_table(df: pd.DataFrame, console) -> None:
    """Print the rich table, its notes and the summary on a rich console."""
    console.print(rich_table(df))
    for line in _notes(records(df)) + [""] + summary_lines(df):
        console.print(line, highlight=False, markup=False)


def to_text(df: pd.DataFrame, width: int = 200) -> str:
    """The rich table, its notes and the summary as plain text of a fixed width."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    print_table(df, console)
    return "\n".join(line.rstrip() for line in console.file.getvalue().splitlines()) + "\n"


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table with notes and the summary."""
    rows = records(df)
    show_filters = [f for f in FILTER_COLUMNS if df[f].notna().any()]
    headers = ["row", "type", "output", "depth", *(FILTER_HEADERS[f] for f in show_filters),
               "params", "MACs", "paper params", "paper ops", "Δ params", "Δ ops", "fvcore", "flag"]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|"]
    note = 0
    for r in rows:
        note += bool(r["flag"])
        cells = [f"`{r['row']}`", r["type"], r["output_size"], str(r["depth"]),
                 *(_int(r[f]) for f in show_filters), _int(r["params"]), _int(r["macs"]),
                 r["printed_params"] or "", r["printed_ops"] or "", _pct(r["paper_params_delta_pct"]),
                 _pct(r["paper_ops_delta_pct"]), _fvcore_cell(r), f"[{note}]" if r["flag"] else ""]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += [""] + [f"- {n}" for n in _notes(rows)] + [""] + [f"- {s}" for s in summary_lines(df)]
    return "\n".join(lines) + "\n"


def _total_rows(df: pd.DataFrame) -> list[dict]:
    t = df.attrs["totals"]
    blank = dict.fromkeys(df.columns)
    return [{**blank, "row": "TOTAL", "type": "inference, no aux heads", "depth": t["depth"],
             "params": t["params"], "macs": t["macs"], "other_ops": t["other_ops"], "aux": False},
            {**blank, "row": "TOTAL_WITH_AUX", "type": "training, with aux heads",
             "params": t["params_with_aux"], "macs": t["macs_with_aux"], "aux": True}]


def to_csv(df: pd.DataFrame) -> str:
    """CSV with raw integers: one line per row, then the two totals."""
    out = pd.DataFrame.from_records(records(df) + _total_rows(df), columns=list(df.columns))
    for column in df.columns:
        if str(df[column].dtype) == "Int64":
            out[column] = out[column].astype("Int64")
    return out.to_csv(index=False, lineterminator="\n")


def to_json(df: pd.DataFrame) -> str:
    """JSON with raw integers: meta, rows and totals."""
    payload = {"meta": df.attrs["meta"], "rows": records(df), "totals": df.attrs["totals"]}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
