"""One CLI vocabulary: one --input-size grammar, --flavor wherever a spec is named, options that do
not apply refused in one line, options grouped in help panels, help text printed as written."""

import inspect
import json
import re
from pathlib import Path

import pytest
import typer

from conftest import DATA, invoke
from incprof.cli.app import app

TINY = str(DATA / "tiny.yaml")
MODEL = "torchvision:no_such_model"  # refusals come before any model is loaded
COMMANDS = typer.main.get_command(app).commands


def _refused(args, line):
    result = invoke(*args)
    assert (result.exit_code, result.stderr) == (2, f"error: {line}\n"), result.output


# ---- --input-size: HxW or S everywhere; sweep's list is --sizes
@pytest.mark.parametrize("text, hw", [("299x320", (299, 320)), ("224", (224, 224)),
                                      (" 240 × 256 ", (240, 256))])
def test_input_size_is_hxw_or_s(text, hw):
    result = invoke("table", "--no-verify", "--no-aux", "-f", "json", "--input-size", text)
    assert result.exit_code == 0, result.output
    first = json.loads(result.stdout)["rows"][0]
    # GoogLeNet's conv1: 7x7/2, padding 3, 3 -> 64 channels (Table 1)
    h, w = (hw[0] - 1) // 2 + 1, (hw[1] - 1) // 2 + 1
    assert (first["output_size"], first["macs"]) == (f"{h}x{w}x64", 7 * 7 * 3 * 64 * h * w)


@pytest.mark.parametrize("args", [("table", "--no-verify"), ("check", "--max-params", "7M"),
                                  ("referee",), ("export", "--model", MODEL),
                                  ("table", "--model", MODEL)])
def test_a_list_is_no_input_size_in_any_command(args):
    _refused((*args, "--input-size", "224,224"), "--input-size must be a size like 224 or 224x224, "
             "each side from 1 to 16384 (--max-side), got '224,224'")


def test_sweep_takes_its_sizes_as_sizes():
    result = invoke("sweep", "--sizes", "79,151", "-f", "csv")
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == ["79x79x3", "151x151x3"]
    _refused(("sweep", "--sizes", "299x299"), "--sizes must be comma-separated whole numbers from 1 "
             "to 16384, got '299x299'")
    _refused(("--max-side", "100", "sweep", "--sizes", "101"), "--sizes must be comma-separated "
             "whole numbers from 1 to 100, got '101'")
    result = invoke("sweep", "--input-size", "79,151")
    assert result.exit_code == 2 and "No such option: --input-size" in result.stderr


# ---- --flavor wherever --arch or --spec names a spec
def test_every_command_with_arch_or_spec_takes_flavor_or_says_why_not():
    for name, command in COMMANDS.items():
        params = {p.name: p for p in command.params}
        if "arch" in params or "spec" in params:
            assert "flavor" in params or "--flavor" in params["arch"].help, name


# torchvision's GoogLeNet weights: num_params 6,624,904 (GoogLeNet_Weights.IMAGENET1K_V1.meta, no
# aux heads); its adaptive average pool keeps them at every input size.
TORCHVISION_PARAMS = 6_624_904


