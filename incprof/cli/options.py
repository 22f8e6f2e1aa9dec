"""The options commands share, as typer option types grouped in help panels; the parsing of their
values; and the refusal, in one line, of an option that does not apply to what was given.

Everything here is light: heavy libraries are imported only when a value needs them.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..count.analytic import MAX_BATCH
from ..errors import quoted
from ..render.text import terminal
from .shell import fail

try:
    from typer._click.core import ParameterSource
except ImportError:  # typer before it vendored click
    from click.core import ParameterSource


class Format(str, Enum):
    """Output formats of the commands: table (rich on a terminal, else text), markdown, csv, json."""

    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


class DType(str, Enum):
    """Value types for memory figures."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class Level(str, Enum):
    """Which comparison to show."""

    module = "module"
    network = "network"
    both = "both"


# The help panels that group each command's options, in the order --help shows them.
INPUT, OUTPUT, CHECK, LATENCY, MODEL = "Input", "Output", "Cross-check", "Latency", "Model"
BUDGETS = "Budgets"

ArchOpt = Annotated[str, typer.Option(
    "--arch", "-a", rich_help_panel=INPUT, help="The network: a built-in architecture by name "
    "(see 'incprof list').")]
SpecOpt = Annotated[Optional[Path], typer.Option(
    "--spec", "-s", rich_help_panel=INPUT, help="The network from your own YAML spec file (the "
    "tables/*.yaml schema), in place of --arch.")]
FlavorOpt = Annotated[str, typer.Option(
    rich_help_panel=INPUT, help="How the network is built: paper (the spec as published) or a "
    "flavour the spec defines: googlenet's torchvision (conv+BN, no LRN, 3x3 in the 5x5 branch), "
    "bn_inception's caffe (the Caffe port).")]
InputSizeOpt = Annotated[Optional[str], typer.Option(
    rich_help_panel=INPUT, help="Input height x width in pixels: HxW (299x320) or S for a square "
    "(224). Default: the spec's own input (a --model's: timm's, else 224).")]
FormatOpt = Annotated[Format, typer.Option(
    "--format", "-f", rich_help_panel=OUTPUT, help="table (rich on a terminal, else text), "
    "markdown, csv or json; csv and json carry raw integers.")]
def output_path(text: str) -> Path:
    """An output file as typed: refused (one line, exit 2) when empty or ending in a slash, which
    names a folder (Path would drop the slash and write a file)."""
    if not text:
        raise typer.BadParameter("an empty path names no file")
    if text.endswith(("/", f"{os.sep}")) and text != "-":
        raise typer.BadParameter(f"{terminal(text)!r} ends in a slash, so it names a folder, "
                                 "not a file")
    return Path(text)


def folder_path(text: str) -> Path:
    """An output folder as typed: refused when empty."""
    if not text:
        raise typer.BadParameter("an empty path names no folder")
    return Path(text)


OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", parser=output_path, metavar="<path>", rich_help_panel=OUTPUT, help="Write to this file "
    "(atomically) instead of stdout; - is stdout.")]
BatchSizeOpt = Annotated[int, typer.Option(
    min=1, max=MAX_BATCH, rich_help_panel=INPUT, help="Images per batch; MACs scale with it, params "
    "do not.")]
WideOpt = Annotated[bool, typer.Option(
    "--wide", rich_help_panel=OUTPUT, help="With the table format: every column in one table at "
    "its natural width, even past the terminal's.")]
SummaryOpt = Annotated[bool, typer.Option(
    "--summary", "-q", rich_help_panel=OUTPUT, help="The table and one totals line: no notes, "
    "no conventions.")]
VerifyOpt = Annotated[bool, typer.Option(
    "--verify/--no-verify", rich_help_panel=CHECK, help="Build the network and re-count every "
    "row with torch's FlopCounterMode formulas on an empty batch; --no-verify counts from the "
    "spec alone, without torch.")]
