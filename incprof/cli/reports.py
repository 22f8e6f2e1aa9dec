"""`incprof report`: the counting reports, training.md alone, or a machine-dependent latency
report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..count.analytic import MAX_BATCH
from ..render.text import terminal
from .options import (LATENCY, OUTPUT, ChannelsLastOpt, CompileOpt, DeviceOpt, DeviceProfileOpt,
                      DType, TF32Opt, ThreadsOpt, TimingDTypeOpt, folder_path, refuse)
from .output import check_outputs, hinting, progress
from .shell import unwritten, user_errors
from .training import Mode


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", parser=folder_path, metavar="<path>", rich_help_panel=OUTPUT,
                                      help="Folder for the markdown reports and their figures; "
                                      "created if need be.")
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
    mode: Annotated[Mode, typer.Option(rich_help_panel=OUTPUT, help="inference: every counting "
                                       "report (training.md among them); train: training.md "
                                       "alone, each network's training step row by row.")
                    ] = Mode.inference,
    threads: ThreadsOpt = None,
    tf32: TF32Opt = None,
    channels_last: ChannelsLastOpt = False,
    compile_model: CompileOpt = False,
    device_profile: DeviceProfileOpt = None,
) -> None:
    """Write the counting reports and their SVG figures.

    googlenet.md, naive-vs-reduced.md, factorizations.md, inception_v3.md, family.md and
    training.md, ceilings.md (datasheet ceilings per network and device) into --out, and with
    --referee referee.md. They are byte-for-byte reproducible; CI regenerates them all (incprof
    report --referee) and fails if they drift.
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
    from ..files import folder_made_for

    if mode is Mode.train:
        refuse(ctx, ("referee", "latency"), "does not apply with --mode train, which writes "
               "training.md alone")
        from ..files import write_atomic
        from ..report.reports import training_report

        unwritten().append(str(out / "training.md"))
        with folder_made_for(out), user_errors():
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / "training.md", training_report(out))
        unwritten().remove(str(out / "training.md"))
        typer.echo(f"wrote {terminal(str(out / 'training.md'))}")
        return
    if latency:
        from ..nn.latency import TimingOptions

        unwritten().append(str(out / "latency"))
        with folder_made_for(out), user_errors(), progress("timing") as step:
            path = latency_report(arch, out, batch_size, TimingOptions(
                device=device, dtype=dtype.value, threads=threads, tf32=tf32,
                channels_last=channels_last, compile=compile_model), device_profile,
                hinting(step, threads))
        typer.echo(f"wrote {terminal(str(path))}")
        return
    names = [*REPORTS, *(REFEREE_REPORTS if referee else [])]
    pending = unwritten()
    pending[:] = [str(out / name) for name in names]

    def written(name: str) -> None:
        pending.remove(str(out / name))
        if pending:
            step(f"writing {Path(pending[0]).name}")

    with folder_made_for(out), user_errors(), progress("writing reports", len(names)) as step:
        step(f"writing {Path(pending[0]).name}")
        paths = write_reports(out, written, referee)
    for path in paths:
        typer.echo(f"wrote {terminal(str(path))}")
