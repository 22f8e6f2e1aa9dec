"""Presentation of a model profile (capture.profile_model_records, or profile_model's DataFrame):
rich table, text, markdown, CSV, JSON. Every format lists the ops that have no counting rule.
pandas is not imported."""

from __future__ import annotations

from ..records import as_records
from ..units import human
from .grid import Grid, commas, grid_markdown, grid_text, json_text, rows_csv


def summary_lines(df) -> list[str]:
    """Totals, what they exclude, shared modules, the FlopCounterMode check and the rules."""
    df = as_records(df)
    t, meta = df.attrs["totals"], df.attrs["meta"]
    n, c, *hw = meta["input"]
    lines = [f"{meta['model']} ({meta['class']}), input {'x'.join(map(str, hw))}x{c}, batch {n}, "
             f"rows: modules at depth {meta['depth']}, captured with {meta['capture']}.",
             f"Total: params {t['params']:,} ({human(t['params'])}), MACs {t['macs']:,} "
             f"({human(t['macs'])}), other ops {t['other_ops']:,}."]
    missing = t["not_counted"]
    lines.append("not counted: " + (", ".join(f"{op} x {k}" for op, k in missing.items())
                                    + "; the totals exclude them." if missing else
                                    "none (every op has a counting rule)."))
    idle = [r for r in df.rows if r["calls"] == 0]
    if idle:
        lines.append(f"never called (eval, this input): {', '.join(r['row'] for r in idle)}; "
                     f"their {sum(r['params'] for r in idle):,} params are in the total.")
    for r in df.rows:
        if r["calls"] > 1 or r["shared_params"]:
            lines.append(f"shared: {r['row']} runs {r['calls']} time(s); its MACs are counted per "
                         f"call, its params once" + (f" ({r['shared_params']:,} params already "
                                                     "counted in an earlier row)"
                                                     if r["shared_params"] else "") + ".")
    lines.append(("FlopCounterMode (FLOPs / 2) agrees with the graph count on every row: "
                  f"{t['flop_counter_macs']:,} MACs." if t["flop_counter_agrees"] else
                  "FlopCounterMode DISAGREES with the graph count (see the FlopCounter column): "
                  f"{t['flop_counter_macs']:,} MACs against {t['macs']:,}."))
    lines.append("Rules: " + meta["rules"])
    return lines


def model_grid(df, exact: bool = False) -> Grid:
    """The model profile as a Grid."""
    df = as_records(df)
    number = commas if exact else human
    headers = [("row", "left"), ("module", "left"), ("calls", "right"), ("output", "right"),
               ("params", "right"), ("MACs", "right"), ("other ops", "right"),
               ("FlopCounter", "center"), ("ops", "left"), ("not counted", "left")]
    cells = [[r["row"], r["module"], str(r["calls"]), r["output_size"], number(r["params"]),
              number(r["macs"]), number(r["other_ops"]),
              "=" if r["flop_counter_macs"] == r["macs"] else f"{r['flop_counter_macs']:,}",
              r["ops"], r["not_counted"]] for r in df.rows]
    return Grid(df.attrs["meta"]["model"], headers, cells, [], [], summary_lines(df))


def to_text(df) -> str:
    """Plain text: the table and the summary."""
    return grid_text(model_grid(df))


def to_markdown(df) -> str:
    """Markdown with exact integers."""
    return grid_markdown(model_grid(df, exact=True))


def to_csv(df) -> str:
    """CSV with raw integers, then a TOTAL line whose not_counted cell lists the uncounted ops."""
    df = as_records(df)
    t = df.attrs["totals"]
    total = {"row": "TOTAL", "params": t["params"], "macs": t["macs"], "other_ops": t["other_ops"],
             "flop_counter_macs": t["flop_counter_macs"],
             "not_counted": ", ".join(f"{op} x {k}" for op, k in t["not_counted"].items())}
    return rows_csv(df.columns, df.rows + [total])


def to_json(df) -> str:
    """JSON: meta, rows and totals (totals.not_counted: op -> calls)."""
    df = as_records(df)
    payload = {"meta": df.attrs["meta"], "rows": df.rows, "totals": df.attrs["totals"]}
    return json_text(payload)
