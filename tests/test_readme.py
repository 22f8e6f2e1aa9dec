"""The README states facts: CI runs its test command, its example commands print what it shows,
and its family table is what the counts give."""

import re
import shlex
from pathlib import Path

import pytest

from conftest import invoke

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
# "## Examples": each command in a sh block, then an excerpt of what it prints in a text block
EXAMPLES = re.findall(r"```sh\n(incprof [^\n]*)\n```\n\n[^`]*?```text\n(.*?)\n```",
                      README.split("## Examples")[1].split("\n## ")[0], flags=re.S)


def test_readme_is_short():
    assert len(README.splitlines()) <= 200


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```sh\n(.*?)\n```", README.split("## Two commands")[1], flags=re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def excerpt_in(excerpt: str, output: str) -> bool:
    """Whether every run of lines of ``excerpt`` (runs split by a line ``...``) occurs in
    ``output`` as consecutive lines, in order (trailing spaces aside)."""
    lines = [line.rstrip() for line in output.splitlines()]
    at = 0
    for chunk in excerpt.split("\n...\n"):
        want = [line.rstrip() for line in chunk.splitlines()]
        found = [i for i in range(at, len(lines) - len(want) + 1) if lines[i:i + len(want)] == want]
        if not found:
            return False
        at = found[0] + len(want)
    return True


def test_excerpt_in():
    output = "a\nb  \nc\nd\n"
    assert excerpt_in("a\nb\n...\nd", output) and excerpt_in("c\nd", output)
    assert not excerpt_in("a\nc", output) and not excerpt_in("d\n...\na", output)


@pytest.mark.parametrize("command,excerpt", EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_example_prints_its_excerpt(command, excerpt, monkeypatch):
    """Each example, run in the repository root, prints the lines the README shows."""
    pytest.importorskip("torch")
    assert len(EXAMPLES) == 5
    monkeypatch.chdir(ROOT)
    result = invoke(*shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert excerpt_in(excerpt, result.stdout), result.stdout


def test_family_table_is_computed():
    """Every row of the README's family table equals the analytic totals (no aux heads)."""
    from incprof.count.analytic import count_spec
    from incprof.spec.registry import available, resolve

    rows = re.findall(r"^\| `(\w+)` \|[^|]*\| (\d+) \| ([\d,]+) \| ([\d,]+) \|", README, flags=re.M)
    assert sorted(name for name, *_ in rows) == available()
    for name, side, params, macs in rows:
        spec = resolve(name)
        counted = [rc.counts for rc in count_spec(spec) if not rc.placed.is_aux]
        assert int(side) == spec.input[1], name
        assert sum(c.params for c in counted) == int(params.replace(",", "")), name
        assert sum(c.macs for c in counted) == int(macs.replace(",", "")), name
