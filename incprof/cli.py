"""The command line: thin commands that parse options, call one library function and print.

Heavy libraries (torch, pandas, matplotlib) are imported inside the commands, so ``incprof --help`` is fast.
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn, Optional

import typer

from . import __version__
from .errors import SpecError, UsageError
from .shell import App, Group, say, unwritten
from .variants import VARIANTS

app = App(
    name="incprof",
    help="Take Inception-family networks apart the way their papers describe them: exact per-row "
         "params and MACs from the paper's own layer table, checked against the built PyTorch "
         "network and against the paper's printed figures.",
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"incprof {__version__}")
        raise typer.Exit()


@app.callback()
def ceilings(
    max_nodes: Annotated[int, typer.Option(min=1, help="Refuse YAML specs larger than this many "
                                           "nodes (this also bounds the rows).")] = 200_000,
    max_bytes: Annotated[int, typer.Option(min=1, help="Refuse spec files larger than this many "
                                           "bytes, before reading them.")] = 4 * 1024 * 1024,
    max_side: Annotated[int, typer.Option(min=1, help="Refuse inputs wider or taller than this "
                                          "many pixels.")] = 16_384,
    max_count: Annotated[str, typer.Option(help="Refuse specs with more params, MACs or "
                                           "activations per image than this, e.g. 1e15.")
                         ] = "1e15",
    max_layers: Annotated[int, typer.Option(min=1, help="Refuse to cross-check (build and count "
                                            "with FlopCounterMode) more layers than this at once.")
                          ] = 2_000,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print incprof's version and exit.")] = False,
) -> None:
    """Ceilings that keep profiling a user spec bounded; raise them if a real network needs it."""
    from . import analytic, limits, spec, yamlio

    limits.MAX_LAYERS = max_layers
    yamlio.MAX_NODES = max_nodes
    yamlio.MAX_BYTES = max_bytes
    spec.MAX_INPUT_SIDE = max_side
    try:
        count = int(float(max_count))
    except (ValueError, OverflowError):
        count = -1
    if not 1 <= count <= 2 * 10**15:  # counts times a batch of 4096 must fit in 64 bits
        fail(f"--max-count must be a number from 1 to 2e15, got {max_count!r}")
    analytic.MAX_COUNT = count


class Format(str, Enum):
    """Output formats of the table command."""

    table = "table"
    markdown = "markdown"
    csv = "csv"
    json = "json"


class DType(str, Enum):
    """Value types for memory figures."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one red line on stderr and exit (2: bad input or usage)."""
    say(message)
    raise typer.Exit(code)


# The optional dependencies a command may import, and what to do without each.
WITHOUT = {"torch": "use --no-verify to count from the spec alone",
           "matplotlib": "leave out --plot"}


@contextmanager
def user_errors():
    """Turn the errors a user can cause or fix into one red line and exit code 2.

    Bad input, an unusable output path (errors.OutputError, which names the path as given) or an
    environment that cannot serve the request, and a missing optional dependency. Anything else
    is not the user's to fix and goes on to shell.Group.main, which reports it as an internal error.
    """
    try:
        yield
    except (SpecError, UsageError) as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in WITHOUT:
            raise
        fail(f"{missing} is not installed; install incprof with its dependencies "
             f"(pip install -e .), or {WITHOUT[missing]}")


def check_outputs(*files: Path | None, folder: Path | None = None) -> None:
    """Refuse unusable output paths (files, or a folder to create) at once, before any work.

    They are remembered until written, so that a Ctrl-C can name what was left unwritten.
    """
    from .files import check_folder, check_output

    with user_errors():
        for path in files:
            if path is not None:
                check_output(path)
        if folder is not None:
            check_folder(folder)
    unwritten[:] = [str(path) for path in files if path is not None and str(path) != "-"]


def _wrote(path: Path) -> None:
    """Say that ``path`` is written, and forget it as unwritten."""
    if str(path) in unwritten:
        unwritten.remove(str(path))
    typer.secho(f"wrote {path}", err=True)


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


def load_model(ref: str, model_arg):
    """The nn.Module of a --model reference, with its --model-arg pairs."""
    from .models import parse_model_args, resolve_model

    return resolve_model(ref, parse_model_args(model_arg))


