"""Property-based hardening: every spec, valid or hostile, ends in a result or one clean error line.

Most examples are valid specs written from parts (convs, pools, LRN, nested branches, Inception filter
columns, a classifier tail, aux heads, hostile names); while writing them the generator works out each
row's params and MACs with the conv and linear formulas, and the CLI's JSON must give exactly those.
A minority are mutated (bad keys and types, YAML 1.1 surprises, huge numbers, bad defaults, garbage
layers, flat and spatial tensors mixed, deep nesting, truncation). Every example runs through the CLI
and must exit 0 with a result, or 2 with one line ``error: ...``: never a traceback. Markdown, CSV,
text and SVG outputs are checked for structure that user text could forge.

Derandomized (repeatable in CI); ``INCPROF_FUZZ_RANDOM=1`` explores new seeds and
``INCPROF_FUZZ_EXAMPLES=N`` sets the number of generated specs (default 800; the two smaller
properties run an eighth and a sixth of that, 1,033 examples in all); ``INCPROF_FUZZ_SHRINK=1``
shrinks a failure to a minimal spec. The test run's summary gives the example count and the fraction
that reached counting. The strategies for valid specs are in tests/cli/fuzz_specs.py.
"""

import copy
import csv
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from conftest import DATA
from fuzz_specs import Net, valid_net
from incprof.spec.registry import tables_dir
from incprof.render.text import _NUMBER
from incprof.spec.yamlio import load_yaml

EXAMPLES = int(os.environ.get("INCPROF_FUZZ_EXAMPLES", "800"))
# Shrinking a failure re-runs it hundreds of times (minutes); INCPROF_FUZZ_SHRINK=1 turns it on.
FUZZ = {"derandomize": "INCPROF_FUZZ_RANDOM" not in os.environ, "deadline": None, "database": None,
        "phases": [Phase.explicit, Phase.generate]
        + ([Phase.shrink] if "INCPROF_FUZZ_SHRINK" in os.environ else [])}
TALLY = Counter()
# (format, verify, plot); the first is the most common and the cheapest (no torch, no matplotlib).
MODES = [("json", False, False)] * 13 + [
    ("markdown", False, False), ("csv", False, False), ("table", False, False),
    ("json", True, False), ("markdown", True, False), ("csv", False, True)]

# ---------------------------------------------------------------------------------------- mutations
YAML11 = ["010", "0o17", "0x1F", "0b101", "1:30", "1_000", "+3", "00", "yes", "no", "on", "off", "Y",
          "OFF", "~", "null", ".inf", "-.inf", ".nan", "1e3", "3.0", "2001-12-14", "!!str 3",
          "!!float 3", "!!binary aGk=", "!!python/name:os.system", "!!set {a}", "*nowhere", "&a 3",
          "'3'", '"\\ud800"', '"\\x1b[31m"', '"\\0"', "[]", "{}", "[3, [3]]", "3 # comment", "<<"]