LatencyOpt = Annotated[bool, typer.Option(
    "--latency", rich_help_panel=LATENCY, help="Time every row alone and the whole network "
    "(machine-dependent; see --device).")]
DeviceOpt = Annotated[str, typer.Option(
    rich_help_panel=LATENCY, help="Where to time: auto (CUDA when present), cpu, cuda or cuda:N.")]
TimingDTypeOpt = Annotated[DType, typer.Option(
    "--dtype", rich_help_panel=LATENCY, help="Timing dtype: fp32, fp16 or bf16 (the model and "
    "input are cast to it).")]
ChannelsLastOpt = Annotated[bool, typer.Option(
    "--channels-last", rich_help_panel=LATENCY, help="Time in channels-last memory format.")]
CompileOpt = Annotated[bool, typer.Option(
    "--compile", rich_help_panel=LATENCY, help="torch.compile the whole network first; compile "
    "time is reported apart.")]
WarmupOpt = Annotated[Optional[int], typer.Option(
    min=0, rich_help_panel=LATENCY, help="Warm-up iterations, before the first of the five "
    "timing rounds. Default: adaptive, about a tenth of the time budget, and a shorter warm-up "
    "opening each later round.")]
RepeatsOpt = Annotated[Optional[int], typer.Option(
    min=1, rich_help_panel=LATENCY, help="Timed repeats, one call each. Default: adaptive, until "
    "the median is stable (at least 20); on the CPU a call under 1 ms then repeats as a block of "
    "calls that fills 1 ms.")]
ThreadsOpt = Annotated[Optional[int], typer.Option(
    min=1, rich_help_panel=LATENCY, help="CPU threads for torch while timing. Default: torch's "
    "own count.")]
TF32Opt = Annotated[Optional[bool], typer.Option(
    "--tf32/--no-tf32", rich_help_panel=LATENCY, help="On CUDA, allow TF32 tensor cores for fp32 "
    "convs and matmuls, or not. Default: torch's (convs yes, matmuls no).")]
PredictOpt = Annotated[bool, typer.Option(
    "--predict", rich_help_panel=LATENCY, help="Predict each row's latency from its counts (a "
    "--model's: from the ops each row runs) and --device-profile, without running anything "
    "(see docs/latency.md).")]
DeviceProfileOpt = Annotated[Optional[str], typer.Option(
    rich_help_panel=LATENCY, help="The device profile to predict with: a datasheet profile "
    "(h100-sxm, h100-pcie, h100-nvl, h200, a100, l4; uncalibrated) or a JSON file. Default with "
    "--latency: the one 'incprof calibrate' wrote for this device, thread count, dtype and torch.")]
MaxMemoryOpt = Annotated[Optional[str], typer.Option(
    rich_help_panel=LATENCY, help="Refuse to time a network whose estimated memory exceeds this "
    "many bytes, e.g. 8G. Default: half the available memory.")]
ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", "-m", rich_help_panel=MODEL, help="The network as any nn.Module, in place of "
    "--arch and --spec: torchvision:NAME, timm:NAME (no pretrained weights), hf:TYPE (a "
    "transformers model from its default config, offline), path/to/file.py:factory or "
    "package.module:factory. Importing a file or module runs its code.")]
ModelArgOpt = Annotated[Optional[list[str]], typer.Option(
    "--model-arg", rich_help_panel=MODEL, help="key=value for the --model factory (int, float, "
    "true/false, a JSON list or text), or for hf:TYPE a config field; repeatable.")]
ChannelsOpt = Annotated[int, typer.Option(
    min=1, rich_help_panel=MODEL, help="With --model: channels of the example input.")]
DepthOpt = Annotated[int, typer.Option(
    min=1, rich_help_panel=MODEL, help="With --model: rows are the modules at this depth (1: the "
    "top-level children).")]

