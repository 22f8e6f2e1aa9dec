"""The commands that run the built network: throughput per batch size (bench), the device
profile measured (calibrate), and every peer counter refereed against incprof's prediction of it
(referee)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..count.analytic import MAX_BATCH
from .options import (INPUT, MODEL, ArchOpt, ChannelsLastOpt, ChannelsOpt, CompileOpt, DeviceOpt, DType,
                      FlavorOpt, Format, FormatOpt, InputOpt, InputsOpt, InputSizeOpt, ModelArgOpt, ModelOpt,
                      OutputOpt, RepeatsOpt, SeqLenOpt, SpecOpt, SummaryOpt, ThreadsOpt, TimingDTypeOpt,
                      WarmupOpt, check_inputs, check_network, load_example, load_model, parse_input_size,
                      parse_int_list, refuse, user_code)
from .output import check_outputs, emit, hinting, load_hint, progress, show, write_result
from .shell import user_errors
from .training import FreezeOpt, Mode, ModeOpt, check_mode, referee_train


def bench(
    ctx: typer.Context,
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    batch_sizes: Annotated[str, typer.Option(rich_help_panel=INPUT, help="Images per batch to "
                                             "time, comma-separated, each from 1 to "
                                             f"{MAX_BATCH}.")] = "1,8,32",
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    device: DeviceOpt = "auto",
    dtype: TimingDTypeOpt = DType.fp32,
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    input_size: Annotated[Optional[str], typer.Option(rich_help_panel=MODEL, help="With --model: "
                                                      "the image's HxW or S. Default: the "
                                                      "model's (timm), else 224.")] = None,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
) -> None:
    """Whole-network throughput (images/s) per batch size, with its environment.

    With --model, the model itself is timed on its example inputs (any model), each batch size
    its own example; with --input or --inputs, that one example.

    Example: incprof bench --arch googlenet --batch-sizes 1,8,32,64 --device cuda --dtype bf16
    """
    from ..nn.bench import bench_records
    from ..nn.latency import TimingOptions
    from ..render.grid import frame_csv, json_text, rows_payload
    from ..spec.registry import load
    from ..render.measure import bench_grid

    check_network(ctx, model)
    if model is None:
        refuse(ctx, ("input_size",), "applies only with --model")
    if input_ or inputs:
        refuse(ctx, ("batch_sizes", "input_size", "channels", "seq_len"), "does not apply with "
               "--input/--inputs, which give the one example timed")
    sizes = parse_int_list(batch_sizes, "--batch-sizes", MAX_BATCH)
    options = TimingOptions(device=device, dtype=dtype.value, channels_last=channels_last,
                            compile=compile_model, warmup=warmup, repeats=repeats, threads=threads)
    check_outputs(output)
    with user_errors(), progress("benchmarking", len(sizes)) as step:
        if model is not None:
            from ..analysis.model_views import bench_model_records
            from ..capture.models import timed_weights
            from ..capture.rows import profile_model_records

            with user_code(model):
                module = load_model(model, model_arg, timed=True)
                size = parse_input_size(input_size)
                examples = [load_example(module, input_, inputs, size, channels, n, seq_len)
                            for n in ([None] if input_ or inputs else sizes)]
                examples = [(e.batch_size(), e) for e in examples]
                one = load_example(module, None, None, size, channels, 1, seq_len) if not (
                    input_ or inputs) else examples[0][1]
                macs = profile_model_records(module, label=model, example=one).attrs["totals"]["macs"]
                df = bench_model_records(module, examples, options, label=model,
                                         macs=macs // one.batch_size(), advance=hinting(step, threads),
                                         weights=timed_weights(model))
        else:
            df = bench_records(load(spec or arch, flavor), sizes, options, hinting(step, threads))
    write_result(fmt, output, lambda exact, compact: [bench_grid(df)],
                 json=lambda: json_text(rows_payload(df)), csv=lambda: frame_csv(df))


def calibrate_cmd(
    device: Annotated[str, typer.Option(help="Where to measure: cpu, cuda or cuda:N (auto: CUDA "
                                        "when present).")] = "auto",
    dtype: TimingDTypeOpt = DType.fp32,
    threads: ThreadsOpt = None,
    budget: Annotated[float, typer.Option(min=0.5, max=600, help="Seconds to spend, about.")] = 30.0,
    output: OutputOpt = None,
) -> None:
    """Measure this device's profile for the latency model: conv and GEMM throughput, pooling,
    copy bandwidth and the overhead of an empty op (about 30 s).

    Writes the profile (JSON) into the cache folder, named by device, thread count, dtype and torch
    version, where 'table --latency' finds it; --output writes it there instead.
    Example: incprof calibrate --device cpu --threads 1
    """
    import json

    from ..nn.calibrate import calibrate, write_profile

    check_outputs(output)
    with user_errors():
        from ..nn.latency import resolve_device

        resolve_device(device)  # a mistake in one line, before the note below
    load_hint(threads, "on the CPU it measures CPU time, which the load stretches less")
    with user_errors(), progress("calibrating") as step:
        profile = calibrate(device, dtype.value, threads, budget, step)
        if output is not None:
            emit(json.dumps(profile, indent=1) + "\n", output)
            return
        path = write_profile(profile)
    rates = profile["rates"][dtype.value]

    def best(op: str) -> float:
        return max(point[-1] for point in rates[op]) / 1e9

    typer.echo(f"{profile['name']}: conv 1x1 up to {best('conv 1x1'):.1f} GMAC/s, conv nxn up to "
               f"{best('conv nxn'):.1f} GMAC/s, copy up to "
               f"{max(r for _, r in profile['bandwidth']) / 1e9:.1f} GB/s, "
               f"{profile['overhead_s'] * 1e6:.1f} us per empty op"
               + (f", speed probe {profile['probe_s'] * 1e3:.1f} ms" if profile["probe_s"] else "")
               + "; load "
               f"{profile['load_avg'][0]} -> {profile['load_avg'][1]}")
    typer.echo(f"wrote {path}")


# The referee's CSV: one row per tool.
REFEREE_CSV = ("tool", "installed", "version", "unit", "reported", "predicted", "residual",
               "params_reported", "params_predicted", "params_residual", "failed")


def referee_cmd(
    ctx: typer.Context,
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    aux: Annotated[bool, typer.Option("--aux/--no-aux", rich_help_panel=INPUT, help="Build the "
                                      "aux heads (they do not run in eval mode; only parameter "
                                      "totals see them).")] = True,
    input_size: InputSizeOpt = None,
    batch_size: Annotated[int, typer.Option(min=1, max=MAX_BATCH, rich_help_panel=INPUT,
                                            help="Images in the zero input the peers run on.")
                          ] = 1,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
    mode: ModeOpt = Mode.inference,
    freeze: FreezeOpt = None,
    summary: SummaryOpt = False,
) -> None:
    """Every peer counter's total beside incprof's prediction of it, and published figures refereed.

    Runs each installed peer (fvcore, FlopCounterMode, ptflops' two backends, thop, torchinfo,
    torchscan) on the built network, or on any nn.Module with --model (on the same inputs as
    table --model: --input, --inputs, or its default), and predicts its total from incprof's own
    per-op counts under that tool's conventions; then, for a spec, checks its published figures
    against every convention. Peers: pip install 'incprof\\[peers]'.

    Exit code 1 when a residual is not zero; 3 when a peer failed (raised) on the network,
    which its row shows as "failed: FIRST LINE" while the other peers still run.
    Example: incprof referee --arch inception_v3 --input-size 299
    Example: incprof referee --model torchvision:resnet50
    """
    from ..referee.referee import referee
    from ..referee.published import referee_figures
    from ..render import measure as render_measure
    from ..spec.registry import resolve

    check_network(ctx, model)
    check_inputs(ctx, input_, inputs)
    check_outputs(output)
    check_mode(ctx, mode)
    if mode is Mode.train:
        refuse(ctx, ("input_", "inputs", "seq_len"), "applies to --mode inference: a training "
               "step is refereed on the image input")
        referee_train(ctx, spec or arch, flavor, aux, parse_input_size(input_size), batch_size,
                      freeze, fmt, output)
        return
    with user_errors():
        size = parse_input_size(input_size)
        if model is not None:
            with user_code(model):
                module = load_model(model, model_arg)
                example = load_example(module, input_, inputs, size, channels, batch_size,
                                       seq_len)
                result = referee(model=module, label=model, example=example)
            figures = []
        else:
            network = resolve(spec or arch)
            result = referee(network, flavor=flavor, aux=aux, input_size=size,
                             batch_size=batch_size)
            figures = referee_figures(network)
    if fmt is Format.json:
        from ..render.grid import json_text

        emit(json_text({**result, "published": figures}), output)
    elif fmt is Format.csv:
        from ..render.grid import rows_csv

        emit(rows_csv(list(REFEREE_CSV), result["tools"]), output)
    else:
        grids = [render_measure.referee_grid(result)]
        if figures:
            grids.append(render_measure.figures_grid(figures, f"{result['meta']['title']}: "
                                                              "published figures refereed"))
        show(grids, fmt, output, brief=summary)
    if any(t["residual"] or t["params_residual"] for t in result["tools"]):
        raise typer.Exit(1)
    if any(t["failed"] for t in result["tools"]):
        raise typer.Exit(3)
