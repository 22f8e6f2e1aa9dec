"""The command line: the typer app, its ceilings, and the commands on one network (table, export,
report, check, list); cli_compare and cli_measure hold the others, registered here in --help order.

Commands are thin: they parse options (options.py), call one library function and hand the result
to output.py. Heavy libraries (torch, pandas, matplotlib) are imported inside the commands, so
``incprof --help`` is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__
from ..count.analytic import MAX_BATCH
from ..errors import SpecError
from ..spec.ceilings import DEFAULTS, Ceilings, using
from . import compare as cli_compare
from . import measure as cli_measure
from .options import (BUDGETS, INPUT, LATENCY, MODEL, OUTPUT, ArchOpt, BatchSizeOpt, ChannelsLastOpt,
                      ChannelsOpt, CompileOpt, DepthOpt, DeviceOpt, DeviceProfileOpt, DType, FlavorOpt,
                      Format, FormatOpt, PredictOpt, TF32Opt,
                      InputSizeOpt, LatencyOpt, MaxMemoryOpt, ModelArgOpt, ModelOpt, OutputOpt, RepeatsOpt,
                      SpecOpt, ThreadsOpt, TimingDTypeOpt, VerifyOpt, WarmupOpt, WideOpt, check_network,
                      check_timing, check_wide, load_model, model_spec, parse_columns, parse_count,
                      parse_input_size, refuse, timing_options)
from .output import check_outputs, check_plot, draw, emit, hinting, progress, write_result
from .shell import App, Group, fail, unwritten, user_errors

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
                                            "with FlopCounterMode) more layers than this at once.")
                          ] = DEFAULTS.max_layers,
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                          help="Print incprof's version and exit.")] = False,
) -> None:
    """Ceilings that keep profiling a user spec bounded; raise them if a real network needs it."""
    try:
        count = int(float(max_count))
    except (ValueError, OverflowError):
        count = -1
    if not 1 <= count <= 2 * 10**15:  # counts times a batch of MAX_BATCH must fit in 64 bits
        fail(f"--max-count must be a number from 1 to 2e15, got {max_count!r}")
    # in force for this command only: reset when its context closes, however it ends
    ctx.with_resource(using(Ceilings(max_nodes=max_nodes, max_bytes=max_bytes, max_side=max_side,
                                     max_count=count, max_layers=max_layers)))


def _table_model(ref: str, model_arg, input_size: tuple[int, int] | None, channels: int, depth: int,
                 batch_size: int, fmt: Format, output: Path | None, wide: bool) -> None:
    """`incprof table --model`: the model's rows, in the format asked; exit 1 when FlopCounterMode
    disagrees with the graph count."""
    from ..capture.rows import profile_model_records
    from ..render import model as render_model

    with user_errors():
        df = profile_model_records(load_model(ref, model_arg), input_size, channels=channels,
                                   depth=depth, batch_size=batch_size, label=ref)
    write_result(fmt, output, lambda exact, compact: [render_model.model_grid(df, exact=exact)],
                 json=lambda: render_model.to_json(df), csv=lambda: render_model.to_csv(df), wide=wide)
    if not df.attrs["totals"]["flop_counter_agrees"]:
        fail("FlopCounterMode's counts disagree with the graph count (see the FlopCounter column)",
             code=1)


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
    plot: Annotated[Optional[Path], typer.Option(rich_help_panel=OUTPUT, help="Also write "
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
) -> None:
    """Reproduce a layer table row by row: the paper's figures beside exact computed ones.

    With --model, any nn.Module instead: one row per module, counted from its captured graph and
    again with FlopCounterMode. Loading a model from a .py file or module runs that code.

    Example: incprof table --arch googlenet --format csv -o googlenet.csv
    """
    from ..analysis.profile import profile_records
    from ..render import profile as render_profile

    check_network(ctx, model)
    check_timing(ctx, latency)
    if not (latency or predict):
        refuse(ctx, ("device_profile",), "applies only with --latency or --predict")
    check_wide(ctx, fmt)
    size = parse_input_size(input_size)
    if model is not None and not (latency or predict or plot or columns):
        refuse(ctx, ("verify", "dtype", "bottleneck_factor"), "applies to --model only through its "
               "exported spec, with --latency, --plot or --columns")
        _table_model(model, model_arg, size, channels, depth, batch_size, fmt, output, wide)
        return
    if model is not None:  # --latency, --predict, --plot, --columns: through the exported spec
        with user_errors():
            spec = model_spec(model, model_arg, size, channels, depth)

    groups = parse_columns(columns)
    timing = timing_options(latency, device, dtype, channels_last, compile_model, warmup, repeats,
                            threads, tf32)
    check_plot(plot)
    check_outputs(output, plot)
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
        json=lambda: render_profile.to_json(df), csv=lambda: render_profile.to_csv(df), wide=wide)
    if df.attrs["totals"]["check_agrees"] is False:
        fail("FlopCounterMode's counts disagree with the analytic counts (see the FlopCounter "
             "column)", code=1)


def export_model(
    model: Annotated[str, typer.Option("--model", "-m", rich_help_panel=MODEL, help="The "
                                       "nn.Module: torchvision:NAME, timm:NAME, "
                                       "path/to/file.py:factory or package.module:factory. "
                                       "Importing a file or module runs its code.")],
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    depth: Annotated[int, typer.Option(min=1, rich_help_panel=MODEL, help="Rows follow the "
                                       "modules at this depth (1: the top-level children).")] = 1,
    input_size: Annotated[Optional[str], typer.Option(rich_help_panel=INPUT, help="Height x "
                                                      "width of the example input in pixels: HxW "
                                                      "or S. Default: the model's (timm), else "
                                                      "224.")] = None,
    output: OutputOpt = None,
) -> None:
    """Write a model as a spec (the tables/*.yaml schema), rows named after its modules.

    Where the model has a layer the schema cannot express, the error names the first such node.
    Example: incprof export --model torchvision:googlenet -o googlenet.yaml
    """
    from ..capture.export import export_spec, to_yaml

    size = parse_input_size(input_size)
    with user_errors():
        data = export_spec(load_model(model, model_arg), size, channels=channels, depth=depth,
                           label=model)
    emit(to_yaml(data), output)


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", rich_help_panel=OUTPUT, help="Folder for the "
                                      "markdown reports and their figures; created if need be.")
                   ] = Path("reports"),
    referee: Annotated[bool, typer.Option("--referee", rich_help_panel=OUTPUT, help="Also write "
                                          "referee.md: every peer counter run on every built-in "
                                          "network (needs incprof\\[peers]; most of the time of "
                                          "all the reports).")] = False,
    latency: Annotated[bool, typer.Option("--latency", rich_help_panel=LATENCY, help="Write a "
                                          "machine-dependent latency report under OUT/latency/ "
                                          "instead, named after its environment.")] = False,
    arch: Annotated[str, typer.Option("--arch", "-a", rich_help_panel=LATENCY, help="With "
                                      "--latency: the network to time (a built-in name or a "
                                      "spec file), in the "
                                      "paper flavour without aux heads (the report is named "
                                      "after it, so it takes no --flavor).")] = "googlenet",
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, rich_help_panel=LATENCY,
                                            help="With --latency: images per batch.")] = 1,
    device: DeviceOpt = "auto",
    dtype: TimingDTypeOpt = DType.fp32,
    threads: ThreadsOpt = None,
    tf32: TF32Opt = None,
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    device_profile: DeviceProfileOpt = None,
) -> None:
    """Write the counting reports and their SVG figures.

    googlenet.md, naive-vs-reduced.md, factorizations.md, inception_v3.md, family.md and
    ceilings.md (datasheet ceilings per network and device) into
    --out, and with --referee referee.md. They are byte-for-byte reproducible; CI regenerates them
    all (incprof report --referee) and fails if they drift.
    Example: incprof report --referee --out reports
    """
    from ..report.latency import latency_report
    from ..report.reports import REFEREE_REPORTS, REPORTS, write_reports

    if latency:
        refuse(ctx, ("referee",), "does not apply with --latency, which writes the latency report "
               "alone")
    else:
        refuse(ctx, ("arch", "batch_size", "device", "dtype", "threads", "tf32", "channels_last",
                     "compile_model", "device_profile"), "applies only with --latency")
    check_outputs(folder=out)
    if latency:
        from ..nn.latency import TimingOptions

        unwritten().append(str(out / "latency"))
        with user_errors(), progress("timing") as step:
            path = latency_report(arch, out, batch_size, TimingOptions(
                device=device, dtype=dtype.value, threads=threads, tf32=tf32,
                channels_last=channels_last, compile=compile_model), device_profile,
                hinting(step, threads))
        typer.echo(f"wrote {path}")
        return
    names = [*REPORTS, *(REFEREE_REPORTS if referee else [])]
    pending = unwritten()
    pending[:] = [str(out / name) for name in names]

    def written(name: str) -> None:
        pending.remove(str(out / name))
        if pending:
            step(f"writing {Path(pending[0]).name}")

    with user_errors(), progress("writing reports", len(names)) as step:
        step(f"writing {Path(pending[0]).name}")
        paths = write_reports(out, written, referee)
    for path in paths:
        typer.echo(f"wrote {path}")


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
) -> None:
    """Exit 1 with a one-line reason when a spec exceeds a budget, 0 with the figures otherwise.

    Example: incprof check --spec my.yaml --max-params 7M --max-macs 1.6G
    """
    from ..analysis.profile import check_budgets, profile_records
    from ..capture.rows import profile_model_records

    check_network(ctx, model)
    if max_params is None and max_macs is None:
        fail("give at least one budget: --max-params and/or --max-macs")
    params_limit = parse_count(max_params, "--max-params") if max_params else None
    macs_limit = parse_count(max_macs, "--max-macs") if max_macs else None
    with user_errors():
        size = parse_input_size(input_size)
        df = (profile_model_records(load_model(model, model_arg), size) if model else
              profile_records(spec or arch, flavor=flavor, aux=False, input_size=size))
    name = model or (str(spec) if spec else arch)
    budgets = check_budgets(df.attrs["totals"], params_limit, macs_limit)
    for b in budgets:
        if b["excess"] > 0:
            fail(f"{name}: {b['what']} {b['figure']:,} exceed the budget of {b['limit']:,} "
                 f"(by {b['excess']:,})", code=1)
    typer.echo(f"ok: {name}: " + ", ".join(
        f"{b['what']} {b['figure']:,} <= {b['limit']:,}" for b in budgets if b["limit"]))


def list_archs() -> None:
    """List the built-in architectures, and the variants that 'incprof compare' makes of one."""
    from ..spec.registry import available, resolve
    from ..spec.shapes import format_shape
    from ..spec.variants import VARIANTS

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


# Registered in this order, which --help keeps.
for _name, _command in (("table", table), ("export", export_model),
                        ("compare", cli_compare.compare), ("factorize", cli_compare.factorize),
                        ("report", report), ("check", check), ("diff", cli_compare.diff),
                        ("sweep", cli_compare.sweep_sizes), ("bench", cli_measure.bench),
                        ("calibrate", cli_measure.calibrate_cmd),
                        ("list", list_archs), ("referee", cli_measure.referee_cmd)):
    app.command(_name)(_command)
