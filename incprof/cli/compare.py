"""The commands that set two networks (or forms of one) side by side: compare, diff, factorize,
sweep. Each parses its options, calls the library (compare, lab, sweep) and writes the result."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import UsageError
from ..spec.variants import VARIANTS
from .options import (CHECK, INPUT, LATENCY, MODEL, MODEL_ONLY, OUTPUT, ArchOpt, BatchSizeOpt, ChannelsOpt,
                      ChannelsLastOpt, DepthOpt, DeviceOpt, DType, FlavorOpt, Format, FormatOpt, InputOpt,
                      InputsOpt, Level, MaxMemoryOpt, ModelArgOpt, ModelOpt, OutputOpt, RepeatsOpt, SeqLenOpt,
                      SpecOpt, SummaryOpt, ThreadsOpt, TimingDTypeOpt, WarmupOpt, WideOpt, check_inputs,
                      check_network, check_timing, check_wide, load_example, load_model, model_spec,
                      output_path, parse_count, parse_int_list, parse_sizes, refuse, timing_options,
                      user_code)
from .output import check_outputs, check_plot, draw, write_result
from .shell import fail, user_errors
from .training import Mode, ModeOpt, Optimizer, OptimizerOpt, check_mode, compare_train


def _side_given(ctx: typer.Context, param: typer.CallbackParam, value):
    """Note that --spec or --model was given: click handles options in the order of the command
    line, so that they fill the sides left free by A and B in the order they were given."""
    if value:
        ctx.meta.setdefault("incprof.compare.sides", []).append(param.name)
    return value


def compare(
    ctx: typer.Context,
    a: Annotated[Optional[str], typer.Argument(help="A, the original: a variant of --arch ("
                                               + ", ".join(VARIANTS) + "; see 'incprof list'), a "
                                               "built-in architecture, or a YAML file.")] = None,
    b: Annotated[Optional[str], typer.Argument(help="B, the variant; same choices as A. saved = "
                                               "1 - B/A (negative: B costs more).")] = None,
    spec: Annotated[Optional[list[Path]], typer.Option("--spec", "-s", callback=_side_given,
                                                       rich_help_panel=INPUT,
                                                       help="A spec file for the next free side "
                                                       "(A, then B); repeatable.")] = None,
    arch: Annotated[str, typer.Option("--arch", "-a", rich_help_panel=INPUT, help="The built-in "
                                      "architecture (or spec file) that variant names rewrite.")
                    ] = "googlenet",
    flavor: Annotated[str, typer.Option(rich_help_panel=INPUT, help="The flavour of --arch that "
                                        "variant names rewrite: paper, or one the spec defines "
                                        "(googlenet's torchvision).")] = "paper",
    level: Annotated[Level, typer.Option(rich_help_panel=INPUT, help="module: each changed row "
                                         "on B's input for that row; network: both whole "
                                         "networks, rows joined by name; both.")] = Level.both,
    batch_size: BatchSizeOpt = 1,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: Annotated[Optional[Path], typer.Option(parser=output_path, metavar="<path>", rich_help_panel=OUTPUT,
                                                 help="Also write a "
                                                 "grouped bar chart of MACs per module to this "
                                                 "file (.png or .svg).")] = None,
    wide: WideOpt = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", rich_help_panel=CHECK,
                                         help="Re-count every module and network with "
                                         "FlopCounterMode's formulas on the built PyTorch modules "
                                         "(an empty batch); --no-verify counts from the specs "
                                         "alone, without torch.")] = True,
    latency: Annotated[bool, typer.Option("--latency", rich_help_panel=LATENCY, help="Also time "
                                          "both forms of every row, and both networks "
                                          "(machine-dependent).")] = False,
    device: DeviceOpt = "auto",
    dtype: TimingDTypeOpt = DType.fp32,
    channels_last: ChannelsLastOpt = False,
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    max_memory: MaxMemoryOpt = None,
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", callback=_side_given, rich_help_panel=MODEL, help="An nn.Module (as for "
        "'table --model'), "
        "the next free side, counted from its captured rows (any model), rows joined by name at "
        "--depth; --level module and variant names (which rewrite the model) go through its "
        "exported spec. Repeatable. Importing a file or module runs its code.")] = None,
    model_arg: ModelArgOpt = None,
    mode: ModeOpt = Mode.inference,
    optimizer: OptimizerOpt = Optimizer.sgd,
    summary: SummaryOpt = False,
    depth: DepthOpt = 1,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
) -> None:
    """Compare two variants or specs: params, MACs and output sizes, row by row.

    Example: incprof compare naive reduced --plot naive-vs-reduced.png
    Example: incprof compare --model torchvision:resnet18 --model torchvision:resnet34 --depth 2
    """
    from ..analysis.compare import compare_modules_records, compare_networks_records, resolve_side
    from ..render import compare as render_compare
    from ..render.grid import json_text
    from ..spec.registry import load
    from ..spec.registry import is_path

    sides = [x for x in (a, b) if x] + list(spec or [])
    models = list(model or [])
    from ..spec.variants import VARIANTS

    variants = [side for side in sides if side in VARIANTS]
    if not models:
        refuse(ctx, MODEL_ONLY, "applies only with --model")
    if not variants:
        refuse(ctx, ("arch", "flavor"), "applies only when A or B is a variant name (see 'incprof "
               "list')")
    elif models:
        refuse(ctx, ("arch", "flavor"), "does not apply with --model: the variant names rewrite "
               "the model")
    check_timing(ctx, latency, also=("dtype",))
    check_wide(ctx, fmt)
    check_mode(ctx, mode, ("level", "plot", "latency"))
    if models and not variants and level is not Level.module and mode is Mode.inference:
        refuse(ctx, ("latency", "plot"), "applies to specs: --model sides are "
               "compared from their captured rows, whole networks (--level module goes through "
               "their exported specs)")
        check_inputs(ctx, input_, inputs)
        given = ctx.meta.get("incprof.compare.sides", [])
        _compare_rows(sides, models, model_arg, depth, (input_, inputs, None, 3, batch_size,
                                                        seq_len), fmt, output, wide,
                      models_first=not (a or b) and given[:1] == ["model"])
        return
    if models:
        refuse(ctx, ("depth", "input_", "inputs", "seq_len"), "applies to --model sides compared "
               "from their rows (not with variant names or --level module)")
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
    timing = timing_options(latency, device, dtype, channels_last, False, warmup, repeats, threads)
    check_plot(plot)
    check_outputs(output, plot)
    with user_errors():
        if variants and isinstance(arch, str):  # not a --model's spec
            arch = load(arch, flavor)
        specs = [arch if side == "__model__" else resolve_side(side, arch) for side in sides] + [
            model_spec(ref, model_arg) for ref in models]
        labels = tuple(model[0] if side == "__model__" else Path(side).stem if is_path(side) else
                       side for side in sides) + tuple(models)
    if mode is Mode.train:
        compare_train(specs, labels, batch_size, optimizer, verify, fmt, output, wide)
        return
    with user_errors():
        frames = []
        if level in (Level.module, Level.both):
            frames.append(compare_modules_records(*specs, batch_size=batch_size, verify=verify,
                                                  labels=labels, max_memory=limit,
                                                  latency=timing))
        if level in (Level.network, Level.both):
            frames.append(compare_networks_records(*specs, batch_size=batch_size, verify=verify,
                                                   labels=labels, max_memory=limit,
                                                   latency=timing))
        if plot is not None:
            from ..render.plot import module_macs_bars

            draw(module_macs_bars, plot, frames[0])
    write_result(fmt, output, lambda exact, compact: [
        render_compare.comparison_grid(f, exact=exact, compact=compact) for f in frames],
        json=lambda: json_text(render_compare.comparison_payload(frames)),
        csv=lambda: render_compare.comparison_csv(frames), wide=wide, brief=summary)
    if any(f.attrs["totals"].get("check_agrees") is False for f in frames):
        fail("FlopCounterMode's counts disagree with the analytic counts (see the FlopCounter "
             "column)", code=1)


def _compare_rows(sides, models, model_arg, depth: int, example, fmt: Format, output: Path | None,
                  wide: bool, models_first: bool = False) -> None:
    """compare with --model sides: each model's rows at ``depth`` on ``example`` (load_example's
    arguments; a spec side's rows at the batch size), joined by name, whole networks; A the side
    given first (``models_first``: a --model before any spec)."""
    from ..analysis.model_views import compare_profiles_records
    from ..analysis.profile import profile_records
    from ..capture.rows import profile_model_records
    from ..render import compare as render_compare
    from ..render.grid import json_text
    from ..spec.registry import is_path

    if len(sides) + len(models) != 2:
        fail(f"compare needs exactly two sides (A and B), got {len(sides) + len(models)}; e.g. "
             "'incprof compare --model A --model B'")
    with user_errors():
        profiles = [profile_records(side, aux=False, batch_size=example[4], verify=False)
                    for side in sides]
        for ref in models:
            with user_code(ref):
                module = load_model(ref, model_arg)
                profiles.append(profile_model_records(module, depth=depth, label=ref,
                                                      example=load_example(module, *example)))
        labels = tuple(Path(s).stem if is_path(s) else s for s in sides) + tuple(models)
        if models_first:  # the models' profiles come last: turn the list round
            profiles = profiles[len(sides):] + profiles[:len(sides)]
            labels = labels[len(sides):] + labels[:len(sides)]
        frame = compare_profiles_records(*profiles, labels=labels)
    write_result(fmt, output, lambda exact, compact: [
        render_compare.comparison_grid(frame, exact=exact, compact=compact)],
        json=lambda: json_text(render_compare.comparison_payload([frame])),
        csv=lambda: render_compare.comparison_csv([frame]), wide=wide)


def factorize(
    ctx: typer.Context,
    width: Annotated[int, typer.Option(min=1, rich_help_panel=INPUT, help="Input and output "
                                       "channels of the conv being factorized (the paper's "
                                       "equal-width case).")] = 64,
    cin: Annotated[Optional[int], typer.Option(min=1, rich_help_panel=INPUT, help="Input "
                                               "channels, in place of --width.")] = None,
    cout: Annotated[Optional[int], typer.Option(min=1, rich_help_panel=INPUT, help="Output "
                                                "channels, in place of --width.")] = None,
    size: Annotated[int, typer.Option(min=1, rich_help_panel=INPUT, help="Grid size in pixels "
                                      "(height = width) of the conv's input.")] = 17,
    grid_size: Annotated[int, typer.Option(min=2, rich_help_panel=INPUT, help="d, the grid side "
                                           "before a grid reduction (even).")] = 34,
    grid_channels: Annotated[int, typer.Option(min=1, rich_help_panel=INPUT, help="k, the "
                                               "channels before a grid reduction.")] = 64,
    grid_kernel: Annotated[int, typer.Option(min=1, rich_help_panel=INPUT, help="Conv kernel in "
                                             "the grid reductions, odd (1 reproduces the paper's "
                                             "2d²k²).")] = 3,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    plot: Annotated[Optional[Path], typer.Option(parser=output_path, metavar="<path>", rich_help_panel=OUTPUT,
                                                 help="Also write a bar "
                                                 "chart of the savings to this file (.png or "
                                                 ".svg).")] = None,
    wide: WideOpt = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", rich_help_panel=CHECK,
                                         help="Re-count every conv with FlopCounterMode on the "
                                         "built modules (an empty batch); --no-verify counts "
                                         "without torch.")] = True,
) -> None:
    """The v3 paper's factorization arithmetic on one conv, and its grid-size reduction argument.

    Example: incprof factorize --width 192 --size 17 --grid-kernel 1
    """
    from ..analysis.lab import factorization_records, grid_records
    from ..render.compare import factorization_grids
    from ..render.grid import frame_csv, json_text, rows_payload

    if cin is not None and cout is not None:
        refuse(ctx, ("width",), "does not apply with both --cin and --cout")
    check_wide(ctx, fmt)
    if grid_kernel % 2 == 0:
        fail(f"--grid-kernel must be odd, got {grid_kernel}")
    check_plot(plot)
    check_outputs(output, plot)
    with user_errors():
        rules = factorization_records(width, size, cin, cout, verify=verify)
        grid = grid_records(grid_size, grid_channels, grid_kernel, verify=verify)
        if plot is not None:
            from ..render.plot import savings_bars

            draw(savings_bars, plot, rules, grid)
    write_result(fmt, output, lambda exact, compact: factorization_grids(
        rules, grid, exact=exact, compact=compact),
        json=lambda: json_text({"rules": rows_payload(rules),
                                "grid_reduction": rows_payload(grid)}),
        csv=lambda: frame_csv(rules) + "\n" + frame_csv(grid), wide=wide)


def diff(
    ctx: typer.Context,
    old: Annotated[Optional[str], typer.Argument(help="The old spec: a YAML file or a built-in "
                                                 "name, as written (diff takes no --flavor: "
                                                 "it compares specs).")] = None,
    new: Annotated[Optional[str], typer.Argument(help="The new spec, as OLD.")] = None,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    model: Annotated[Optional[list[str]], typer.Option(
        "--model", "-m", rich_help_panel=MODEL, help="An nn.Module, counted from its captured "
        "rows, for the next free side (OLD, then NEW); repeatable. Importing a file or module "
        "runs its code.")] = None,
    model_arg: ModelArgOpt = None,
    depth: DepthOpt = 1,
    input_: InputOpt = None,
    inputs: InputsOpt = None,
    seq_len: SeqLenOpt = None,
) -> None:
    """Print the rows whose params, MACs or output size changed, and the rows added or removed.

    Example: incprof diff tables/googlenet.yaml my_googlenet.yaml
    """
    from ..analysis.compare import diff_records
    from ..render import compare as render_compare
    from ..render.grid import json_text
    from ..spec.registry import resolve

    if not model:
        refuse(ctx, MODEL_ONLY, "applies only with --model")
    check_inputs(ctx, input_, inputs)
    check_outputs(output)
    names = [x for x in (old, new) if x] + list(model or [])
    if len(names) != 2:
        fail(f"diff needs exactly two sides (OLD and NEW), got {len(names)}")
    with user_errors():
        sides = [resolve(x) for x in (old, new) if x]
        if model:  # from the models' rows, a spec's rows beside them
            from ..analysis.model_views import diff_profiles_records
            from ..analysis.profile import profile_records
            from ..capture.rows import profile_model_records

            profiles = [profile_records(side, aux=False, verify=False) for side in sides]
            for ref in model:
                with user_code(ref):
                    module = load_model(ref, model_arg)
                    profiles.append(profile_model_records(
                        module, depth=depth, label=ref,
                        example=load_example(module, input_, inputs, seq_len=seq_len)))
            frame = diff_profiles_records(*profiles, labels=tuple(names))
        else:
            frame = diff_records(*sides, labels=tuple(names))
    write_result(fmt, output, lambda exact, compact: [
        render_compare.comparison_grid(frame, exact=exact, compact=compact)],
        json=lambda: json_text(render_compare.comparison_payload([frame])),
        csv=lambda: render_compare.comparison_csv([frame]))


def sweep_sizes(
    ctx: typer.Context,
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    sizes: Annotated[str, typer.Option(rich_help_panel=INPUT, help="Square input sides in "
                                       "pixels, comma-separated, e.g. 79,151,299.")
                     ] = "79,151,224,299",
    dtype: Annotated[DType, typer.Option(rich_help_panel=OUTPUT, help="Bytes per value for peak "
                                         "activation memory: fp32, fp16 or bf16 (with --latency, "
                                         "also the timing dtype).")] = DType.fp32,
    fmt: FormatOpt = Format.table,
    output: OutputOpt = None,
    latency: Annotated[bool, typer.Option("--latency", rich_help_panel=LATENCY, help="Also time "
                                          "the whole network at each valid size (batch 1; "
                                          "machine-dependent).")] = False,
    device: DeviceOpt = "auto",
    warmup: WarmupOpt = None,
    repeats: RepeatsOpt = None,
    threads: ThreadsOpt = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    seq_lens: Annotated[Optional[str], typer.Option(rich_help_panel=MODEL, help="With an hf:TYPE "
                                                    "text model: sequence lengths (token ids) "
                                                    "to sweep instead of --sizes, e.g. "
                                                    "32,128,512.")] = None,
) -> None:
    """Params, MACs, final feature map and validity across input resolutions.

    Also reports the smallest square input the network accepts at all. With --model, each input
    is counted from the model's captured rows (any model; --seq-lens for sequence models).
    Example: incprof sweep --arch inception_v3 --sizes 79,151,299
    """
    from ..analysis.sweep import sweep_records
    from ..render.compare import sweep_grid
    from ..spec.registry import load
    from ..render.grid import frame_csv, json_text, rows_payload

    check_network(ctx, model)
    check_timing(ctx, latency)
    if seq_lens is not None:
        refuse(ctx, ("sizes",), "does not apply with --seq-lens")
    lengths = parse_int_list(seq_lens, "--seq-lens", 1 << 20) if seq_lens else None
    sides = parse_sizes(sizes)
    check_outputs(output)
    timing = timing_options(latency, device, dtype, False, False, warmup, repeats, threads)
    if model is not None:
        from ..analysis.model_views import sweep_model_records
        from ..capture.models import timed_weights
        from ..render.model import sweep_grid as model_sweep_grid

        with user_errors(), user_code(model):
            module = load_model(model, model_arg, timed=timing is not None)
            if lengths:
                load_example(module, seq_len=1)  # refuses --seq-lens for a model without tokens
            examples = []
            for n in lengths or sides:
                try:
                    example = load_example(module, channels=channels, **(
                        {"seq_len": n} if lengths else {"input_size": (n, n)}))
                except UsageError as exc:  # this input is not valid: its row says why
                    examples.append((f"{n} tokens" if lengths else f"{n}x{n}", str(exc)))
                    continue
                examples.append((example.describe() if lengths else  # as a spec prints an image
                                 f"{n}x{n}x{example.shape()[1]}", example))
            df = sweep_model_records(module, examples, label=model, latency=timing,
                                     weights=timed_weights(model))
        write_result(fmt, output, lambda exact, compact: [model_sweep_grid(df, exact=exact)],
                     json=lambda: json_text(rows_payload(df)), csv=lambda: frame_csv(df))
        return
    with user_errors():
        df = sweep_records(load(spec or arch, flavor), sides, dtype.value, timing)
    write_result(fmt, output, lambda exact, compact: [sweep_grid(df, exact=exact)],
                 json=lambda: json_text(rows_payload(df)), csv=lambda: frame_csv(df))
