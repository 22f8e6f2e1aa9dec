"""Grids, the output-agnostic tables every view builds, and the formats they render to: rich tables
fitted to the terminal, plain text, markdown; CSV of plain rows; the cell formats views share.
Presentation only."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

from ..records import Records
from ..units import cpu_threads
from .text import csv_cell, json_document, markdown, terminal


def signed_pct(value) -> str:
    """A percentage with its sign and one decimal, '' for a missing one."""
    return "" if value is None else f"{value:+.1f}%"


def commas(value) -> str:
    """An exact integer with thousands separators, '' for a missing one."""
    return "" if value is None else f"{value:,}"


def ms_cell(value, unstable=None) -> str:
    """Milliseconds to three decimals, '?' after an unstable figure, '' for a missing one; a text
    (why a row was not timed) as it is."""
    if value is None or isinstance(value, str):
        return value or ""
    return f"{value:.3f}" + ("?" if unstable else "")


@dataclass
class Grid:
    """A rendered-agnostic table: headers, string cells, notes and summary sentences. Shown in
    that order, answer first: the table, the summary (its first line the totals, unless
    ``total`` names the line), the notes, then the conventions paragraph (an output of several
    grids shows each paragraph once: see once_each)."""

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
    conventions: str = ""  # what the counts mean: shown last, once per output
    total: str = ""  # the one totals line a --summary keeps (default: the summary's first)

    def closing(self, brief: bool = False) -> list[str]:
        """The paragraphs after the table: with ``brief``, the totals line alone; else the
        summary, the notes and the conventions, each group after a blank line."""
        if brief:
            return [self.total or (self.summary or [""])[0]]
        out = list(self.summary)
        for group in (self.notes, [self.conventions] if self.conventions else []):
            if group:
                out += ([""] if out else []) + group
        return out


def once_each(grids: list[Grid]) -> list[Grid]:
    """Grids to show in one output, each conventions paragraph kept on the last grid that
    carries it only."""
    from dataclasses import replace

    last = {g.conventions: i for i, g in enumerate(grids)}
    return [g if last[g.conventions] == i else replace(g, conventions="")
            for i, g in enumerate(grids)]


def conditions(env: dict) -> str:
    """The machine load, the allocator, the TF32 settings and the weights and inputs a latency
    was measured under, as a clause."""
    load = "" if env["load_avg"] is None else f", 1-minute load {env['load_avg']:g}"
    load += "".join(f", {env[key]}" for key in ("allocator", "weights", "inputs") if env.get(key))
    tf32 = "" if not env["tf32"] else (f", TF32 convs {'on' if env['tf32']['conv'] else 'off'} "
                                       f"matmuls {'on' if env['tf32']['matmul'] else 'off'}")
    return load + tf32


def unstable_note(env: dict) -> str:
    """What the '?' after a latency means, from the run's own thresholds."""
    return (f"'?' marks an unstable latency: fewer than {env['min_repeats']} repeats, p90/p10 above "
            f"{env['spread_limit']:g}, or a 1-minute load above the {cpu_threads(env['threads'])} "
            f"({env['busy'] or 'not the case here'}); the reasons are in csv and json.")