InputOpt = Annotated[Optional[list[str]], typer.Option(
    "--input", rich_help_panel=MODEL, help="With --model: an example input of this full shape "
    "(batch first) and dtype, zeros, SHAPE[:DTYPE] (1x128:int64); NAME=SHAPE[:DTYPE] passes it as "
    "a keyword (attention_mask=1x128:int64). Repeatable, in call order. Default: an image "
    "(--input-size, --channels), or a Hugging Face model's inputs from its config.")]
InputsOpt = Annotated[Optional[str], typer.Option(
    "--inputs", rich_help_panel=MODEL, help="With --model: file.py:make_inputs (or "
    "package.module:make_inputs) returning (args, kwargs), a tuple or a dict; given the model if "
    "it takes an argument. Importing it runs its code.")]
SeqLenOpt = Annotated[Optional[int], typer.Option(
    min=1, rich_help_panel=MODEL, help="With an hf:TYPE text model: token ids per sequence "
    "(default 128).")]

# The options that belong to one kind of network given: a spec (--arch or --spec), or a --model.
SPEC_ONLY = ("flavor", "aux")
MODEL_ONLY = ("model_arg", "channels", "depth", "input_", "inputs", "seq_len", "seq_lens")
# The options of --latency.
TIMING = ("device", "channels_last", "compile_model", "warmup", "repeats", "threads", "max_memory",
          "tf32")


def refuse(ctx: typer.Context, names, reason: str) -> None:
    """Exit 2 if one of the options ``names`` (parameter names) was given on the command line:
    one line naming it, and ``reason`` (why it does not apply)."""
    for param in ctx.command.params:
        if param.name in names and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
            fail(f"{'/'.join([max(param.opts, key=len), *param.secondary_opts])} {reason}")


def check_network(ctx: typer.Context, model) -> None:
    """Refuse the options that do not apply to the network given: --model's own without it, and
    with it --arch, --spec and what only a spec has (flavours, aux heads); --arch with --spec."""
    if model:
        refuse(ctx, ("arch", "spec"), "does not apply with --model, which names the network")
        refuse(ctx, SPEC_ONLY, "does not apply to --model: flavours and aux heads belong to specs")
    else:
        refuse(ctx, MODEL_ONLY, "applies only with --model")
        if ctx.params.get("spec"):
            refuse(ctx, ("arch",), "does not apply with --spec, which names the network")


def check_timing(ctx: typer.Context, latency: bool, also=()) -> None:
    """Without --latency, refuse the timing options (and ``also``): they would be ignored."""
    if not latency:
        refuse(ctx, (*TIMING, *also), "applies only with --latency")


def check_wide(ctx: typer.Context, fmt: Format) -> None:
    """Refuse --wide with a format other than table, which would ignore it."""
    if fmt is not Format.table:
        refuse(ctx, ("wide",), f"applies only to the table format, not {fmt.value}")


def parse_int_list(text: str, option: str, largest: int) -> list[int]:
    """'79,151,299' -> [79, 151, 299], each from 1 to ``largest``."""
    parts = [part.strip() for part in text.split(",")]
    if not all(re.fullmatch(r"[0-9]{1,9}", part) and 1 <= int(part) <= largest for part in parts):
        fail(f"{option} must be comma-separated whole numbers from 1 to {largest}, got {quoted(text)}")
    return [int(part) for part in parts]


def parse_columns(text: str) -> tuple[str, ...]:
    """'rf,memory' -> ('rf', 'memory'); 'all' -> every group."""
    if not text.strip():
        return ()
    from ..render.profile import COLUMN_GROUPS

    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    unknown = [g for g in groups if g not in (*COLUMN_GROUPS, "all")]
    if unknown:
        fail(f"unknown --columns group {quoted(unknown[0])}; choose from "
             f"{', '.join(COLUMN_GROUPS)} or all")
    return groups


