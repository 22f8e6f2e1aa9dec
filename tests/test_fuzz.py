"""Property-based hardening: malformed and hostile specs end in SpecError, never another exception.

Runs with a fixed seed (derandomized) so CI is repeatable; INCPROF_FUZZ_RANDOM=1 explores new seeds.
The numbers tried are printed in the test
summary. Set INCPROF_FUZZ_EXAMPLES to run more.
"""

import copy
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA
from incprof.analytic import count_spec
from incprof.errors import SpecError
from incprof.profiler import profile
from incprof.spec import parse_spec, place, tables_dir
from incprof.yamlio import load_yaml

EXAMPLES = int(os.environ.get("INCPROF_FUZZ_EXAMPLES", "600"))  # per property; two properties
FUZZ = settings(max_examples=EXAMPLES, derandomize="INCPROF_FUZZ_RANDOM" not in os.environ,
                deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
TALLY = {"tried": 0, "rejected": 0}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


BASES = [_plain(load_yaml(p)) for p in sorted(tables_dir().glob("*.yaml"))] + \
    [_plain(load_yaml(DATA / "tiny.yaml"))]

JUNK = st.one_of(
    st.integers(min_value=-10, max_value=3), st.integers(min_value=10**6, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.none(), st.booleans(),
    st.lists(st.integers(-2, 300), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(),
                                                                 max_size=2),
    st.sampled_from(["same", "valid", "3x3", "1x7", "0x0", "conv", "-1", "1e9", "7x7/2"]),
)


def _paths(value, prefix=()):
    """Every (path) into a nested dict/list structure."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _mutate(data, path, action, junk, draw_key):
    data = copy.deepcopy(data)
    if not path:
        return junk if action == "replace" else data
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = junk
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif action == "unknown_key" and isinstance(parent[last], dict):
        parent[last][draw_key] = junk
    elif action == "nest":
        parent[last] = [[[parent[last]]]]
    elif action == "layer_type" and isinstance(parent[last], dict) and len(parent[last]) == 1:
        ((_, args),) = parent[last].items()
        parent[last] = {draw_key: args}
    else:
        parent[last] = junk
    return data


def _check_text(text, name="fuzz.yaml"):
    """Load, parse, place and count; only SpecError may come out."""
    TALLY["tried"] += 1
    try:
        spec = parse_spec(load_yaml(name, text), name)
        count_spec(spec)
        profile(spec)
        place(spec, (spec.input[1] // 2 + 1, spec.input[2]))
    except SpecError as exc:
        TALLY["rejected"] += 1
        message = str(exc)
        assert "\n" not in message and message.startswith(name)
    except Exception as exc:  # noqa: BLE001 - the property under test
        pytest.fail(f"{type(exc).__name__} instead of SpecError: {exc!r}\n--- spec ---\n{text}")


@FUZZ
@given(data=st.data())
def test_mutated_tables_raise_only_spec_errors(data):
    base = data.draw(st.sampled_from(BASES))
    paths = list(_paths(base))
    path = data.draw(st.sampled_from(paths))
    action = data.draw(st.sampled_from(["delete", "replace", "duplicate", "unknown_key", "nest",
                                        "layer_type", "replace"]))
    junk = data.draw(JUNK)
    key = data.draw(st.sampled_from(["colour", "conv2d", "Conv", "branch", "kernel", "<<", "1"]))
    mutated = _mutate(base, path, action, junk, key) if path else junk
    try:
        text = yaml.safe_dump(mutated, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return
    _check_text(text)


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
                     SMALL + "[{conv: {out: 4, kernel: 9}}]}]",
                     SMALL + "[{conv: {out: 4, kernel: 1, stride: 99}}, {conv: {out: 4, kernel: 3}}]}]",
                     SMALL + "[{maxpool: {kernel: 2}}, {maxpool: {kernel: 2}}, {maxpool: {kernel: 4}}]}]"]),
    st.text(max_size=200),
)


@FUZZ
@given(text=HOSTILE)
def test_hostile_documents_raise_only_spec_errors(text):
    _check_text(text)


def test_cli_turns_fuzzed_specs_into_one_line(tmp_path):
    from typer.testing import CliRunner

    from incprof.cli import app

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
    return f"fuzz: {TALLY['tried']} specs tried, {TALLY['rejected']} rejected with SpecError"
