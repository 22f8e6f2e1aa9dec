"""The pages of docs/ state facts of the code: the CLI reference is what typer generates from the app
today, the example spec is the tested one and every layer key the parser reads is in the layer
table, the layout names every module, the ceilings are the CLI's defaults, the claims quoted are
computed, and every relative link leads to a file and heading that exist."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REGENERATE = "PYTHONPATH=$PWD typer incprof.cli.app utils docs --name incprof --output docs/cli.md"


def page(name: str) -> str:
    return (DOCS / name).read_text()


def section(text: str, heading: str) -> str:
    """The text under ``heading`` (a markdown heading line), up to the next heading of its level."""
    level = heading.split(" ")[0]
    return text.split(f"\n{heading}\n")[1].split(f"\n{level} ")[0]


def test_cli_reference_is_generated(tmp_path):
    """docs/cli.md is typer's `utils docs` output for the app as it is now."""
    import typer.cli
    from typer.testing import CliRunner

    fresh = tmp_path / "cli.md"
    result = CliRunner().invoke(typer.cli.app, ["incprof.cli.app", "utils", "docs", "--name", "incprof",
                                                "--output", str(fresh)])
    assert result.exit_code == 0, result.output
    assert page("cli.md") == fresh.read_text(), f"docs/cli.md is out of date; regenerate it: {REGENERATE}"


def test_cli_reference_has_every_command():
    """The generated reference is not empty: every command of the app has its section."""
    import typer.main

    from incprof.cli.app import app

    commands = typer.main.get_command(app).commands
    assert re.findall(r"^## `incprof (\w+)`$", page("cli.md"), flags=re.M) == list(commands)


def test_example_spec_is_tiny_yaml():
    """The spec shown first in docs/specs.md is tests/data/tiny.yaml, byte for byte."""
    shown = re.search(r"```yaml\n(.*?\n)```", page("specs.md"), flags=re.S)[1]
    assert shown == (ROOT / "tests" / "data" / "tiny.yaml").read_text()


def test_layer_table_names_every_key_the_parser_reads():
    """Each row of the layer table names its layer types and exactly the keys the parser accepts."""
    from incprof.spec.layer_reader import LAYER_PARSERS

    table = section(page("specs.md"), "## Layers").split("\n\n")[0]
    rows = re.findall(r"^\| (`.+?`) \| (.*) \|$", table, flags=re.M)
    named = [op for ops, _ in rows for op in re.findall(r"`(\w+)`", ops)]
    assert sorted(named) == sorted(LAYER_PARSERS)
    for ops, keys in rows:
        accepted = set().union(*(set().union(*LAYER_PARSERS[op][1] or ({"-"},))
                                 for op in re.findall(r"`(\w+)`", ops)))
        if accepted == {"-"}:  # branches: a list, not a mapping of keys
            continue
        assert set(re.findall(r"`(\w+)`", keys)) == accepted, ops


def test_residual_example_is_a_valid_layer():
    """The residual block in docs/specs.md parses, and its body and shortcut give 64 channels."""
    from incprof.count.analytic import count_spec
    from incprof.spec.registry import parse_spec

    block = re.findall(r"```yaml\n(.*?\n)```", page("specs.md"), flags=re.S)[1]
    spec = parse_spec({"name": "r", "input": [32, 8, 8],
                       "rows": [{"name": "res", "type": "residual", "layers": yaml.safe_load(block)}]})
    (row,) = count_spec(spec)
    # two 3x3 convs 32 -> 64 -> 64 with biases, and a 1x1 shortcut 32 -> 64 with its bias
    assert row.counts.params == (9 * 32 * 64 + 64) + (9 * 64 * 64 + 64) + (32 * 64 + 64)


def test_layout_names_every_module():
    """The Layout block of docs/architecture.md names each module of incprof/ once, under its
    package, and only modules that exist."""
    block = section(page("architecture.md"), "## Layout").split("```")[1].split("tables/")[0]
    named, package = [], ""
    for line in block.splitlines():
        if start := re.match(r"  (\w+)/", line):
            package = start[1] + "/"
        named += [package + name for name in re.findall(r"(?<![/\w])(\w+)\.py\b", line)]
    modules = sorted(str(p.relative_to(ROOT / "incprof").with_suffix("")).replace("\\", "/")
                     for p in (ROOT / "incprof").rglob("*.py") if not p.stem.startswith("__"))
    assert sorted(named) == modules


def test_ceilings_are_the_cli_defaults():
    """The ceilings table of docs/limits.md lists every global --max-* option with its default."""
    import typer.main

    from incprof.cli.app import app

    group = typer.main.get_command(app)
    defaults = {p.opts[0]: float(p.default) for p in group.params if p.opts[0].startswith("--max-")}
    table = section(page("limits.md"), "## Ceilings")
    shown = {flag: float(value.replace(",", "")) for flag, value in
             re.findall(r"^\| `(--max-[\w-]+) N` \| ([\d,.e]+)", table, flags=re.M)}
    assert shown == defaults


