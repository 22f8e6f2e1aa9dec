"""Text from a spec is data in every output: hostile strings reach each format literally."""

import csv
import io
import json
import re

import pytest

from conftest import DATA, invoke

from incprof.records import Records
from incprof.render.grid import Grid, frame_csv, grid_markdown, grid_text, print_grid
from incprof.render.text import csv_cell, markdown, markdown_code, plot_label, terminal

HOSTILE = ["[bold red]x[/]", "a|b\nc", "# heading", "<img src=x>", '=HYPERLINK("http://e","x")',
           "\x1b[31mred\x1b[0m", "$\\frac{a}{b}$", "$", "[link](http://e)", "![i](http://e/i.png)",
           "back\\slash`tick", "- item\r\n1. two", ":thumbs_up:", "+cmd", "@SUM(A1)", "\tTAB"]


def _grid():
    return Grid(HOSTILE[0], [("row", "left"), ("type", "left")], [[h, h] for h in HOSTILE],
                notes=HOSTILE, summary=HOSTILE)


def test_terminal_strips_escapes_and_controls():
    assert terminal("\x1b[31mred\x1b[0m") == "red"
    assert terminal("\x1b]0;title\x07ok\x9b2J") == "ok2J"
    assert terminal("a|b\nc\rd\te") == "a|b c d e"
    assert terminal("[bold red]x[/]") == "[bold red]x[/]"
    assert terminal("\ud800x") == "?x"
    for text in HOSTILE:
        assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in terminal(text))


def test_rich_shows_markup_literally_and_no_escape_sequence():
    from rich.console import Console

    console = Console(width=100, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor")
    print_grid(_grid(), console)
    out = console.file.getvalue()
    assert "[bold red]x[/]" in out and ":thumbs_up:" in out
    assert "\x1b[31m" not in out and "\r" not in out


def test_plain_text_has_no_escape_sequence():
    out = grid_text(_grid())
    assert "\x1b" not in out and "\r" not in out and "[bold red]x[/]" in out


def _unescaped(line: str, char: str) -> int:
    """How many times ``char`` occurs in a markdown line not escaped by a backslash."""
    count, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        count += line[i] == char
        i += 1
    return count


def test_markdown_adds_no_cell_row_heading_tag_or_link():
    text = grid_markdown(_grid())
    lines = text.splitlines()
    table = lines[:lines.index("")]
    assert len(table) == 2 + len(HOSTILE)  # no fake rows
    assert all(_unescaped(line, "|") == 3 for line in table)  # no extra cells
    items = lines[len(table):]
    assert all(line == "" or line.startswith("- ") for line in items)
    for char in "<[]`":
        assert _unescaped(text, char) == 0, char
    assert not any(line.startswith(("#", "- #", "- -", "- 1.")) for line in lines)
    assert markdown("a|b\nc") == "a\\|b c"
    assert markdown("# h", block=True) == "\\# h" and markdown("# h") == "# h"
    assert markdown_code("a`b") == "``a`b``"


def test_csv_neutralises_formulas_but_not_numbers():
    names = HOSTILE + ["-70.8%", "-5", "plain"]
    numbers = list(range(-len(HOSTILE), 0)) + [-1, -2, 3]
    records = Records(["name", "n"], [{"name": t, "n": n} for t, n in zip(names, numbers)])
    rows = list(csv.DictReader(io.StringIO(frame_csv(records))))
    names = [r["name"] for r in rows]
    for cell in names:
        assert cell[:1] not in ("=", "+", "@", "\t", "\r") or cell.startswith("'")
    assert names[HOSTILE.index('=HYPERLINK("http://e","x")')] == '\'=HYPERLINK("http://e","x")'
    assert names[HOSTILE.index("- item\r\n1. two")] == "'- item  1. two"  # one line, as shown
    assert names[-3:] == ["-70.8%", "-5", "plain"]
    assert [int(r["n"]) for r in rows][:2] == [-len(HOSTILE), -len(HOSTILE) + 1]
    assert csv_cell(-5) == -5 and csv_cell("@x") == "'@x"


@pytest.mark.parametrize("title", ["$\\frac{}{}$", "$\\unknown$", "$", "a $x$ $", "\ud800"])
def test_matplotlib_draws_user_text_literally(title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.suptitle(plot_label(title))
    fig.savefig(io.BytesIO(), format="svg")
    plt.close(fig)
    assert plot_label("$\\frac{a}{b}$") == "\\$\\frac{a}{b}\\$"


def test_raw_mathtext_would_crash():
    """The case above is real: unescaped, matplotlib's mathtext raises on this title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    fig.suptitle("$\\unknown$")
    with pytest.raises(ValueError):
        fig.savefig(io.BytesIO(), format="svg")
    plt.close(fig)



RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but "\n"
NAMES = ["\x1b]0;pwned\x07title", "\x1b[31mred", "bell\x07", "\u202eevil", "c1\x9b2J", "del\x7f",
         '=HYPERLINK("http://example/x")', "line\nbreak"]  # tests/data/hostile_models.py


@pytest.mark.parametrize("fmt", ["csv", "json", "markdown", "table"])
def test_no_control_character_reaches_any_format(fmt, tmp_path):
    """Module names of a --model with escapes, bells, C1 controls and a bidi override, on stdout
    and in a file alike, and an output name with an escape; JSON keeps each name, escaped."""
    pytest.importorskip("torch")
    ref = f"{DATA / 'hostile_models.py'}:named"
    out = tmp_path / f"\x1b]0;x\x07rows.{fmt}"
    printed = invoke("table", "--model", ref, "--input-size", "4", "-f", fmt)
    written = invoke("table", "--model", ref, "--input-size", "4", "-f", fmt, "-o", str(out))
    assert printed.exit_code == 0 and written.exit_code == 0, printed.output
    for text in (printed.stdout, out.read_text(encoding="utf-8"), written.stderr):
        assert not RAW.search(text), repr(RAW.search(text))
    if fmt == "json":
        assert [row["row"] for row in json.loads(printed.stdout)["rows"]] == ["conv", *NAMES]
    if fmt == "csv":
        cells = [row["row"] for row in csv.DictReader(io.StringIO(printed.stdout))]
        assert cells[1:-1] == ["title", "red", "bell", "evil", "c12J", "del",
                               "'=HYPERLINK(\"http://example/x\")", "line break"]