def parse_input_size(text: str | None) -> tuple[int, int] | None:
    """--input-size: 'S' -> (S, S), 'HxW' (or H×W, as in a spec) -> (H, W); None stays None."""
    if text is None:
        return None
    from ..spec import ceilings

    max_side = ceilings.current().max_side
    match = re.fullmatch(r"\s*(\d{1,9})\s*(?:[x×]\s*(\d{1,9}))?\s*", text)
    sides = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not all(1 <= side <= max_side for side in sides):
        fail(f"--input-size must be a size like 224 or 224x224, each side from 1 to "
             f"{max_side} (--max-side), got {quoted(text)}")
    return sides


def parse_sizes(text: str) -> list[int]:
    """sweep's --sizes: '79,151,299' -> [79, 151, 299], square sides up to --max-side."""
    from ..spec import ceilings

    return parse_int_list(text, "--sizes", ceilings.current().max_side)


def parse_count(text: str, option: str) -> int:
    """'7000000', '7M', '1.6G' or '6,998,552' -> an integer count (units.parse_count)."""
    from ..units import parse_count as count

    try:
        return count(text)
    except ValueError:
        fail(f"{option} must be a count like 7000000, 7M or 1.6G, got {quoted(text)}")


def timing_options(latency: bool, device: str, dtype, channels_last: bool, compile_model: bool,
                   warmup: int | None, repeats: int | None, threads: int | None = None,
                   tf32: bool | None = None):
    """The latency.TimingOptions the flags ask for, or None without --latency."""
    if not latency:
        return None
    from ..nn.latency import TimingOptions

    return TimingOptions(device=device, dtype=dtype.value, channels_last=channels_last,
                         compile=compile_model, warmup=warmup, repeats=repeats, threads=threads,
                         tf32=tf32)


def check_inputs(ctx: typer.Context, given, factory) -> None:
    """Refuse what --input or --inputs already say: each other, and the image's options."""
    if factory:
        refuse(ctx, ("input_",), "does not apply with --inputs, which makes every input")
    if given or factory:
        refuse(ctx, ("input_size", "channels", "seq_len", "batch_size"), "does not apply with "
               "--input/--inputs, whose shapes are given whole (batch first)")


def load_example(model, given=None, factory=None, input_size=None, channels: int = 3,
                 batch_size: int = 1, seq_len: int | None = None):
    """The example inputs (capture.inputs.Example) a --model runs on: --inputs, --input, or its
    default (an image, or a Hugging Face model's inputs from its config)."""
    from ..capture import inputs

    if factory:
        return inputs.from_factory(factory, model)
    if given:
        return inputs.zeros(inputs.parse_inputs(given))
    return inputs.default(model, input_size, channels, batch_size, seq_len)


def load_model(ref: str, model_arg, *, timed: bool = False):
    """The nn.Module of a --model reference, with its --model-arg pairs, its weights drawn where
    it is to be ``timed`` (capture.models.resolve_model); refused at once past --max-layers leaf
    modules. Run it inside ``user_code(ref)``."""
    from ..capture.guard import check_modules
    from ..capture.models import parse_model_args, resolve_model

    model = resolve_model(ref, parse_model_args(model_arg), draw_weights=timed)
    check_modules(model, ref)
    return model


def user_code(ref: str):
    """The block runs the --model ``ref``'s code: it cannot end incprof, print to its stdout or
    read its arguments, and stops at --timeout (incprof.capture.guard.user_code)."""
    from ..capture.guard import user_code as guarded

    return guarded(ref)


def model_spec(ref: str, model_arg, input_size=None, channels: int = 3, depth: int = 1):
    """The spec of a --model reference (export.spec_of_model), for the views that take specs."""
    from ..capture.export import spec_of_model
    from .shell import say

    notes: list = []
    with user_code(ref):
        spec = spec_of_model(load_model(ref, model_arg), input_size, channels=channels,
                             depth=depth, label=ref, notes=notes)
    for note in notes:
        say(f"{ref}: {note}", prefix="note: ")
    return spec
