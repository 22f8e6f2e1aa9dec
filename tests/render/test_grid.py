"""Grids on the terminal and in text: tables that fit the terminal, and the plain CSV writer."""

import io
import re

import pandas as pd
import pytest

from incprof.render import grid as render
from incprof.analysis.profile import profile_records
from incprof.render.profile import to_text


# Tables fit the terminal: the default grids of table (both architectures), compare (both levels)
# and factorize, printed through rich at each width, cut no cell and show every name and size.
WIDTHS = (80, 100, 120, 160)
DEFAULTS = ("table googlenet", "table inception_v3", "compare module", "compare network",
            "factorize")


@pytest.fixture(scope="module")
def defaults():
    """Each command's default frames (verified, as the CLI runs them) and its compact grids."""
    pytest.importorskip("torch")
    from incprof.analysis.compare import compare_modules_records, compare_networks_records, resolve_side
    from incprof.analysis.lab import factorization_records, grid_records
    from incprof.render.compare import comparison_grid, factorization_grids
    from incprof.render.profile import profile_grid

    naive, reduced = resolve_side("naive"), resolve_side("reduced")
    labels = ("naive", "reduced")
    frames = {"table googlenet": [profile_records("googlenet", verify=True)],
              "table inception_v3": [profile_records("inception_v3", verify=True)],
              "compare module": [compare_modules_records(naive, reduced, verify=True, labels=labels)],
              "compare network": [compare_networks_records(naive, reduced, verify=True,
                                                           labels=labels)],
              "factorize": [factorization_records(verify=True), grid_records(verify=True)]}
    grids = {"table googlenet": [profile_grid(frames["table googlenet"][0], compact=True)],
             "table inception_v3": [profile_grid(frames["table inception_v3"][0], compact=True)],
             "compare module": [comparison_grid(frames["compare module"][0], compact=True)],
             "compare network": [comparison_grid(frames["compare network"][0], compact=True)],
             "factorize": factorization_grids(*frames["factorize"], compact=True)}
    return frames, grids


def _whole(text: str, out: str) -> bool:
    """Whether ``text`` appears in ``out`` with whitespace or a line end on both sides."""
    return re.search(rf"(?<!\S){re.escape(text)}(?!\S)", out) is not None


def _printed(grids, width: int, wide: bool = False) -> str:
    from rich.console import Console

    from incprof.render.grid import print_grid

    console = Console(width=width, file=io.StringIO(), color_system=None)
    for grid in grids:
        print_grid(grid, console, wide=wide)
    return console.file.getvalue()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", DEFAULTS)
def test_default_tables_fit_the_terminal(defaults, command, width):
    frames, grids = defaults
    out = _printed(grids[command], width)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= width
    for grid in grids[command]:
        for row in grid.rows:
            for i, cell in enumerate(row):
                if cell and i not in grid.wrap:
                    assert _whole(cell, out), (cell, width)
    for records in frames[command]:
        name = next(c for c in ("rule", "row", "form") if c in records.columns)
        assert all(_whole(r[name], out) for r in records.rows)
        for column in ("output_size", "a_output", "b_output", "input", "output"):
            if column in records.columns:
                assert all(_whole(r[column], out) for r in records.rows if r[column]), column


def test_wide_shows_every_column_in_one_table(defaults):
    frames, _ = defaults
    from incprof.render.profile import profile_grid

    out = _printed([profile_grid(frames["table googlenet"][0])], 80, wide=True)
    assert "(continued)" not in out and "…" not in out
    header = next(line for line in out.splitlines() if line.lstrip().startswith("row"))
    for name in ("#3x3 red", "pool proj", "paper params", "Δ ops", "FlopCounter", "flag"):
        assert name in header


def test_piped_text_fits_110_columns(defaults):
    frames, _ = defaults
    text = to_text(frames["table googlenet"][0])
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 110
    assert max(len(line) for line in to_text(frames["table googlenet"][0], wide=True)
               .splitlines()) > 110


def test_compact_grids_still_state_the_cross_check(defaults):
    """The compact form drops an all-agreeing FlopCounter column; its summary must then say so."""
    _, grids = defaults
    for command in ("compare module", "compare network"):
        (grid,) = grids[command]
        assert "FlopCounter" not in [h for h, _ in grid.headers]
        assert any(s.startswith("FlopCounterMode on the built modules (an empty batch): agrees")
                   for s in grid.summary)
    for grid in grids["factorize"]:
        assert "FlopCounter" not in [h for h, _ in grid.headers]
        assert any(s.startswith("FlopCounterMode on the built convs (an empty batch) agrees")
                   for s in grid.summary)
    (table,) = grids["table googlenet"]
    assert any(s.startswith("FlopCounterMode on the built network (an empty batch): agrees")
               for s in table.summary)


def test_rows_csv_writes_what_pandas_writes():
    """The plain CSV writer agrees with pandas' to_csv on quoting, missing values, floats, bools,
    and it neutralises formula-like text and line breaks as the terminal does."""
    rows = [{"name": 'a, "quoted"\nline', "n": 12, "x": 0.1, "ok": True, "none": None},
            {"name": "=1+2", "n": None, "x": 1e-05, "ok": False, "none": None},
            {"name": "-70.8%", "n": -3, "x": 123456789012.5, "ok": None, "none": None}]
    columns = ["name", "n", "x", "ok", "none"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["n"] = frame["n"].astype("Int64")
    frame["name"] = ['a, "quoted" line', "'=1+2", "-70.8%"]  # a line break shown as a space
    assert render.rows_csv(columns, rows) == frame.to_csv(index=False, lineterminator="\n")
