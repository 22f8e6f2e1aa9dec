"""Presentation of a model's module tree (capture.tree.tree_records): each module indented under
its parent, with its subtotals; text, markdown, CSV and JSON."""

from __future__ import annotations

from ..records import Records
from ..units import human
from .grid import Grid, commas, grid_markdown, grid_text, json_text, rows_csv
from .model import summary_lines

INDENT = "\u2502 "  # a guide per level: names stay aligned under their parent in every format


def tree_summary(records: Records) -> list[str]:
    """What a subtotal is, each depth's sum against the total, the marks, then the profile's
    summary (inputs, not counted, FlopCounterMode, rules)."""
    total = records.rows[0]["macs"]
    lines = ["Each module's params, MACs and other ops are its subtotal: its own ops and every "
             "module under it, as run on this example. A module counts where it is called: one "
             "called from outside the module that owns it is also listed under its caller, as "
             "[its name]; its MACs count per call, its params once, where it first runs."]
    for depth, macs in records.attrs["depths"].items():
        if depth:
            rest = total - macs
            lines.append(f"depth {depth}: its modules' MACs sum to {macs:,} of {total:,}"
                         + (f"; the other {rest:,} run above this depth (in a shallower leaf, or "
                            "a parent's own ops)." if rest else "."))
    profile = records.attrs["profile"]
    return lines + [line for line in summary_lines(profile)
                    if not line.startswith(("shared:", "never called"))]


def _last(path: str) -> str:
    """A module's name under its parent: the path's last segment, a ``[called.module]`` whole."""
    return "[" + path.rpartition(".[")[2] if path.endswith("]") else path.rpartition(".")[2]


def tree_grid(records: Records, exact: bool = False) -> Grid:
    """The tree as a Grid: the module column indented by depth."""
    number = commas if exact else human
    headers = [("module", "left"), ("class", "left"), ("calls", "right"), ("params", "right"),
               ("MACs", "right"), ("other ops", "right"), ("mark", "left")]
    cells = [[INDENT * (r["depth"] - 1) + _last(r["module"]) if r["depth"] else
              r["module"], r["class"], str(r["calls"]), number(r["params"]), number(r["macs"]),
              number(r["other_ops"]), r["mark"]] for r in records.rows]
    title = records.attrs["profile"].attrs["meta"]["model"] + ": module tree"
    return Grid(title, headers, cells, [], [], tree_summary(records), wrap=(6,))


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
    """JSON: the profile's meta, the modules, and each depth's MACs."""
    return json_text({"meta": records.attrs["profile"].attrs["meta"], "modules": records.rows,
                      "depths": records.attrs["depths"]})
