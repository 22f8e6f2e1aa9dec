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


# The answer first: the totals right after the tables, then the notes, the conventions once.
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("command", ["table googlenet", "compare module", "compare network"])
def test_totals_come_before_the_notes_and_the_conventions_once(defaults, command, width):
    _, grids = defaults
    out = _printed(grids[command], width)
    lines = out.splitlines()
    total = next(i for i, line in enumerate(lines) if line.startswith(("Total", "Totals")))
    last_table = max(i for i, line in enumerate(lines) if line.startswith(" ─"))
    rows = len(grids[command][0].rows)
    assert last_table < total <= last_table + rows + 4  # the table's rows, then the totals
    notes = [i for i, line in enumerate(lines) if line.startswith(("[1]", "filters:"))]
    assert all(i > total for i in notes)
    conventions = [i for i, line in enumerate(lines) if line.startswith("Conventions:")]
    assert len(conventions) == 1 and conventions[0] > max(notes + [total])


def test_conventions_once_per_output_of_several_grids(defaults):
    _, grids = defaults
    both = render.once_each(grids["compare module"] + grids["compare network"])
    out = _printed(both, 120)
    assert out.count("Conventions:") == 1
    assert out.index("Conventions:") > out.rindex("Totals over these rows")


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_the_counts_in_its_first_table(defaults, width):
    """Params, MACs and the savings stay in the first table; output shapes are what a narrow
    terminal moves to the continued one."""
    _, grids = defaults
    out = _printed(grids["compare module"], width)
    first = out.split("(continued)")[0]
    header = "\n".join(line for line in first.splitlines() if "params" in line or "MACs" in line)
    assert "params" in header and "MACs" in header and "saved" in first
    assert "28x28x416" in out  # the naive 3a output, in one table or the other
    if width == 80:
        assert "28x28x416" not in first


def _referee_result():
    """A referee result as incprof.referee.referee.referee returns it (the layout, not the
    numbers, is under test)."""
    tool = {"tool": "fvcore", "installed": True, "version": "0.1.5", "unit": "MACs",
            "reported": 1_582_671_872, "predicted": 1_582_671_872, "residual": 0,
            "params_reported": 6_998_552, "params_predicted": 6_998_552, "params_residual": 0,
            "residual_from": None}
    return {"meta": {"title": "GoogLeNet (Inception v1), Table 1", "flavor": "paper",
                     "aux": True, "input": [1, 3, 224, 224], "batch_size": 1},
            "tools": [tool, {**tool, "tool": "thop", "version": "0.1.1"}]}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_continued_title_stays_on_one_line(width):
    from incprof.render.measure import referee_grid

    grid = referee_grid(_referee_result())
    out = _printed([grid], width)
    assert grid.title.split()[-1] in out  # the first title whole, wrapped where it must be
    continued = [line for line in out.splitlines() if line.endswith("(continued)")]
    assert len(continued) == len(out.split("(continued)")) - 1
    assert all(line.startswith(grid.title.split(":")[0]) and len(line) <= width
               for line in continued)
    if width < 160:
        assert continued


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_reasons_fit_one_line_each(width):
    from incprof.analysis.compare import resolve_side
    from incprof.analysis.sweep import sweep_records
    from incprof.render.compare import sweep_grid

    out = _printed([sweep_grid(sweep_records(resolve_side("googlenet"), [16, 32, 224]))], width)
    assert max(len(line) for line in out.splitlines()) <= width
    for row, size in (("pool3", 2), ("pool4", 2)):
        reason = f"{row}: max pool kernel 3x3 is larger than its padded input {size}x{size}"
        assert any(line.rstrip().endswith(reason) for line in out.splitlines()), out


def _cli(*args, width: int = 200):
    from typer.testing import CliRunner

    from incprof.cli.app import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(width)})


@pytest.mark.parametrize("width", WIDTHS)
def test_list_fits_the_terminal_without_breaking_words(width):
    from incprof.spec.registry import available, resolve

    result = _cli("list", width=width)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) < width
    words = set(result.stdout.split())
    for name in available():
        assert set(resolve(name).title.split()) <= words  # every word of every title whole


def test_summary_prints_the_table_and_one_totals_line():
    full = _cli("table", "--arch", "googlenet", "--no-verify")
    short = _cli("table", "--arch", "googlenet", "--no-verify", "-q")
    assert short.exit_code == 0, short.output
    after = short.stdout.rstrip("\n").split("\n\n")[-1].splitlines()
    assert len(after) == 1 and after[0].startswith("Total, inference (no aux heads): params "
                                                   "6,998,552")
    assert "Conventions:" in full.stdout and "Conventions:" not in short.stdout
    assert "inception_5b" in short.stdout  # the table is all there


def test_the_prediction_says_whether_the_machine_speed_scaled_it():
    from incprof.records import Records
    from incprof.render.measure import prediction_lines

    p = {"profile": "AMD EPYC, 1 thread, fp32", "source": "incprof calibrate", "maths": ["fp32"] * 2,
         "network_ms": 12.5, "network_parallel_ms": 10.0, "network_ms_at_calibration": 10.0,
         "in_network_ms": 0.5,
         "speed_factor": 1.25, "speed_note": "the speed probe took 25.00 ms in this run against "
         "20.00 ms at calibration", "ceilings": {"compute_images_per_s": None,
                                                "memory_images_per_s": None,
                                                "roofline_images_per_s": None}}

    def first(prediction):
        records = Records([], [], {"totals": {"prediction": prediction}, "meta": {"batch_size": 1}})
        return prediction_lines(records)[0]

    assert "at batch 1, of which 0.500 ms for writing the rows' new outputs into memory out of " \
        "the caches" in first(p)
    assert first(p).endswith("has just freed). Scaled by the machine's speed in this run: the speed "
                             "probe took 25.00 ms in this run against 20.00 ms at calibration, "
                             "x1.250 (at calibration's speed: 10.000 ms).")
    other = {**p, "speed_factor": None, "speed_note": "the device profile has no speed probe"}
    assert first(other).endswith(" Not scaled by the machine's speed: the device profile has no "
                                 "speed probe.")
    assert first({**p, "speed_factor": None, "speed_note": None}).endswith("just freed).")


def test_a_latency_line_counts_its_threads_in_words():
    from incprof.render.grid import sweep_latency_note

    env = {"device": "cpu0", "device_type": "cpu", "torch": "2", "dtype": "fp32", "threads": 1,
           "load_avg": None, "tf32": None, "min_repeats": 20, "spread_limit": 1.5, "busy": None}
    first, note = sweep_latency_note(env, "the median")
    assert "fp32, 1 CPU thread." in first and "above the 1 CPU thread (not" in note