def sweep_latency_note(env: dict | None, measured: str) -> list[str]:
    """A sweep's MACHINE-DEPENDENT line (each latency is ``measured``, such as "the whole model's
    median") and what '?' means; nothing without a timing (``env`` None)."""
    return [f"MACHINE-DEPENDENT: latency is {measured} on {env['device']} ({env['device_type']}), "
            f"torch {env['torch']}, {env['dtype']}, {cpu_threads(env['threads'])}"
            f"{conditions(env)}.", unstable_note(env)] if env else []


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
    """A rich Table of some of a Grid's columns under its title; every cell is a Text, so
    nothing is markup. The title is a line of its own, so a narrow table never wraps it."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", box=box.SIMPLE_HEAD)
    for i in columns:
        table.add_column(Text(cells[0][i]), justify=grid.headers[i][1], width=widths.get(i),
                         overflow="fold")
    dim = grid.dim or [False] * len(grid.rows)
    for row, faint in zip(cells[1:], dim):
        table.add_row(*(Text(row[i]) for i in columns), style="dim" if faint else None)
    return Group(Text(title, style="italic"), table)


def rich_tables(grid: Grid, width: int | None = None) -> list:
    """A Grid as rich Tables: one with every column when ``width`` is None, else its non-empty
    columns split into as many tables as fit ``width`` columns, no cell cut."""
    cells = _cells(grid)
    title = terminal(grid.title)
    if width is None:
        return [_table(grid, cells, list(range(len(grid.headers))), {}, title)]
    import textwrap

    parts, widths = _layout(grid, cells, width)
    # a continued table's title on one line: shortened at a word where the terminal needs it
    again = textwrap.shorten(title, max(width - len(" ... (continued)"), 20),
                             placeholder=" ...") + " (continued)"
    return [_table(grid, cells, part, widths, title if n == 0 else again)
            for n, part in enumerate(parts)]


def rich_table(grid: Grid):
    """A rich Table of a Grid, every column in one table."""
    return rich_tables(grid)[0]


def print_grid(grid: Grid, console, wide: bool = False, brief: bool = False) -> None:
    """Print a Grid on a rich console, then what follows it (Grid.closing; with ``brief``, the
    totals line alone): fitted to the console's width, or with ``wide`` every column in one
    table at its natural width."""
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
    for line in grid.closing(brief):
        console.print(Text(terminal(line)))


def grid_text(grid: Grid, wrap: int = 110, wide: bool = False, brief: bool = False) -> str:
    """A Grid as plain text: the table fitted to ``wrap`` columns (with ``wide``, every column
    at its natural width), then what follows it (Grid.closing) wrapped at ``wrap`` (no colour,
    no trailing spaces)."""
    import textwrap

    from rich.console import Console

    console = Console(file=io.StringIO(), width=10**4 if wide else wrap, force_terminal=False,
                      color_system=None)
    for table in rich_tables(grid, None if wide else wrap):
        console.print(table)
    lines = [line.rstrip() for line in console.file.getvalue().splitlines()]
    for paragraph in grid.closing(brief):
        lines += textwrap.wrap(terminal(paragraph), wrap, subsequent_indent="    ") or [""]
    return "\n".join(lines) + "\n"


def grid_markdown(grid: Grid, brief: bool = False) -> str:
    """A Grid as a GitHub-flavoured markdown table, then what follows it (Grid.closing) as
    lists; every cell and line is escaped (see incprof.render.text.markdown)."""
    align = {"left": "---", "right": "---:", "center": ":---:"}
    lines = ["| " + " | ".join(markdown(h) for h, _ in grid.headers) + " |",
             "|" + "|".join(align[j] for _, j in grid.headers) + "|"]
    for cells in grid.rows:
        lines.append("| " + " | ".join(markdown(c) for c in cells) + " |")
    lines.append("")
    for paragraph in grid.closing(brief):
        lines.append(f"- {markdown(paragraph, block=True)}" if paragraph else "")
    return "\n".join(lines) + "\n"


def json_text(payload) -> str:
    """``payload`` as a JSON document indented by two, ending in a newline: every command's JSON.
    Text is written as it is, not escaped, like every other format (files are UTF-8), but for the
    control characters (text.json_document)."""
    return json_document(json.dumps(payload, indent=2, ensure_ascii=False)) + "\n"


def rows_payload(records: Records) -> dict:
    """The meta and rows of Records, ready for JSON."""
    return {"meta": records.attrs["meta"], "rows": records.rows}


def rows_csv(columns: list[str], rows: list[dict]) -> str:
    """Rows as CSV, a header line first: text cells neutralised against spreadsheet formulas (see
    incprof.render.text.csv_cell), numbers written as they are, missing values empty."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([csv_cell(row.get(column)) for column in columns] for row in rows)
    return buffer.getvalue()


def frame_csv(records: Records) -> str:
    """Records as CSV (see rows_csv)."""
    return rows_csv(records.columns, records.rows)