def test_flavor_reaches_sweep_check_and_compare():
    result = invoke("sweep", "--flavor", "torchvision", "--sizes", "160,224,320", "-f", "json")
    assert result.exit_code == 0, result.output
    assert {row["params"] for row in json.loads(result.stdout)["rows"]} == {TORCHVISION_PARAMS}
    ok = invoke("check", "--flavor", "torchvision", "--max-params", str(TORCHVISION_PARAMS))
    assert ok.exit_code == 0, ok.output
    over = invoke("check", "--flavor", "torchvision", "--max-params", str(TORCHVISION_PARAMS - 1))
    assert over.exit_code == 1 and f"params {TORCHVISION_PARAMS:,} exceed" in over.stderr
    result = invoke("compare", "reduced", "naive", "--flavor", "torchvision", "--level", "network",
                    "--no-verify", "-f", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["network"]["totals"]["a_params"] == TORCHVISION_PARAMS


@pytest.mark.parametrize("command", [("bench", "--device", "cpu"), ("referee",),
                                     ("table", "--no-verify"), ("sweep",)])
def test_an_unknown_flavor_is_named(command):
    result = invoke(*command, "--flavor", "tv")
    assert result.exit_code == 2 and "unknown flavour 'tv' for googlenet" in result.stderr


# ---- options that do not apply to the network given are refused, not ignored
@pytest.mark.parametrize("args, line", [
    # --model: flavours, aux heads and the spec's own options
    (("table", "--model", MODEL, "--flavor", "torchvision"),
     "--flavor does not apply to --model: flavours and aux heads belong to specs"),
    (("table", "--model", MODEL, "--no-aux"),
     "--aux/--no-aux does not apply to --model: flavours and aux heads belong to specs"),
    (("table", "--model", MODEL, "--no-verify"), "--verify/--no-verify applies to specs; a --model "
     "is counted from its captured graph"),
    (("table", "--model", MODEL, "--dtype", "fp16"), "--dtype applies to --model only with "
     "--columns memory, --latency or --predict"),
    (("table", "--model", MODEL, "--input", "1x3:int64", "--input-size", "8"), "--input-size does "
     "not apply with --input/--inputs, whose shapes are given whole (batch first)"),
    (("table", "--model", MODEL, "--spec", TINY), "--spec does not apply with --model, which names "
     "the network"),
    (("referee", "--model", MODEL, "--flavor", "torchvision"),
     "--flavor does not apply to --model: flavours and aux heads belong to specs"),
    (("check", "--model", MODEL, "--arch", "inception_v3", "--max-macs", "1G"),
     "--arch does not apply with --model, which names the network"),
    (("sweep", "--model", MODEL, "--flavor", "torchvision"),
     "--flavor does not apply to --model: flavours and aux heads belong to specs"),
    (("bench", "--model", MODEL, "--spec", TINY), "--spec does not apply with --model, which names "
     "the network"),
    (("compare", "naive", "reduced", "--model", MODEL, "--flavor", "torchvision"),
     "--flavor does not apply with --model: the variant names rewrite the model"),
    # --spec and --arch: the model's own options, and --arch beside --spec
    (("table", "--spec", TINY, "--channels", "1"), "--channels applies only with --model"),
    (("table", "--depth", "2"), "--depth applies only with --model"),
    (("referee", "--spec", TINY, "--model-arg", "a=1"), "--model-arg applies only with --model"),
    (("sweep", "--model-arg", "a=1"), "--model-arg applies only with --model"),
    (("table", "--arch", "inception_v3", "--spec", TINY),
     "--arch does not apply with --spec, which names the network"),
    (("compare", "googlenet", "inception_v3", "--arch", "inception_v3"),
     "--arch applies only when A or B is a variant name (see 'incprof list')"),
    (("diff", "googlenet", "inception_v3", "--model-arg", "a=1"),
     "--model-arg applies only with --model"),
    # options of --latency without it, --wide without the table format, and the like
    (("table", "--warmup", "1"), "--warmup applies only with --latency"),
    (("compare", "naive", "reduced", "--dtype", "fp16"), "--dtype applies only with --latency"),
    (("sweep", "--device", "cpu"), "--device applies only with --latency"),
    (("report", "--arch", "inception_v3"), "--arch applies only with --latency"),
    (("report", "--latency", "--referee"),
     "--referee does not apply with --latency, which writes the latency report alone"),
    (("table", "--wide", "-f", "csv"), "--wide applies only to the table format, not csv"),
    (("factorize", "--width", "8", "--cin", "4", "--cout", "4"),
     "--width does not apply with both --cin and --cout"),
])
def test_an_option_that_does_not_apply_is_refused_in_one_line(args, line):
    _refused(args, line)


def test_wide_applies_to_a_models_table():
    """--wide with --model: every column in one table, the op names beside the counts."""
    pytest.importorskip("torch")
    args = ("table", "--model", f"{DATA / 'user_models.py'}:functional", "--input-size", "32")
    narrow, wide = invoke(*args).stdout.splitlines(), invoke(*args, "--wide").stdout.splitlines()
    header = next(line for line in wide if "FlopCounter" in line)
    assert "not counted" in header and len(header) > 110
    assert not any("FlopCounter" in line and "not counted" in line for line in narrow)


# ---- help: panels, the bare command, text as written
PANELS = {"table": ["Input", "Output", "Cross-check", "Latency", "Model", "Training"],
          "compare": ["Input", "Output", "Cross-check", "Latency", "Model", "Training"],
          "factorize": ["Input", "Output", "Cross-check"], "sweep": ["Input", "Output", "Latency", "Model"],
          "bench": ["Input", "Output", "Latency", "Model"],
          "referee": ["Input", "Output", "Model", "Training"],
          "check": ["Input", "Budgets", "Model"], "diff": ["Output", "Model"],
          "export": ["Model", "Input", "Output"], "report": ["Output", "Latency"], "list": []}


@pytest.mark.parametrize("name", list(PANELS))
def test_options_are_grouped_in_help_panels(name):
    result = invoke(name, "--help")
    assert result.exit_code == 0
    titles = re.findall(r"╭─ (\S[^─]*?) ─", result.stdout)
    assert [t for t in titles if t not in ("Arguments", "Options")] == PANELS[name]
    loose = [p.name for p in COMMANDS[name].params
             if not p.rich_help_panel and p.param_type_name == "option" and p.name != "help"]
    assert loose == []


def test_bare_incprof_prints_its_help_once():
    result = invoke()
    assert result.exit_code == 2
    assert result.stdout.count("Usage:") == 1 and result.stdout.count("╭─ Commands") == 1


def test_help_names_the_peers_extra():
    text = " ".join(invoke("referee", "--help").stdout.replace("│", " ").split())
    assert "pip install 'incprof[peers]'" in text
    text = " ".join(invoke("report", "--help").stdout.replace("│", " ").split())
    assert "needs incprof[peers]" in text


def test_every_help_string_prints_as_written():
    """rich markup reads [x] as a tag and :name: as an emoji: every help string, as rich renders it,
    is the text as written (an escaped bracket, \\[, prints as [)."""
    from rich.text import Text

    group = typer.main.get_command(app)
    texts = [group.help, *(p.help for p in group.params)]
    for command in group.commands.values():
        texts += [command.help, *(getattr(p, "help", None) for p in command.params)]
    for text in filter(None, texts):
        written = inspect.cleandoc(text)
        assert Text.from_markup(written).plain == written.replace("\\[", "["), written


def test_each_shared_bound_is_written_once():
    """The batch maximum is count.analytic.MAX_BATCH (the README's 4,096), in every option and
    library check; no other module writes the number."""
    from incprof.count.analytic import MAX_BATCH

    assert MAX_BATCH == 4096
    for name, command in COMMANDS.items():
        for param in command.params:
            if param.name == "batch_size":
                assert param.type.max == MAX_BATCH, name
    package = Path(__file__).parents[2] / "incprof"
    writers = [str(path.relative_to(package)) for path in package.rglob("*.py")
               if "4096" in path.read_text(encoding="utf-8")]
    assert writers == ["count/analytic.py"]
    _refused(("bench", "--batch-sizes", "1,4097"), "--batch-sizes must be comma-separated whole "
             "numbers from 1 to 4096, got '1,4097'")
