"""The command line: the typer app, its ceilings, and the commands on one network (table, check,
list); cli_model (table --model, export), cli_reports (report), cli_compare and cli_measure hold the
others, registered here in --help order.

Commands are thin: they parse options (options.py), call one library function and hand the result
to output.py. Heavy libraries (torch, pandas, matplotlib) are imported inside the commands, so
``incprof --help`` is fast.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..errors import SpecError, quoted
from ..render.text import terminal
from ..spec.ceilings import DEFAULTS, Ceilings, using
from . import compare as cli_compare
from . import draw as cli_draw
from . import measure as cli_measure
from . import model as cli_model
from . import reports as cli_reports
from .options import (BUDGETS, INPUT, MODEL, OUTPUT, ArchOpt, BatchSizeOpt, ChannelsLastOpt,
                      ChannelsOpt, CompileOpt, DepthOpt, DeviceOpt, DeviceProfileOpt, DType, FlavorOpt,
                      Format, FormatOpt, InputOpt, InputSizeOpt, InputsOpt, LatencyOpt, MaxMemoryOpt,
                      ModelArgOpt, ModelOpt, OutputOpt, PredictOpt, RepeatsOpt, SeqLenOpt, SpecOpt,
                      SummaryOpt, TF32Opt, ThreadsOpt, VerifyOpt, WarmupOpt, WideOpt,
                      check_inputs, check_network, check_timing, check_wide, load_example,
                      load_model, output_path, parse_columns, parse_count, parse_input_size,
                      refuse, timing_options, user_code)
from .output import check_outputs, check_plot, draw, hinting, progress, write_result
from .shell import App, Group, fail, user_errors
from .training import (FreezeOpt, MeasureMemoryOpt, Mode, ModeOpt, Optimizer, OptimizerOpt, check_mode,
                       table_train, table_train_model)

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
    ctx: typer.Context,
    max_nodes: Annotated[int, typer.Option(min=1, help="Refuse YAML specs larger than this many "
                                           "nodes (this also bounds the rows).")] = DEFAULTS.max_nodes,
    max_bytes: Annotated[int, typer.Option(min=1, help="Refuse spec files larger than this many "
                                           "bytes, before reading them.")] = DEFAULTS.max_bytes,
    max_side: Annotated[int, typer.Option(min=1, help="Refuse inputs wider or taller than this "
                                          "many pixels.")] = DEFAULTS.max_side,
    max_count: Annotated[str, typer.Option(help="Refuse specs with more params, MACs or "
                                           "activations per image than this, e.g. 1e15.")
                         ] = "1e15",
    max_layers: Annotated[int, typer.Option(min=1, help="Refuse to cross-check (build and count "
                                            "with FlopCounterMode) more layers than this at once, "
                                            "or a --model with more leaf modules.")
                          ] = DEFAULTS.max_layers,
    max_ops: Annotated[int, typer.Option(min=1, help="Refuse a --model that runs more aten ops "
                                         "than this in one forward pass, before capturing its "
                                         "graph.")] = DEFAULTS.max_ops,
    timeout: Annotated[float, typer.Option(min=0, help="Give up on a --model after this many "
                                           "CPU seconds of incprof's process (all its threads; a "
                                           "busy machine does not shorten it), or 4 times as "
                                           "many wall-clock seconds for code that waits: its "
                                           "import, factory, forward passes and graph capture "
                                           "together (0: no limit).")
                       ] = DEFAULTS.timeout_s,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print incprof's version and exit.")] = False,
) -> None:
    """Ceilings that keep profiling a user spec bounded; raise them if a real network needs it."""
    try:
        count = int(float(max_count))
    except (ValueError, OverflowError):
        count = -1
    if not 1 <= count <= 2 * 10**15:  # counts times a batch of MAX_BATCH must fit in 64 bits
        fail(f"--max-count must be a number from 1 to 2e15, got {quoted(max_count)}")
    # in force for this command only: reset when its context closes, however it ends
    ctx.with_resource(using(Ceilings(max_nodes=max_nodes, max_bytes=max_bytes, max_side=max_side,
                                     max_count=count, max_layers=max_layers,
                                     max_ops=max_ops, timeout_s=timeout)))


def table(
    ctx: typer.Context,
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    aux: Annotated[bool, typer.Option("--aux/--no-aux", rich_help_panel=INPUT, help="Include the "
                                      "auxiliary classifiers (training-only heads), listed and "
                                      "totalled apart.")] = True,
    input_size: InputSizeOpt = None,
    batch_size: BatchSizeOpt = 1,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: Annotated[Optional[Path], typer.Option(parser=output_path, metavar="<path>", rich_help_panel=OUTPUT,
                                                 help="Also write "
                                                 "stacked bars of MACs per row by conv kind to "
                                                 "this file (.png or .svg).")] = None,
    columns: Annotated[str, typer.Option(rich_help_panel=OUTPUT, help="Extra column groups, "
                                         "comma-separated: rf (receptive field, jump), memory "
                                         "(activations, peak live bytes), bottleneck (size drop), "
                                         "or all. Default: none.")] = "",
    dtype: Annotated[DType, typer.Option(rich_help_panel=OUTPUT, help="Bytes per value for "
                                         "activation memory: fp32, fp16 or bf16 (with --latency, "
                                         "also the timing dtype).")] = DType.fp32,
    bottleneck_factor: Annotated[float, typer.Option(min=1.0, rich_help_panel=OUTPUT,
                                                     help="Flag a row whose output (HxWxC) is "
                                                     "more than this many times smaller than "
                                                     "the previous row's.")] = 4.0,
    wide: WideOpt = False,
    verify: VerifyOpt = True,
    latency: LatencyOpt = False,
    predict: PredictOpt = False,
    device_profile: DeviceProfileOpt = None,
    device: DeviceOpt = "auto",
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    tf32: TF32Opt = None,
    max_memory: MaxMemoryOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    depth: DepthOpt = 1,
    mode: ModeOpt = Mode.inference,
    optimizer: OptimizerOpt = Optimizer.sgd,
    freeze: FreezeOpt = None,
    measure_memory: MeasureMemoryOpt = False,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
    tree: Annotated[bool, typer.Option("--tree", rich_help_panel=MODEL, help="With --model: the "
                                       "module hierarchy, indented, with params, MACs and other "
                                       "ops per module and subtotals at each depth; shared, "
                                       "repeated and never-called modules marked. Down to "
                                       "--depth if given, else every depth.")] = False,
    summary: SummaryOpt = False,
) -> None:
    """Reproduce a layer table row by row: the paper's figures beside exact computed ones.

    With --model, any nn.Module instead: one row per module, counted from its captured graph and
    again with FlopCounterMode. Loading a model from a .py file or module runs that code.

    Example: incprof table --arch googlenet --format csv -o googlenet.csv
    """
    check_network(ctx, model)
    check_timing(ctx, latency)
    if not (latency or predict):
        refuse(ctx, ("device_profile",), "applies only with --latency or --predict")
    check_wide(ctx, fmt)
    check_mode(ctx, mode, ("plot", "columns", "dtype", "bottleneck_factor", "latency"))
    check_inputs(ctx, input_, inputs)
    size = parse_input_size(input_size)
    if mode is Mode.train:
        if model is not None:
            table_train_model(ctx, model, model_arg,
                              (input_, inputs, size, channels, batch_size, seq_len), depth, fmt,
                              output, wide)
        else:
            table_train(spec or arch, flavor, aux, size, batch_size, optimizer, freeze,
                        measure_memory, verify, fmt, output, wide)
        return
    groups = parse_columns(columns)
    timing = timing_options(latency, device, dtype, channels_last, compile_model, warmup, repeats,
                            threads, tf32)
    check_plot(plot)
    check_outputs(output, plot)
    if model is not None:  # every view from the model's captured rows
        refuse(ctx, ("verify", "bottleneck_factor", "max_memory"), "applies to specs; a --model "
               "is counted from its captured graph")
        if not (latency or predict or columns):
            refuse(ctx, ("dtype",), "applies to --model only with --columns memory, --latency "
                   "or --predict")
        if tree and (latency or predict or plot or columns):
            fail("--tree does not combine with --latency, --predict, --plot or --columns")
        given = ctx.get_parameter_source("depth").name == "COMMANDLINE"
        cli_model.table_model(model, model_arg, (input_, inputs, size, channels, batch_size, seq_len),
                     depth, fmt, output, wide, (depth if given else 0) if tree else None,
                     {"columns": groups, "dtype": dtype.value, "latency": timing, "plot": plot,
                      "predict": predict, "device_profile": device_profile},
                     summary)
        return
    if tree:
        fail("--tree applies only to --model")
    from ..analysis.profile import profile_records  # a spec's: not imported for a --model
    from ..render import profile as render_profile

    with user_errors(), progress("counting from the spec") as step:
        df = profile_records(
            spec or arch, flavor=flavor, aux=aux, input_size=size,
            batch_size=batch_size, verify=verify,
            max_memory=parse_count(max_memory, "--max-memory") if max_memory else None,
            dtype=dtype.value, bottleneck_factor=bottleneck_factor, latency=timing,
            progress=hinting(step, threads), device_profile=device_profile, predict=predict)
        if plot is not None:
            from ..render.plot import macs_by_kind_bars

            draw(macs_by_kind_bars, plot, df)
    write_result(fmt, output, lambda exact, compact: [render_profile.profile_grid(
        df, exact=exact, columns=groups, compact=compact)],
        json=lambda: render_profile.to_json(df), csv=lambda: render_profile.to_csv(df), wide=wide,
        brief=summary)
    if df.attrs["totals"]["check_agrees"] is False:
        fail("FlopCounterMode's counts disagree with the analytic counts (see the FlopCounter "
             "column)", code=1)


def check(
    ctx: typer.Context,
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    input_size: InputSizeOpt = None,
    max_params: Annotated[Optional[str], typer.Option(rich_help_panel=BUDGETS, help="Budget for "
                                                      "params (inference, no aux heads), a count "
                                                      "like 7000000, 7M or 6,998,552.")] = None,
    max_macs: Annotated[Optional[str], typer.Option(rich_help_panel=BUDGETS, help="Budget for "
                                                    "MACs per image at inference, a count like "
                                                    "1.6G.")] = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
) -> None:
    """Exit 1 with a one-line reason when a spec exceeds a budget, 0 with the figures otherwise.

    Example: incprof check --spec my.yaml --max-params 7M --max-macs 1.6G
    """
    from ..analysis.profile import check_budgets, profile_records
    from ..capture.rows import profile_model_records

    check_network(ctx, model)
    check_inputs(ctx, input_, inputs)
    if max_params is None and max_macs is None:
        fail("give at least one budget: --max-params and/or --max-macs")
    params_limit = parse_count(max_params, "--max-params") if max_params else None
    macs_limit = parse_count(max_macs, "--max-macs") if max_macs else None
    with user_errors(), user_code(model) if model else nullcontext():
        size = parse_input_size(input_size)
        if model:
            module = load_model(model, model_arg)
            df = profile_model_records(module, label=model, example=load_example(
                module, input_, inputs, size, seq_len=seq_len))
        else:
            df = profile_records(spec or arch, flavor=flavor, aux=False, input_size=size)
    name = terminal(model or (str(spec) if spec else arch))
    budgets = check_budgets(df.attrs["totals"], params_limit, macs_limit)
    for b in budgets:
        if b["excess"] > 0:
            fail(f"{name}: {b['what']} {b['figure']:,} exceed the budget of {b['limit']:,} "
                 f"(by {b['excess']:,})", code=1)
    typer.echo(f"ok: {name}: " + ", ".join(
        f"{b['what']} {b['figure']:,} <= {b['limit']:,}" for b in budgets if b["limit"]))


def list_archs() -> None:
    """List the built-in architectures, and the variants that 'incprof compare' makes of one."""
    import shutil
    import textwrap

    from ..spec.registry import available, resolve
    from ..spec.shapes import format_shape
    from ..spec.variants import VARIANTS

    width = max(shutil.get_terminal_size().columns, 40)

    def entry(name: str, text: str) -> None:  # wrapped at word breaks, under its own column
        typer.echo("\n".join(textwrap.wrap(f"{name:<20} {text}", width - 1,
                                           initial_indent="  ", subsequent_indent=" " * 23,
                                           break_long_words=False, break_on_hyphens=False)))

    typer.echo("Architectures (--arch NAME):")
    for name in available():
        try:
            spec = resolve(name)
        except SpecError as exc:
            entry(name, f"(broken: {exc})")
            continue
        entry(name, f"{len(spec.rows)} rows, input {format_shape(spec.input)}: {spec.title}")
    typer.echo("Variants (incprof compare A B, each a rewrite of --arch):")
    for name, rewrite in VARIANTS.items():
        summary = " ".join((rewrite.__doc__ or "").strip().split("\n\n")[0].split())
        entry(name, summary.replace("``", ""))


# Registered in this order, which --help keeps.
for _name, _command in (("table", table), ("export", cli_model.export_model),
                        ("compare", cli_compare.compare), ("factorize", cli_compare.factorize),
                        ("report", cli_reports.report), ("check", check), ("diff", cli_compare.diff),
                        ("sweep", cli_compare.sweep_sizes), ("bench", cli_measure.bench),
                        ("calibrate", cli_measure.calibrate_cmd),
                        ("list", list_archs), ("referee", cli_measure.referee_cmd),
                        ("draw", cli_draw.draw)):
    app.command(_name)(_command)