def model_spec(ref: str, model_arg, input_size=None, channels: int = 3, depth: int = 1):
    """The spec of a --model reference (export.spec_of_model), for the views that take specs."""
    from .export import spec_of_model

    return spec_of_model(load_model(ref, model_arg), input_size, channels=channels, depth=depth,
                         label=ref)


def _table_model(ref: str, model_arg, input_size, channels: int, depth: int, batch_size: int,
                 fmt: Format, output: Path | None) -> None:
    """`incprof table --model`: the model's rows, in the format asked; exit 1 when FlopCounterMode
    disagrees with the graph count."""
    from . import render_model
    from .capture import profile_model

    with user_errors():
        df = profile_model(load_model(ref, model_arg), parse_input_size(input_size),
                           channels=channels, depth=depth, batch_size=batch_size, label=ref)
    if fmt is Format.table and output is None and sys.stdout.isatty():
        from rich.console import Console

        from .render import print_grid

        print_grid(render_model.model_grid(df), Console())
    else:
        writer = {Format.table: render_model.to_text, Format.markdown: render_model.to_markdown,
                  Format.csv: render_model.to_csv, Format.json: render_model.to_json}[fmt]
        _emit(writer(df), output)
    if not df.attrs["totals"]["flop_counter_agrees"]:
        fail("FlopCounterMode's counts disagree with the graph count (see the FlopCounter column)",
             code=1)


def _timing(latency: bool, device: str, dtype, channels_last: bool, compile_model: bool,
            warmup: int | None, repeats: int | None, threads: int | None = None):
    """The latency.TimingOptions the flags ask for, or None without --latency."""
    if not latency:
        return None
    from .latency import TimingOptions

    return TimingOptions(device=device, dtype=dtype.value, channels_last=channels_last,
                         compile=compile_model, warmup=warmup, repeats=repeats, threads=threads)


@contextmanager
def _progress(first: str, total: int | None = None):
    """On a terminal, a transient line naming the step under way; yields ``step(label)``.

    Each ``step`` call names the step that starts now; with a ``total``, a bar counts the steps
    started before it. Off a terminal nothing is shown, and rich.progress is not even imported.
    """
    if not sys.stderr.isatty():
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    bar = (BarColumn(), MofNCompleteColumn()) if total else ()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), *bar, transient=True,
                  console=Console(stderr=True)) as progress:
        task = progress.add_task(first, total=total)
        started = [0]

        def step(label: str) -> None:
            progress.update(task, description=label, completed=started[0])
            started[0] += 1

        yield step


def parse_int_list(text: str, option: str, largest: int) -> list[int]:
    """'79,151,299' -> [79, 151, 299], each from 1 to ``largest``."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() and 1 <= int(part) <= largest for part in parts):
        fail(f"{option} must be comma-separated whole numbers from 1 to {largest}, got {text!r}")
    return [int(part) for part in parts]


def parse_columns(text: str) -> tuple[str, ...]:
    """'rf,memory' -> ('rf', 'memory'); 'all' -> every group."""
    from .render import COLUMN_GROUPS

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
    from . import spec

    match = re.fullmatch(r"\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*", text)
    sides = (int(match[1]), int(match[2] or match[1])) if match else (0, 0)
    if not all(1 <= side <= spec.MAX_INPUT_SIDE for side in sides):
        fail(f"--input-size must be a size like 224 or 224x224, each side from 1 to "
             f"{spec.MAX_INPUT_SIDE} (--max-side), got {text!r}")
    return sides


def _emit(text: str, output: Path | None) -> None:
    """Print ``text``, or write it to ``output`` (``-``: stdout) as files.write_atomic does."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    from .files import write_atomic

    with user_errors():
        write_atomic(output, text)
    _wrote(output)


