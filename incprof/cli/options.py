"""The options commands share, as typer option types, and the parsing of their values.

Everything here is light: heavy libraries are imported only when a value needs them.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .shell import fail


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


ArchOpt = Annotated[str, typer.Option("--arch", "-a", help="Built-in architecture (see 'incprof "
                                                        "list').")]
SpecOpt = Annotated[Optional[Path], typer.Option("--spec", "-s", help="Your own YAML spec; "
                                                 "replaces --arch.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, markdown, csv or json.")]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file "
                                                   "(atomically) instead of stdout; - is "
                                                   "stdout.")]
DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda or cuda:N.")]
ChannelsLastOpt = Annotated[bool, typer.Option("--channels-last", help="Time in channels-last "
                                               "memory format.")]
CompileOpt = Annotated[bool, typer.Option("--compile", help="torch.compile the whole network "
                                          "first; compile time is reported apart.")]
WarmupOpt = Annotated[Optional[int], typer.Option(min=0, help="Warm-up iterations (default: "
                                                  "adaptive).")]
RepeatsOpt = Annotated[Optional[int], typer.Option(min=1, help="Timed repeats (default: adaptive, "
                                                   "until the median is stable).")]
WideOpt = Annotated[bool, typer.Option("--wide", help="With the table format: every column in one "
                                       "table at its natural width, even past the terminal's.")]
MaxMemoryOpt = Annotated[Optional[str], typer.Option(help="Refuse to time (--latency) a network "
                                                    "whose estimated memory exceeds this many "
                                                    "bytes, e.g. 8G (default: half the available "
                                                    "memory).")]
ThreadsOpt = Annotated[Optional[int], typer.Option(min=1, help="CPU threads for torch while "
                                                   "timing (default: torch's own count).")]


ModelOpt = Annotated[Optional[str], typer.Option(
    "--model", "-m", help="Any nn.Module: torchvision:NAME, timm:NAME (no pretrained weights), "
    "path/to/file.py:factory or package.module:factory. Importing a file or module runs its code.")]
ModelArgOpt = Annotated[Optional[list[str]], typer.Option(
    "--model-arg", help="key=value for the --model factory (int, float, true/false or text); "
    "repeatable.")]
ChannelsOpt = Annotated[int, typer.Option(min=1, help="With --model: channels of the example "
                                          "input.")]


def parse_int_list(text: str, option: str, largest: int) -> list[int]:
    """'79,151,299' -> [79, 151, 299], each from 1 to ``largest``."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and 1 <= int(part) <= largest for part in parts):
        fail(f"{option} must be comma-separated whole numbers from 1 to {largest}, got {text!r}")
    return [int(part) for part in parts]


def parse_columns(text: str) -> tuple[str, ...]:
    """'rf,memory' -> ('rf', 'memory'); 'all' -> every group."""
    from ..render.profile import COLUMN_GROUPS

    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    unknown = [g for g in groups if g not in (*COLUMN_GROUPS, "all")]
    if unknown:
        fail(f"unknown --columns group {unknown[0]!r}; choose from "
             f"{', '.join(COLUMN_GROUPS)} or all")
    return groups


def parse_input_size(text: str | None) -> tuple[int, int] | None:
    """'224' -> (224, 224); '299x320' -> (299, 320); None stays None."""
    if text is None:
        return None
    from ..spec import ceilings

    max_side = ceilings.current().max_side
    match = re.fullmatch(r"\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*", text)
    sides = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not all(1 <= side <= max_side for side in sides):
        fail(f"--input-size must be a size like 224 or 224x224, each side from 1 to "
             f"{max_side} (--max-side), got {text!r}")
    return sides


def parse_count(text: str, option: str) -> int:
    """'7000000', '7M', '1.6G' or '6,998,552' -> an integer count (units.parse_count)."""
    from ..units import parse_count as count

    try:
        return count(text)
    except ValueError:
        fail(f"{option} must be a count like 7000000, 7M or 1.6G, got {text!r}")


def timing_options(latency: bool, device: str, dtype, channels_last: bool, compile_model: bool,
                   warmup: int | None, repeats: int | None, threads: int | None = None):
    """The latency.TimingOptions the flags ask for, or None without --latency."""
    if not latency:
        return None
    from ..nn.latency import TimingOptions

    return TimingOptions(device=device, dtype=dtype.value, channels_last=channels_last,
                         compile=compile_model, warmup=warmup, repeats=repeats, threads=threads)


def load_model(ref: str, model_arg):
    """The nn.Module of a --model reference, with its --model-arg pairs."""
    from ..capture.models import parse_model_args, resolve_model

    return resolve_model(ref, parse_model_args(model_arg))


def model_spec(ref: str, model_arg, input_size=None, channels: int = 3, depth: int = 1):
    """The spec of a --model reference (export.spec_of_model), for the views that take specs."""
    from ..capture.export import spec_of_model

    return spec_of_model(load_model(ref, model_arg), input_size, channels=channels, depth=depth,
                         label=ref)