def test_claims_sentence_is_computed():
    """docs/results.md's sentence on the papers' claims quotes what incprof.analysis.claims computes."""
    from incprof.analysis.claims import check_claims
    from incprof.spec.registry import resolve

    shown = {(name, c["printed"], c.get("source")): c for name in
             ("bn_inception", "inception_v3", "inception_resnet_v2", "xception")
             for c in check_claims(resolve(name))}
    by_claim = {(name, printed): c for (name, printed, _), c in shown.items()}
    sentence = page("results.md").split("The papers' headline claims are data too")[1].split("\n\n")[0]
    sentence = " ".join(sentence.split())
    assert f"comes to {by_claim[('bn_inception', '13.6M')]['shown']}" in sentence
    assert (f"to {by_claim[('bn_inception', '+25%')]['shown']} and "
            f"{by_claim[('bn_inception', '+30%')]['shown']}") in sentence
    v3 = [c for (name, _, _), c in shown.items() if name == "inception_v3" and c["printed"] == "2.5x"]
    assert f"costs {v3[0]['shown']} GoogLeNet and {v3[1]['shown']} BN-Inception" in sentence
    assert f"costs {by_claim[('inception_resnet_v2', '1.0x')]['computed']:.2f}x" in sentence
    v3_params = by_claim[("xception", "23626728")]["computed"]
    assert f"is {v3_params - 23_626_728:,} below" in sentence


def test_cost_tables_sentence_is_computed():
    """docs/results.md's paragraph on the papers' cost tables quotes what the claims compute."""
    from incprof.analysis.claims import check_claims
    from incprof.analysis.papers import factorized_step, receptive_field_records
    from incprof.spec.registry import resolve

    text = " ".join(page("results.md").split("The papers' cost tables are claims too")[1]
                    .split("\n\n")[0].split())
    mobilenet = {c["claim"]: c for c in check_claims(resolve("mobilenet_v1"))}
    assert f"is {mobilenet['Conv 3x3: 1.19% of mult-adds']['shown']} built" in text
    assert f"has {mobilenet['Conv MobileNet: 4866 million mult-adds']['shown']} mult-adds" in text
    assert f"has {mobilenet['1.0 MobileNet-160: 290 million mult-adds']['shown']} against" in text
    assert all(c["verdict"] == "does not hold" for c in check_claims(resolve("mobilenet_v1"))
               if c["claim"].startswith("GoogleNet"))
    v2 = [c for c in check_claims(resolve("inception_v2")) if c["printed"] == "3.8G"]
    assert f"is {v2[0]['shown']} built" in text
    assert f"is {factorized_step()['pairs'][0]['step']:,} MACs built" in text
    (passes,) = [c for c in check_claims(resolve("googlenet")) if c["printed"] == "1008"]
    assert passes["detail"].endswith(text.split("144 crops is ")[1].split(" per image")[0]
                                     + " per image")
    fields = receptive_field_records()
    assert len(fields) == 5 and all(f["verdict"] == "holds" for f in fields)


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
SHELL = ("|", "||", "&&", ">", ">>", ";")
EXAMPLES = [line for path in PAGES for block in re.findall(r"```sh\n(.*?)\n```", path.read_text(), flags=re.S)
            for line in block.splitlines() if line.startswith("incprof ")]


@pytest.mark.parametrize("line", EXAMPLES)
def test_example_command_uses_real_options(line):
    """Every `incprof ...` line of a sh block names a real command with options it takes."""
    import typer.main

    from incprof.cli.app import app

    args = shlex.split(line, comments=True)[1:]
    args = args[:next((i for i, a in enumerate(args) if a in SHELL), len(args))]
    group = typer.main.get_command(app)
    _, rest, _ = group.make_parser(group.context_class(group)).parse_args(args)
    name, *command_args = rest
    command = group.commands[name]
    command.make_parser(command.context_class(command)).parse_args(command_args)  # raises on a wrong option


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but hyphens dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")



@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_links_lead_somewhere(path):
    """Every relative link of the README and docs/ names a file that exists, and a heading of it."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"\w+://", target):
            continue
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        assert linked.exists(), f"{path.name}: {target}"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(), flags=re.M)
            assert anchor in {_anchor(h) for h in headings}, f"{path.name}: {target}"


def test_anchor():
    assert (_anchor("`incprof check` and `incprof diff`: a CI recipe")
            == "incprof-check-and-incprof-diff-a-ci-recipe")
    assert _anchor("The paper's figures") == "the-papers-figures"