JUNK = st.one_of(
    st.integers(-3, 3), st.integers(10**6, 10**30), st.sampled_from([2**20, 2**20 + 1, 2**63, -2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.none(), st.booleans(),
    st.lists(st.integers(-2, 300), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(),
                                                                 max_size=2),
    st.sampled_from(["same", "valid", "3x3", "1x7", "0x0", "-1", "1e9", "7x7/2", "", " ", "×"]),
)
GARBAGE_LAYERS = [
    {"add": {"from": "conv"}}, {"residual": [{"conv": {"out": 2, "kernel": 1}}]},
    {"shortcut": None}, {"branches": [[{"conv": {"out": 2, "kernel": 1}}]]}, {"branches": []},
    {"branches": [[{"conv": {"out": 2, "kernel": 1}}], []]}, {"branches": {"a": 1}},
    {"conv": {"out": 2, "kernel": 1}, "relu": True}, {"conv": None}, {"conv": [2, 1]},
    {"branches": [[{"linear": {"out": 4}}, {"conv": {"out": 2, "kernel": 1}}],
                  [{"global_avgpool": {}}]]},
    {"branches": [[{"linear": {"out": 4}}], [{"conv": {"out": 2, "kernel": 1}}]]},
    {"branches": [[{"conv": {"out": 2, "kernel": 1, "stride": 2}}],
                  [{"conv": {"out": 2, "kernel": 1}}]]},
    {"conv": {"out": 3, "kernel": 2, "padding": "same"}}, {"conv": {"out": 3, "kernel": 1, "groups": 2}},
    {"conv": {"out": 2, "kernel": 1, "stride": 0}}, {"conv": {"out": 4, "kernel": 99}},
    {"maxpool": {"kernel": 2, "padding": 2}}, {"dropout": {"p": 1}}, {"softmax": {"dim": 0}},
    {"global_avgpool": {"out": 1}},
]
HUGE_LAYERS = [{"lrn": {"size": 2**20}}, {"linear": {"out": 2**20}}, {"conv": {"out": 2**20, "kernel": 1}},
               {"maxpool": {"kernel": 2**14, "padding": 2**13}}]
BAD_DEFAULTS = {"bn_eps": [-1, 0, "x", float("nan"), float("inf"), True], "bias": ["yes", 1, None],
                "relu": [2, "no"], "padding": [-1, "same", "full", [1, 2, 3]], "groups": [2]}
BAD_OPTIONS = [["--input-size", "0"], ["--input-size", "99999"], ["--input-size", "7x"],
               ["--input-size", "1"], ["--batch-size", "4096"], ["--batch-size", "0"],
               ["--columns", "bogus"], ["--max-memory", "-1"], ["--max-memory", "1"]]
GLOBAL_OPTIONS = [["--max-nodes", "5"], ["--max-side", "2"], ["--max-count", "10"],
                  ["--max-count", "1e99"]]


def _spots(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _spots(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _spots(v, path + (i,))


def _at(data, path):
    for step in path:
        data = data[step]
    return data


@st.composite
def mutated_net(draw) -> Net:
    """A valid spec with one thing broken (or a CLI option that makes it wrong)."""
    net = draw(valid_net())
    data = net.data = copy.deepcopy(net.data)
    net.mutation = kind = draw(st.sampled_from([
        "junk", "delete", "unknown_key", "yaml11", "yaml11", "bad_default", "garbage_layer",
        "garbage_layer", "huge_layer", "bad_name", "nest", "aux_after_flat", "truncate", "option"]))
    spots = list(_spots(data))
    dicts = [p for p, v in spots if isinstance(v, dict)]
    scalars = [p for p, v in spots if p and not isinstance(v, (dict, list))]
    layer_lists = [p for p, v in spots if p and p[-1] == "layers" or
                   (isinstance(v, list) and len(p) >= 2 and p[-2] == "branches")]
    if kind in ("garbage_layer", "huge_layer") and not layer_lists:
        net.mutation = kind = "junk"
    if kind == "junk":
        path = draw(st.sampled_from([p for p, _ in spots if p]))
        _at(data, path[:-1])[path[-1]] = draw(JUNK)
    elif kind == "delete":
        path = draw(st.sampled_from([p for p in dicts if _at(data, p)]))
        del _at(data, path)[draw(st.sampled_from(list(_at(data, path))))]
    elif kind == "unknown_key":
        path = draw(st.sampled_from(dicts))
        _at(data, path)[draw(st.sampled_from(["colour", "Conv", "kernal", "residual", "skip", "1"]))] \
            = draw(JUNK)
    elif kind == "yaml11":
        path = draw(st.sampled_from(scalars))
        net.raw["YAMLRAWTOKEN"] = draw(st.sampled_from(YAML11))
        _at(data, path[:-1])[path[-1]] = "YAMLRAWTOKEN"
    elif kind == "bad_default":
        key = draw(st.sampled_from(sorted(BAD_DEFAULTS)))
        data.setdefault("defaults", {"conv": {}})["conv"][key] = draw(st.sampled_from(BAD_DEFAULTS[key]))
    elif kind in ("garbage_layer", "huge_layer"):
        layers = _at(data, draw(st.sampled_from(layer_lists)))
        garbage = draw(st.sampled_from(GARBAGE_LAYERS if kind == "garbage_layer" else HUGE_LAYERS))
        layers.insert(draw(st.integers(0, len(layers))), copy.deepcopy(garbage))
    elif kind == "bad_name":
        holders = [data] + data["rows"] + data.get("aux", [])
        holder = draw(st.sampled_from(holders))
        key = draw(st.sampled_from(["name", "type", "title", "after"] if holder is data
                                   else ["name", "type", "after"]))
        holder[key] = draw(st.one_of(
            st.sampled_from(["", "   ", None, 12, ["a"], {"a": 1}, True, "\x00", "\ud800x"]),
            st.sampled_from([r["name"] for r in data["rows"]]),
            st.integers(1000, 100_000).map(lambda n: "x" * n)))
    elif kind == "nest":
        row = draw(st.sampled_from(data["rows"]))
        layers = row.get("layers") or [{"dropout": {"p": 0.1}}]
        for _ in range(draw(st.integers(2, 150))):
            layers = [{"branches": [layers, [{"dropout": {"p": 0}}]]}]
        row["layers"] = layers
    elif kind == "aux_after_flat":
        data["rows"].append({"name": "fc~flat", "type": "linear", "layers": [{"linear": {"out": 4}}]})
        data.setdefault("aux", []).append({"name": "head~flat", "after": "fc~flat", "layers": [
            draw(st.sampled_from([{"conv": {"out": 2, "kernel": 1}}, {"maxpool": {"kernel": 1}},
                                  {"lrn": {"size": 3}}, {"linear": {"out": 2}}]))]})
    elif kind == "truncate":
        net.cut = draw(st.integers(0, 999))
    return net


# ------------------------------------------------------------------------------------------ running
@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """``(run, folder)``: run(args) invokes the CLI through typer's CliRunner, with the click command
    built once rather than on every call (a third of a call's time); each call still parses all
    its options and runs the whole command (the ceilings that options such as --max-nodes set hold
    for that command alone)."""
    from typer import testing
    from typer.testing import CliRunner

    from incprof.cli.app import app

    command = testing._get_command(app)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(testing, "_get_command", lambda _: command)
        runner = CliRunner()
        yield (lambda args: runner.invoke(app, args)), tmp_path_factory.mktemp("fuzz")


def _failure(result) -> str | None:
    """What is wrong with how the command ended (None if it ended in 0 or one clean exit-2 line)."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        frames = traceback.extract_tb(result.exc_info[2])
        inner = next((f for f in reversed(frames) if "/incprof/" in f.filename), frames[-1])
        return (f"traceback: {type(result.exception).__name__}: {str(result.exception)[:300]} "
                f"(at {Path(inner.filename).name}:{inner.lineno} in {inner.name})")
    if result.exit_code not in (0, 2):
        return f"exit code {result.exit_code}: {result.output.strip()[-300:]}"
    if "Traceback" in result.output:
        return "a traceback was printed"
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            return f"exit 2 without exactly one 'error:' line on stderr: {result.stderr[:300]!r}"
        if result.stdout:
            return f"exit 2, but something was written to stdout: {result.stdout[:200]!r}"
    return None


def _markdown_problems(text: str, n_rows: int) -> list[str]:
    lines = re.split(r"\r\n|\r|\n", text)
    block = lines[:lines.index("")] if "" in lines else lines
    pipes = [len(re.findall(r"(?<!\\)\|", line)) for line in block]
    problems = []
    if len(block) != 2 + n_rows:
        problems.append(f"the markdown table has {len(block) - 2} rows for {n_rows} spec rows")
    elif len(set(pipes)) != 1:
        problems.append("a markdown table row has a different number of cells than the header")
    if any(line.startswith("#") for line in lines):
        problems.append("user text made a markdown heading")
    if re.search(r"(?<!\\)<(?:b|img|script)\b", text):  # "\\<b>" is escaped: literal text
        problems.append("user text passed into markdown as raw HTML")
    if re.search(r"(?<!\\)!?\[[^\]\n]*\]\(", text):
        problems.append("user text passed into markdown as a link or image")
    return problems


def _csv_problems(text: str, n_rows: int) -> list[str]:
    records = list(csv.reader(io.StringIO(text, newline="")))
    if len(records) != 1 + n_rows + 2:
        return [f"the CSV has {len(records) - 3} rows for {n_rows} spec rows"]
    header = records[0]
    cells = [r[header.index(c)] for r in records[1:1 + n_rows] for c in ("row", "type")]
    # a plain number such as +1 or -70.8% is data to a spreadsheet, not a formula
    if any(cell[:1] in ("=", "+", "-", "@", "\t", "\r")
           and not _NUMBER.fullmatch(cell) for cell in cells):
        return ["a CSV cell from user text starts with = + - @ (formula injection)"]
    return []


def _json_problems(text: str, net: Net, spec_text: str, batch: int, aux: bool) -> list[str]:
    payload = json.loads(text)
    if net.mutation is not None:
        return []
    loaded = yaml.safe_load(spec_text)  # PyYAML's own reading of the names, apart from incprof's
    heads = loaded.get("aux", []) if aux else []
    names = [r["name"] for r in loaded["rows"]] + [h["name"] for h in heads]
    got = [r["row"] for r in payload["rows"]]
    if got != names:
        return [f"JSON rows {got!r} are not the spec's rows {names!r}"]
    expected = net.rows[:len(loaded["rows"])] + (net.rows[len(loaded["rows"]):] if aux else [])
    for row, (params, macs) in zip(payload["rows"], expected):
        if (row["params"], row["macs"]) != (params, macs * batch):
            return [f"row {row['row']!r}: params, MACs {row['params']}, {row['macs']}; the "
                    f"formulas give {params}, {macs * batch}"]
    n_main = len(loaded["rows"])
    totals = payload["totals"]
    main = [sum(x) for x in zip(*net.rows[:n_main])]
    if [totals["params"], totals["macs"]] != [main[0], main[1] * batch]:
        return [f"totals {totals['params']}, {totals['macs']}; the formulas give {main}"]
    if totals.get("check_agrees") is False:
        return ["FlopCounterMode disagrees with the analytic counts"]
    return []


def check(cli, text: str | bytes, net: Net, mode: tuple, extra: list[str],
          glob: list[str]) -> list[str]:
    """Run one example through the CLI; return its problems (empty when it ended well)."""
    run, folder = cli
    fmt, verify, plot = mode
    spec, figure = folder / "spec.yaml", folder / "figure.svg"
    spec.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    figure.unlink(missing_ok=True)
    args = [*glob, "table", "--spec", str(spec), "-f", fmt, "--verify" if verify else "--no-verify",
            *extra, *(["--plot", str(figure)] if plot else [])]
    TALLY["tried"] += 1
    TALLY["generated valid"] += net.mutation is None
    result = run(args)
    failure = _failure(result)
    if failure:
        return [failure]
    if result.exit_code == 2:
        TALLY["refused"] += 1
        return [f"left a half-written figure {figure}"] if figure.exists() else []
    TALLY["counted"] += 1
    TALLY["built"] += verify
    aux = "--no-aux" not in extra
    n_rows = len(net.data["rows"]) + (net.n_aux if aux else 0) if net.mutation is None else None
    batch = int(extra[extra.index("--batch-size") + 1]) if "--batch-size" in extra else 1
    problems = []
    if fmt == "json":
        problems += _json_problems(result.stdout, net, text, batch, aux)
    elif fmt == "markdown" and n_rows is not None:
        problems += _markdown_problems(result.stdout, n_rows)
    elif fmt == "csv" and n_rows is not None:
        problems += _csv_problems(result.stdout, n_rows)
    elif fmt == "table" and re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.stdout):
        problems.append("a control character (ANSI escape, CR) reached the text output")
    if plot and not figure.exists():  # nothing to draw: one line says why, and no file
        if "no plot written to" not in result.stderr:
            problems.append("--plot wrote no figure and did not say why")
    elif plot:
        try:
            ET.fromstring(figure.read_bytes())
        except (OSError, ET.ParseError) as exc:
            problems.append(f"the SVG figure is not well-formed XML: {exc}")
    return problems


def _report(problems: list[str], args: str, text: str) -> str:
    shown = text if len(text) < 4000 else text[:4000] + f"... ({len(text)} characters)"
    return "\n".join(problems) + f"\n--- options: {args}\n--- spec ---\n{shown}"


@st.composite
def example(draw):
    """A net (valid three times in four), the output mode and extra options."""
    net = draw(st.one_of(valid_net(), valid_net(), valid_net(), mutated_net()))
    mode = draw(st.sampled_from(MODES))
    # Build only small networks (the memory guard is not trusted here), and plot only short names.
    if net.mutation not in (None, "garbage_layer", "aux_after_flat", "bad_default"):
        mode = (mode[0], False, mode[2] and net.mutation != "bad_name")
    extra, glob = [], []
    if draw(st.integers(0, 3)) == 0:
        extra += draw(st.sampled_from([["--batch-size", "3"], ["--no-aux"], ["--batch-size", "4096"]]))
    if mode[0] in ("markdown", "table") and draw(st.booleans()):
        extra += ["--columns", "all"]
    if net.mutation == "option":
        option = draw(st.sampled_from(BAD_OPTIONS + GLOBAL_OPTIONS))
        (glob if option in GLOBAL_OPTIONS else extra).extend(option)
    return net, mode, extra, glob


@pytest.mark.slow
@settings(max_examples=EXAMPLES, **FUZZ)
@given(case=example())
def test_generated_specs_end_in_a_result_or_one_error_line(cli, case):
    net, mode, extra, glob = case
    text = net.text()
    problems = check(cli, text, net, mode, extra, glob)
    assert not problems, _report(problems, f"{mode} {glob} {extra}", text)


# ------------------------------------------------------------------- the built-in tables, mutated
def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


BASES = [_plain(load_yaml(p)) for p in sorted(tables_dir().glob("*.yaml"))] + \
    [_plain(load_yaml(DATA / "tiny.yaml"))]


@pytest.mark.slow
@settings(max_examples=max(10, EXAMPLES // 8), **FUZZ)
@given(data=st.data())
def test_mutated_tables_end_in_a_result_or_one_error_line(cli, data):
    base = copy.deepcopy(data.draw(st.sampled_from(BASES)))
    spots = [p for p, _ in _spots(base) if p]
    path = data.draw(st.sampled_from(spots))
    action = data.draw(st.sampled_from(["replace", "delete", "yaml11"]))
    parent = _at(base, path[:-1])
    net = Net(base, mutation=action)
    if action == "delete":
        del parent[path[-1]]
    elif action == "replace":
        parent[path[-1]] = data.draw(JUNK)
    else:
        parent[path[-1]] = "YAMLRAWTOKEN"
        net.raw["YAMLRAWTOKEN"] = data.draw(st.sampled_from(YAML11))
    flavor = data.draw(st.sampled_from([[], ["--flavor", "torchvision"]]))
    text = net.text()
    problems = check(cli, text, net, ("json", False, False), flavor, [])
    assert not problems, _report(problems, str(flavor), text)


# ---------------------------------------------------------------------------- hostile documents
SMALL = "name: t\ninput: [3, 8, 8]\nrows: [{name: a, type: b, layers: "
HOSTILE = st.one_of(
    st.binary(max_size=64).map(lambda b: b"name: x\ninput: [3, 8, 8]\nrows: " + b),
    st.integers(2, 40).map(lambda n: "rows: " + "[" * n * 50 + "]" * n * 50),
    st.integers(3, 9).map(lambda depth: "\n".join(
        [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
        + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)])),
    st.sampled_from(["!!python/object/apply:os.system ['true']", "name: !!python/name:os.getcwd",
                     "x: !!binary aGVsbG8=", "? [1, 2]\n: 3", "a: 1\na: 2", "- 1\n- 2",
                     "input: [3, 8, 8]\nname: t\nrows: []", "%YAML 9.9\n--- x", "---\n...\n",
                     "---\na: 1\n---\nb: 2\n", "\ufeffname: t", "",
                     SMALL + "[{conv: {out: 4, kernel: 9}}]}]",
                     SMALL + "[{conv: {out: 4, kernel: 1, stride: 99}}, {conv: {out: 4, kernel: 3}}]}]",
                     SMALL + "[{maxpool: {kernel: 2}}, {maxpool: {kernel: 2}}, {maxpool: {kernel: 4}}]}]",
                     SMALL + "[{conv: {out: 010, kernel: 1}}]}]",
                     SMALL + "[{conv: {out: 1:30, kernel: 1}}]}]",
                     SMALL + "[{conv: {out: 4, kernel: 1, bias: yes}}]}]"]),
    st.text(max_size=200),
)


@pytest.mark.slow
@settings(max_examples=max(10, EXAMPLES // 6), **FUZZ)
@given(document=HOSTILE)
def test_hostile_documents_end_in_one_error_line(cli, document):
    problems = check(cli, document, Net({}, mutation="hostile"), ("json", False, False), [], [])
    assert not problems, _report(problems, "", repr(document))


def test_cli_turns_fuzzed_specs_into_one_line(tmp_path):
    from typer.testing import CliRunner

    from incprof.cli.app import app

    runner = CliRunner()
    samples = [
        "name: t\ninput: [3, 8, 8]\nrows: [{name: a, type: b, layers: [{conv: {out: -4, kernel: 1}}]}]",
        "name: t\ninput: [3, 8, 8]\nrows: [{name: a, type: b, layers: [{conv: {out: 4, kernel: 99}}]}]",
        "!!python/object/apply:os.system ['true']",
        "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "\n".join(
            f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)),
    ]
    for i, text in enumerate(samples):
        path = tmp_path / f"s{i}.yaml"
        path.write_text(text)
        result = runner.invoke(app, ["table", "--spec", str(path), "--no-verify"])
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output
    path = tmp_path / "bytes.yaml"
    path.write_bytes(b"name: \xff\n")
    result = runner.invoke(app, ["table", "--spec", str(path)])
    assert result.exit_code == 2 and "not UTF-8" in result.stderr


def pytest_terminal_summary_line():
    tried, counted = TALLY["tried"], TALLY["counted"]
    return (f"fuzz: {tried} examples through the CLI ({TALLY['generated valid']} generated valid); "
            f"{counted} ({counted / max(tried, 1):.0%}) reached counting and gave a result, "
            f"{TALLY['built']} of them built and cross-checked by FlopCounterMode; "
            f"{TALLY['refused']} refused with one error line")