@app.command()
def table(
    arch: Annotated[str, typer.Option("--arch", "-a", help="Built-in architecture (see "
                                      "'incprof list').")] = "googlenet",
    spec: Annotated[Optional[Path], typer.Option("--spec", "-s", help="Your own YAML spec (same "
                                                 "schema as tables/*.yaml); replaces --arch.")] = None,
    aux: Annotated[bool, typer.Option("--aux/--no-aux", help="Include the auxiliary classifiers "
                                      "(training-only heads), listed and totalled apart.")] = True,
    input_size: Annotated[Optional[str], typer.Option(help="Input height x width, e.g. 320 or "
                                                      "299x299 (default: the spec's input).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Images per batch; MACs scale with it, "
                                            "params do not.")] = 1,
    flavor: Annotated[str, typer.Option(help="paper: the spec as published. Other flavours are "
                                        "defined by the spec: googlenet's torchvision (conv+BN, no "
                                        "LRN, 3x3 in the 5x5 branch), bn_inception's caffe (the "
                                        "Caffe port).")] = "paper",
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table (rich), markdown, csv or "
                                        "json; csv/json carry raw integers.")] = Format.table,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file "
                                                   "(atomically) instead of stdout; - is "
                                                   "stdout.")] = None,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Build the network on "
                                         "meta tensors and re-count every row with torch's "
                                         "FlopCounterMode (needs torch); "
                                         "--no-verify is instant and torch-free.")] = True,
    plot: Annotated[Optional[Path], typer.Option(help="Also write stacked bars of MACs per row "
                                                 "by conv kind (.png or .svg).")] = None,
    max_memory: Annotated[Optional[str], typer.Option(help="Refuse to time (--latency) a network "
                                                      "whose estimated memory exceeds this many bytes, "
                                                      "e.g. 8G (default: half the available "
                                                      "memory).")] = None,
    columns: Annotated[str, typer.Option(help="Extra column groups, comma-separated: rf "
                                         "(receptive field, jump), memory (activations, peak live "
                                         "bytes), bottleneck (size drop), or all.")] = "",
    dtype: Annotated[DType, typer.Option(help="Bytes per value for activation memory.")
                     ] = DType.fp32,
    bottleneck_factor: Annotated[float, typer.Option(min=1.0, help="Flag a row whose output is "
                                                     "more than this many times smaller than "
                                                     "the previous row's.")] = 4.0,
    latency: Annotated[bool, typer.Option("--latency", help="Time every row alone and the whole "
                                          "network (machine-dependent; see --device).")] = False,
    device: DeviceOpt = "auto",
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    wide: WideOpt = False,
    threads: ThreadsOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    depth: Annotated[int, typer.Option(min=1, help="With --model: rows are the modules at this "
                                       "depth (1: the top-level children).")] = 1,
) -> None:
    """Reproduce a layer table row by row: the paper's figures beside exact computed ones.

    With --model, any nn.Module instead: one row per module, counted from its captured graph and
    again with FlopCounterMode. Loading a model from a .py file or module runs that code.

    Example: incprof table --arch googlenet --format csv -o googlenet.csv
    """
    from . import render
    from .profiler import profile

    if model is not None and not (latency or plot or columns):
        _table_model(model, model_arg, input_size, channels, depth, batch_size, fmt, output)
        return
    if model is not None:  # --latency, --plot, --columns: through the model's exported spec
        with user_errors():
            spec = model_spec(model, model_arg, parse_input_size(input_size), channels, depth)

    groups = parse_columns(columns)
    timing = _timing(latency, device, dtype, channels_last, compile_model, warmup, repeats,
                     threads)
    _check_plot(plot)
    check_outputs(output, plot)
    with user_errors(), _progress("counting from the spec") as step:
        df = profile(spec or arch, flavor=flavor, aux=aux,
                     input_size=parse_input_size(input_size), batch_size=batch_size, verify=verify,
                     max_memory=parse_count(max_memory, "--max-memory") if max_memory else None,
                     dtype=dtype.value, bottleneck_factor=bottleneck_factor, latency=timing,
                     progress=step)
        if plot is not None:
            from .plot import macs_by_kind_bars

            _draw(macs_by_kind_bars, plot, df)
    if fmt is Format.table and output is None and sys.stdout.isatty():
        from rich.console import Console

        render.print_grid(render.profile_grid(df, columns=groups, compact=not wide), Console(),
                          wide=wide)
    elif fmt is Format.table:
        _emit(render.to_text(df, columns=groups, wide=wide), output)
    elif fmt is Format.markdown:
        _emit(render.to_markdown(df, columns=groups), output)
    else:
        _emit((render.to_csv if fmt is Format.csv else render.to_json)(df), output)
    if df.attrs["totals"]["fvcore_agrees"] is False:
        fail("FlopCounterMode's counts disagree with the analytic counts (see the FlopCounter "
             "column)", code=1)


