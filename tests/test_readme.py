"""The README stays true: its output excerpt, its commands and its example spec."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    test_command = next(b for b in blocks if "pytest" in b)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_output_excerpt_is_real():
    pytest.importorskip("torch")
    from incprof.analysis.profile import profile_records
    from incprof.render.profile import to_text

    excerpt = re.search(r"```text\n(.*?)\n```", README, flags=re.S)[1]
    actual = to_text(profile_records("googlenet", verify=True))
    for line in excerpt.splitlines():
        assert line.rstrip() in actual, line


def test_example_spec_is_the_tested_one():
    example = re.search(r"```yaml\n(.*?)\n```", README, flags=re.S)[1]
    tiny = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    shown = yaml.safe_load(example)
    assert [r["name"] for r in shown["rows"]] == [r["name"] for r in tiny["rows"]]
    from incprof.count.analytic import count_spec
    from incprof.spec.registry import parse_spec

    counts = [rc.counts for rc in count_spec(parse_spec(shown))]
    assert sum(c.params for c in counts[:-1]) == 112 + 139 + 45


def test_every_command_and_option_is_documented():
    import typer.main

    from incprof.cli.app import app

    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"### `incprof {name}`" in README or f"`incprof {name}`" in README, name
        first_line = (command.help or "").strip().splitlines()[0]
        assert first_line.rstrip(".").lower() in README.replace("\n", " ").lower(), name
        for param in command.params:
            for flag in param.opts + param.secondary_opts:
                if flag.startswith("--") and flag != "--help":
                    assert f"{flag}" in README, (name, flag)


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


def test_family_claims_sentence_is_computed():
    """The README's sentence on the papers' claims quotes what incprof.spec.claims computes."""
    from incprof.analysis.claims import check_claims
    from incprof.spec.registry import resolve

    shown = {(name, c["printed"], c.get("source")): c for name in
             ("bn_inception", "inception_v3", "inception_resnet_v2", "xception")
             for c in check_claims(resolve(name))}
    by_claim = {(name, printed): c for (name, printed, _), c in shown.items()}
    sentence = README.split("The papers' headline claims are data too")[1].split("\n\n")[0]
    sentence = " ".join(sentence.split())
    assert f"comes to {by_claim[('bn_inception', '13.6M')]['shown']}" in sentence
    assert (f"to {by_claim[('bn_inception', '+25%')]['shown']} and "
            f"{by_claim[('bn_inception', '+30%')]['shown']}") in sentence
    v3 = [c for (name, _, _), c in shown.items() if name == "inception_v3" and c["printed"] == "2.5x"]
    assert f"costs {v3[0]['shown']} GoogLeNet and {v3[1]['shown']} BN-Inception" in sentence
    assert f"costs {by_claim[('inception_resnet_v2', '1.0x')]['computed']:.2f}x" in sentence
    v3_params = by_claim[("xception", "23626728")]["computed"]
    assert f"is {v3_params - 23_626_728:,} below" in sentence


def test_layout_names_every_module():
    """The README's Layout block names each module of incprof/ once, under its package, and only
    modules that exist."""
    block = README.split("## Layout")[1].split("```")[1].split("tables/")[0]
    named, package = [], ""
    for line in block.splitlines():
        if start := re.match(r"  (\w+)/", line):
            package = start[1] + "/"
        named += [package + name for name in re.findall(r"(?<![/\w])(\w+)\.py\b", line)]
    modules = sorted(str(p.relative_to(ROOT / "incprof").with_suffix("")).replace("\\", "/")
                     for p in (ROOT / "incprof").rglob("*.py") if not p.stem.startswith("__"))
    assert sorted(named) == modules
