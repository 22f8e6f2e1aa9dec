"""Presentation of a model's module tree (capture.tree.tree_records): each module indented under
its parent, with its subtotals; text, markdown, CSV and JSON."""

from __future__ import annotations

from ..records import Records
from ..units import human
from .grid import Grid, commas, grid_markdown, grid_text, json_text, rows_csv
from .model import input_text, summary_lines

INDENT = "\u2502 "  # a guide per level: names stay aligned under their parent in every format


def tree_summary(records: Records) -> list[str]:
    """What was run and the totals (checked against the table's), what a subtotal is, each
    depth's sum against the total, the shared modules, then the rest of the profile's summary
    (not counted, FlopCounterMode)."""
    profile, root = records.attrs["profile"], records.rows[0]
    meta, t = profile.attrs["meta"], profile.attrs["totals"]
    same = all(root[k] == t[k] for k in ("params", "macs", "other_ops"))
    lines = [f"{meta['model']} ({meta['class']}), {input_text(meta)}, captured with "
             f"{records.attrs['trace']}.",
             f"Total: params {root['params']:,} ({human(root['params'])}), MACs {root['macs']:,} "
             f"({human(root['macs'])}), other ops {root['other_ops']:,}; " + (
                 "the same as the table's (table --model)." if same else
                 f"the table's (table --model) differ: params {t['params']:,}, MACs "
                 f"{t['macs']:,}, other ops {t['other_ops']:,}, counted from the same pass."),
             "Each module's params, MACs and other ops are its subtotal: its own ops and every "
             "module under it, as run on this example. A module counts where it is called: one "
             "called from outside the module that owns it is listed under its caller too, as "
             "[its name]; its MACs count per call, its params once, where it first runs."]
    total = root["macs"]
    for depth, macs in records.attrs["depths"].items():
        if depth:
            rest = total - macs
            lines.append(f"depth {depth}: its modules' MACs sum to {macs:,} of {total:,}"
                         + (f"; the other {rest:,} run above this depth (in a shallower leaf, or "
                            "a parent's own ops)." if rest else "."))
    lines += [_shared_line(entry) for entry in records.attrs["shared"]]
    return lines + [line for line in summary_lines(profile)[2:]
                    if not line.startswith(("shared:", "never called"))]


def _shared_line(entry: dict) -> str:
    """One shared module (or a place whose tied params count elsewhere) in words."""
    if "tied_params" in entry:
        return (f"tied params: {entry['module']} uses {entry['tied_params']:,} params counted at "
                f"{entry['params_at']}.")
    runs, others = entry["runs_as"], len(entry["names"]) - 1
    return (f"shared: {entry['module']} ({entry['class']}) is registered there" + (
        f" and under {others} other name{'s' * (others > 1)}" if others else "") + "; " + (
        f"it runs as {_few(runs)} ({entry['calls']} calls): its MACs count there, per call, "
        f"its {entry['params']:,} params once, at {entry['params_at']}." if runs else
        f"it never runs on this example; its {entry['params']:,} params count there."))


def _few(names: list[str], shown: int = 3) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown
                                       else "")


def _last(path: str) -> str:
    """A module's name under its parent: the path's last segment, a ``[called.module]`` whole."""
    return "[" + path.rpartition(".[")[2] if path.endswith("]") else path.rpartition(".")[2]


def tree_grid(records: Records, exact: bool = False) -> Grid:
    """The tree as a Grid: the module column indented by depth, the numbers, then each module's
    class and marks (free text that wraps, so that the tree fits a narrow terminal)."""
    number = commas if exact else human
    headers = [("module", "left"), ("calls", "right"), ("params", "right"), ("MACs", "right"),
               ("other ops", "right"), ("class; marks", "left")]
    cells = [[INDENT * (r["depth"] - 1) + _last(r["module"]) if r["depth"] else r["module"],
              str(r["calls"]), number(r["params"]), number(r["macs"]), number(r["other_ops"]),
              "; ".join(filter(None, (r["class"], r["mark"])))] for r in records.rows]
    title = records.attrs["profile"].attrs["meta"]["model"] + ": module tree"
    summary = tree_summary(records)
    return Grid(title, headers, cells, [], [], summary, groups=[0, 1, 1, 1, 1, 2], wrap=(5,),
                total=summary[1])


def to_text(records: Records) -> str:
    """Plain text: the tree and the summary."""
    return grid_text(tree_grid(records))


def to_markdown(records: Records) -> str:
    """Markdown with exact integers."""
    return grid_markdown(tree_grid(records, exact=True))


def to_csv(records: Records) -> str:
    """CSV with raw integers, one line per module (its full name and depth)."""
    return rows_csv(records.columns, records.rows)


def to_json(records: Records) -> str:
    """JSON: the profile's meta, how the pass was captured, the modules, each depth's MACs,
    and the shared modules."""
    return json_text({"meta": records.attrs["profile"].attrs["meta"],
                      "trace": records.attrs["trace"], "modules": records.rows,
                      "depths": records.attrs["depths"], "shared": records.attrs["shared"]})