@app.command("export")
def export_model(
    model: Annotated[str, typer.Option("--model", "-m", help="The nn.Module: torchvision:NAME, "
                                       "timm:NAME, path/to/file.py:factory or "
                                       "package.module:factory. Importing a file or module runs "
                                       "its code.")],
    output: OutputOpt = None,
    model_arg: ModelArgOpt = None,
    input_size: Annotated[Optional[str], typer.Option(help="Input height x width of the example "
                                                      "input (default: the model's, else 224).")
                          ] = None,
    channels: ChannelsOpt = 3,
    depth: Annotated[int, typer.Option(min=1, help="Rows follow the modules at this depth.")] = 1,
) -> None:
    """Write a model as a spec (the tables/*.yaml schema), rows named after its modules.

    Where the model has a layer the schema cannot express, the error names the first such node.
    Example: incprof export --model torchvision:googlenet -o googlenet.yaml
    """
    from .export import export_spec, to_yaml

    with user_errors():
        data = export_spec(load_model(model, model_arg), parse_input_size(input_size),
                           channels=channels, depth=depth, label=model)
    _emit(to_yaml(data), output)


class Level(str, Enum):
    """Which comparison to show."""

    module = "module"
    network = "network"
    both = "both"


@app.command()
def compare(
    a: Annotated[Optional[str], typer.Argument(help="A, the original: a variant of --arch ("
                                               + ", ".join(VARIANTS) + "; see 'incprof list'), a "
                                               "built-in architecture, or a YAML file.")] = None,
    b: Annotated[Optional[str], typer.Argument(help="B, the variant; same choices as A. saved = "
                                               "1 - B/A (negative: B costs more).")] = None,
    spec: Annotated[Optional[list[Path]], typer.Option("--spec", "-s", help="A spec file for the "
                                                       "next free side (A, then B); repeatable.")
                    ] = None,
    arch: Annotated[str, typer.Option("--arch", "-a", help="The architecture that variant names "
                                      "rewrite.")] = "googlenet",
    level: Annotated[Level, typer.Option(help="module: each changed row on B's input for that "
                                         "row; network: both whole networks, rows joined by "
                                         "name.")] = Level.both,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Images per batch (MACs scale).")] = 1,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: Annotated[Optional[Path], typer.Option(help="Also write a grouped bar chart of MACs per "
                                                 "module (.png or .svg).")] = None,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Re-count every module and "
                                         "network with FlopCounterMode on the built PyTorch "
                                         "modules (meta tensors).")
                      ] = True,
    max_memory: Annotated[Optional[str], typer.Option(help="Refuse to time (--latency) a network "
                                                      "whose estimated memory exceeds this many bytes, "
                                                      "e.g. 8G (default: half the available "
                                                      "memory).")] = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also time both forms of every row, "
                                          "and both networks (machine-dependent).")] = False,
    device: DeviceOpt = "auto",
    dtype: Annotated[DType, typer.Option(help="Timing dtype: fp32, fp16 or bf16 (model and "
                                         "input cast).")] = DType.fp32,
    channels_last: ChannelsLastOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    wide: WideOpt = False,
    threads: ThreadsOpt = None,
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", help="An nn.Module (as for 'table --model'), exported to a spec: the next "
        "free side; with A and B both variant names, the model is what they rewrite. Repeatable. "
        "Importing a file or module runs its code.")] = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Compare two variants or specs: params, MACs and output sizes, row by row.

    Example: incprof compare naive reduced --plot naive-vs-reduced.png
    """
    from . import render
    from .compare import compare_modules, compare_networks, resolve_side
    from .spec import is_path

    sides = [x for x in (a, b) if x] + list(spec or [])
    models = list(model or [])
    from .compare import VARIANTS

    variants = [side for side in sides if side in VARIANTS]
    if models and variants:  # variant names rewrite the model; the model itself is A
        with user_errors():
            arch = model_spec(models[0], model_arg)
        sides = [s for s in sides if s not in VARIANTS] + variants
        models = [] if len(sides) == 2 else models[1:]
        sides, models = (sides, models) if len(sides) == 2 or models else (
            ["__model__", *sides], [])
    if len(sides) + len(models) != 2:
        fail(f"compare needs exactly two sides (A and B), got {len(sides) + len(models)}; e.g. "
             "'incprof compare naive reduced'")
    limit = parse_count(max_memory, "--max-memory") if max_memory else None
    timing = _timing(latency, device, dtype, channels_last, False, warmup, repeats, threads)
    _check_plot(plot)
    check_outputs(output, plot)
    with user_errors():
        specs = [arch if side == "__model__" else resolve_side(side, arch) for side in sides] + [
            model_spec(ref, model_arg) for ref in models]
        labels = tuple(model[0] if side == "__model__" else Path(side).stem if is_path(side) else
                       side for side in sides) + tuple(models)
        frames = []
        if level in (Level.module, Level.both):
            frames.append(compare_modules(*specs, batch_size=batch_size, verify=verify,
                                          labels=labels, max_memory=limit, latency=timing))
        if level in (Level.network, Level.both):
            frames.append(compare_networks(*specs, batch_size=batch_size, verify=verify,
                                           labels=labels, max_memory=limit, latency=timing))
        if plot is not None:
            from .plot import module_macs_bars

            _draw(module_macs_bars, plot, frames[0])
    if fmt is Format.json:
        import json

        _emit(json.dumps(render.comparison_payload(frames), indent=2) + "\n", output)
    elif fmt is Format.csv:
        _emit(render.comparison_csv(frames), output)
    else:
        _show([render.comparison_grid(f, exact=fmt is Format.markdown,
                                      compact=fmt is Format.table and not wide) for f in frames],
              fmt, output, wide)
    if any(f.attrs["totals"].get("fvcore_agrees") is False for f in frames):
        fail("FlopCounterMode's counts disagree with the analytic counts (see the FlopCounter "
             "column)", code=1)


@app.command()
def factorize(
    width: Annotated[int, typer.Option(min=1, help="Input and output channels of the conv being "
                                       "factorized (the paper's equal-width case).")] = 64,
    cin: Annotated[Optional[int], typer.Option(min=1, help="Input channels, if not --width.")
                   ] = None,
    cout: Annotated[Optional[int], typer.Option(min=1, help="Output channels, if not --width.")
                    ] = None,
    size: Annotated[int, typer.Option(min=1, help="Grid size (height = width) of the conv's "
                                      "input.")] = 17,
    grid_size: Annotated[int, typer.Option(min=2, help="d, the grid before a grid reduction "
                                           "(even).")] = 34,
    grid_channels: Annotated[int, typer.Option(min=1, help="k, the channels before a grid "
                                               "reduction.")] = 64,
    grid_kernel: Annotated[int, typer.Option(min=1, help="Conv kernel in the grid reductions "
                                             "(1 reproduces the paper's 2d²k²).")] = 3,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: Annotated[Optional[Path], typer.Option(help="Also write a bar chart of the savings "
                                                 "(.png or .svg).")] = None,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="Re-count every conv with "
                                         "FlopCounterMode on the built modules (meta tensors).")] = True,
    wide: WideOpt = False,
) -> None:
    """The v3 paper's factorization arithmetic on one conv, and its grid-size reduction argument.

    Example: incprof factorize --width 192 --size 17 --grid-kernel 1
    """
    from . import render
    from .lab import factorization_table, grid_table

    if grid_kernel % 2 == 0:
        fail(f"--grid-kernel must be odd, got {grid_kernel}")
    _check_plot(plot)
    check_outputs(output, plot)
    with user_errors():
        rules = factorization_table(width, size, cin, cout, verify=verify)
        grid = grid_table(grid_size, grid_channels, grid_kernel, verify=verify)
        if plot is not None:
            from .plot import savings_bars

            _draw(savings_bars, plot, rules, grid)
    if fmt is Format.json:
        import json

        payload = {"rules": {"meta": rules.attrs["meta"], "rows": render.records(rules)},
                   "grid_reduction": {"meta": grid.attrs["meta"], "rows": render.records(grid)}}
        _emit(json.dumps(payload, indent=2) + "\n", output)
    elif fmt is Format.csv:
        _emit(render.frame_csv(rules) + "\n" + render.frame_csv(grid), output)
    else:
        _show(render.factorization_grids(rules, grid, exact=fmt is Format.markdown,
                                         compact=fmt is Format.table and not wide),
              fmt, output, wide)


def _check_plot(plot: Path | None) -> None:
    """Refuse a --plot path matplotlib cannot write before any work starts."""
    if plot is not None:
        from .plot import check_plot_path

        with user_errors():
            check_plot_path(plot)


def _draw(figure, plot: Path, *frames) -> None:
    """Draw ``figure`` of ``frames`` into ``plot``; data with nothing to show gets one line saying
    why no plot was written, and the command goes on."""
    from .plot import NothingToPlot

    try:
        figure(*frames, plot)
    except NothingToPlot as exc:
        typer.secho(f"no plot written to {plot}: {exc}", err=True)
    else:
        _wrote(plot)


def _show(grids, fmt: Format, output: Path | None, wide: bool = False) -> None:
    """Grids as rich tables on a terminal, else as text or markdown; the tables fit the terminal
    (or 110 columns), or with ``wide`` show every column at its natural width."""
    from . import render

    if fmt is Format.markdown:
        _emit("\n".join(render.grid_markdown(g) for g in grids), output)
    elif output is None and sys.stdout.isatty():
        from rich.console import Console

        console = Console()
        for grid in grids:
            render.print_grid(grid, console, wide)
    else:
        _emit("\n".join(render.grid_text(g, wide=wide) for g in grids), output)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for the markdown reports and their "
                                      "figures.")] = Path("reports"),
    latency: Annotated[bool, typer.Option("--latency", help="Write a machine-dependent latency "
                                          "report under OUT/latency/ instead, named after its "
                                          "environment.")] = False,
    arch: Annotated[str, typer.Option("--arch", "-a", help="With --latency: the architecture.")
                    ] = "googlenet",
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="With --latency: the batch "
                                            "size.")] = 1,
    device: DeviceOpt = "auto",
    dtype: Annotated[DType, typer.Option(help="With --latency: fp32, fp16 or bf16.")
                     ] = DType.fp32,
) -> None:
    """Write the counting reports and their SVG figures.

    googlenet.md, naive-vs-reduced.md, factorizations.md and inception_v3.md, into --out.
    They are byte-for-byte reproducible; CI regenerates them and fails if they drift.
    Example: incprof report --out reports
    """
    from .report import REPORTS, latency_report, write_reports

    check_outputs(folder=out)
    if latency:
        from .latency import TimingOptions

        unwritten.append(str(out / "latency"))
        with user_errors():
            path = latency_report(arch, out, batch_size,
                                  TimingOptions(device=device, dtype=dtype.value))
        typer.echo(f"wrote {path}")
        return
    unwritten[:] = [str(out / name) for name in REPORTS]

    def written(name: str) -> None:
        unwritten.remove(str(out / name))
        if unwritten:
            step(f"writing {Path(unwritten[0]).name}")

    with user_errors(), _progress("writing reports", len(REPORTS)) as step:
        step(f"writing {Path(unwritten[0]).name}")
        paths = write_reports(out, written)
    for path in paths:
        typer.echo(f"wrote {path}")


def parse_count(text: str, option: str) -> int:
    """'7000000', '7M', '1.6G' or '6,998,552' -> an integer count (units.parse_count)."""
    from .units import parse_count as count

    try:
        return count(text)
    except ValueError:
        fail(f"{option} must be a count like 7000000, 7M or 1.6G, got {text!r}")


@app.command()
def check(
    spec: Annotated[Optional[Path], typer.Option("--spec", "-s", help="The YAML spec to check.")
                    ] = None,
    arch: Annotated[str, typer.Option("--arch", "-a", help="A built-in architecture, if no "
                                      "--spec.")] = "googlenet",
    max_params: Annotated[Optional[str], typer.Option(help="Budget for params (inference, no "
                                                      "aux heads), e.g. 7M.")] = None,
    max_macs: Annotated[Optional[str], typer.Option(help="Budget for MACs per image at "
                                                    "inference, e.g. 1.6G.")] = None,
    input_size: Annotated[Optional[str], typer.Option(help="Input height x width (default: the "
                                                      "spec's).")] = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Exit 1 with a one-line reason when a spec exceeds a budget, 0 with the figures otherwise.

    Example: incprof check --spec my.yaml --max-params 7M --max-macs 1.6G
    """
    from .profiler import profile

    if max_params is None and max_macs is None:
        fail("give at least one budget: --max-params and/or --max-macs")
    limits = {"params": parse_count(max_params, "--max-params") if max_params else None,
              "MACs": parse_count(max_macs, "--max-macs") if max_macs else None}
    with user_errors():
        df = profile(load_model(model, model_arg) if model else spec or arch, aux=False,
                     input_size=parse_input_size(input_size))
    t = df.attrs["totals"]
    name = model or (str(spec) if spec else arch)
    figures = {"params": t["params"], "MACs": t["macs"]}
    for what, limit in limits.items():
        if limit is not None and figures[what] > limit:
            fail(f"{name}: {what} {figures[what]:,} exceed the budget of {limit:,} "
                 f"(by {figures[what] - limit:,})", code=1)
    typer.echo(f"ok: {name}: " + ", ".join(
        f"{what} {figures[what]:,} <= {limit:,}" for what, limit in limits.items() if limit))


@app.command()
def diff(
    old: Annotated[Optional[str], typer.Argument(help="The old spec (YAML file or built-in "
                                                 "name).")] = None,
    new: Annotated[Optional[str], typer.Argument(help="The new spec.")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", help="An nn.Module exported to a spec, for the next free side (OLD, then "
        "NEW); repeatable. Importing a file or module runs its code.")] = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Print the rows whose params, MACs or output size changed, and the rows added or removed.

    Example: incprof diff tables/googlenet.yaml my_googlenet.yaml
    """
    from . import render
    from .compare import compare_networks
    from .spec import resolve

    check_outputs(output)
    names = [x for x in (old, new) if x] + list(model or [])
    if len(names) != 2:
        fail(f"diff needs exactly two sides (OLD and NEW), got {len(names)}")
    with user_errors():
        sides = [resolve(x) for x in (old, new) if x] + [model_spec(ref, model_arg)
                                                          for ref in model or []]
        frame = compare_networks(*sides, labels=tuple(names))
    changed = (frame["a_params"] != frame["b_params"]) | (frame["a_macs"] != frame["b_macs"]) | \
        (frame["a_output"] != frame["b_output"])
    meta, totals = frame.attrs["meta"], frame.attrs["totals"]
    frame = frame[changed].reset_index(drop=True)
    frame.attrs.update(meta={**meta, "level": "diff"}, totals=totals)
    if fmt is Format.json:
        import json

        _emit(json.dumps(render.comparison_payload([frame]), indent=2) + "\n", output)
    elif fmt is Format.csv:
        _emit(render.comparison_csv([frame]), output)
    else:
        _show([render.comparison_grid(frame, exact=fmt is Format.markdown,
                                      compact=fmt is Format.table)], fmt, output)


@app.command("sweep")
def sweep_sizes(
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    input_size: Annotated[str, typer.Option(help="Square input sides, comma-separated, e.g. "
                                            "79,151,299.")] = "79,151,224,299",
    dtype: Annotated[DType, typer.Option(help="Bytes per value for peak activation memory (and "
                                         "the timing dtype with --latency).")] = DType.fp32,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    latency: Annotated[bool, typer.Option("--latency", help="Also time the whole network at "
                                          "each valid size (batch 1; machine-dependent).")
                       ] = False,
    device: DeviceOpt = "auto",
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Params, MACs, final feature map and validity across input resolutions.

    Also reports the smallest square input the network accepts at all.
    Example: incprof sweep --arch inception_v3 --input-size 79,151,299
    """
    from . import render
    from .spec import resolve
    from .sweep import sweep

    sides = parse_int_list(input_size, "--input-size", 16384)
    check_outputs(output)
    with user_errors():
        df = sweep(model_spec(model, model_arg) if model else resolve(spec or arch), sides,
                   dtype.value,
                   _timing(latency, device, dtype, False, False, warmup, repeats, threads))
    if fmt is Format.json:
        import json

        payload = {"meta": df.attrs["meta"], "rows": render.records(df)}
        _emit(json.dumps(payload, indent=2) + "\n", output)
    elif fmt is Format.csv:
        _emit(render.frame_csv(df), output)
    else:
        _show([render.sweep_grid(df, exact=fmt is Format.markdown)], fmt, output)


@app.command()
def bench(
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,8,32",
    device: DeviceOpt = "auto",
    dtype: Annotated[DType, typer.Option(help="fp32, fp16 or bf16 (model and input cast).")
                     ] = DType.fp32,
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
) -> None:
    """Whole-network throughput (images/s) per batch size, with its environment.

    Example: incprof bench --arch googlenet --batch-sizes 1,8,32,64 --device cuda --dtype bf16
    """
    from . import render
    from .bench import bench_batches
    from .latency import TimingOptions
    from .spec import resolve

    sizes = parse_int_list(batch_sizes, "--batch-sizes", 4096)
    options = TimingOptions(device=device, dtype=dtype.value, channels_last=channels_last,
                            compile=compile_model, warmup=warmup, repeats=repeats, threads=threads)
    check_outputs(output)
    with user_errors(), _progress("benchmarking", len(sizes)) as step:
        df = bench_batches(model_spec(model, model_arg) if model else resolve(spec or arch),
                           sizes, options, step)
    if fmt is Format.json:
        import json

        _emit(json.dumps({"meta": df.attrs["meta"], "rows": render.records(df)}, indent=2)
              + "\n", output)
    elif fmt is Format.csv:
        _emit(render.frame_csv(df), output)
    else:
        _show([render.bench_grid(df)], fmt, output)


@app.command("list")
def list_archs() -> None:
    """List the built-in architectures, and the variants that 'incprof compare' makes of one."""
    from .spec import available, format_shape, resolve
    from .variants import VARIANTS

    typer.echo("Architectures (--arch NAME):")
    for name in available():
        try:
            spec = resolve(name)
        except SpecError as exc:
            typer.echo(f"  {name:<20} (broken: {exc})")
            continue
        shape = format_shape(spec.input)
        typer.echo(f"  {name:<20} {len(spec.rows):>3} rows, input {shape:<12} {spec.title}")
    typer.echo("Variants (incprof compare A B, each a rewrite of --arch):")
    for name, rewrite in VARIANTS.items():
        summary = " ".join((rewrite.__doc__ or "").strip().split("\n\n")[0].split())
        typer.echo(f"  {name:<20} {summary.replace('``', '')}")


@app.command("referee")
def referee_cmd(
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: Annotated[str, typer.Option(help="paper, or a flavour the spec defines.")
                      ] = "paper",
    aux: Annotated[bool, typer.Option(help="Build the aux heads (they do not run in eval mode; "
                                      "only parameter totals see them).")] = True,
    input_size: Annotated[Optional[str], typer.Option(help="e.g. 224 or 299x299 (default: the "
                                                      "spec's own).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096, help="Batch of the zero input.")
                          ] = 1,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Every peer counter's total beside incprof's prediction of it, and published figures refereed.

    Runs each installed peer (fvcore, FlopCounterMode, ptflops' two backends, thop, torchinfo)
    on the built network and predicts its total from incprof's own per-op counts under that
    tool's conventions; then checks the spec's published figures against every convention.

    Exit code 1 when a residual is not zero.
    Example: incprof referee --arch inception_v3 --input-size 299
    """
    from . import render
    from .referee import referee, referee_figures
    from .spec import resolve

    check_outputs(output)
    with user_errors():
        network = resolve(spec or arch)
        result = referee(network, flavor=flavor, aux=aux,
                         input_size=parse_input_size(input_size), batch_size=batch_size)
        figures = referee_figures(network)
    if fmt is Format.json:
        import json

        _emit(json.dumps({**result, "published": figures}, indent=2) + "\n", output)
    elif fmt is Format.csv:
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ["tool", "installed", "version", "unit", "reported",
                                         "predicted",
                                         "residual", "params_reported", "params_predicted",
                                         "params_residual"], extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(result["tools"])
        _emit(buffer.getvalue(), output)
    else:
        grids = [render.referee_grid(result)]
        if figures:
            grids.append(render.figures_grid(figures, f"{result['meta']['title']}: published "
                                                      "figures refereed"))
        _show(grids, fmt, output)
    if any(t["residual"] or t["params_residual"] for t in result["tools"]):
        raise typer.Exit(1)
