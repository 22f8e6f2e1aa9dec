"""--mode train: the options of a training step (shared by table, compare and referee) and the
training views of those commands. Thin: parse, call one library function, hand to output.py."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import INPUT, Format, refuse
from .output import write_result
from .shell import fail, user_errors

TRAINING = "Training"


class Mode(str, Enum):
    """What one run of the network is: inference (eval forward) or a training step."""

    inference = "inference"
    train = "train"


class Optimizer(str, Enum):
    """The optimizer whose state a training step keeps."""

    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


ModeOpt = Annotated[Mode, typer.Option(
    rich_help_panel=INPUT, help="inference (an eval forward pass) or train (one training step: "
    "forward with the aux heads, backward MACs split into input and weight gradients, the bytes "
    "saved for backward and the step's memory).")]
OptimizerOpt = Annotated[Optimizer, typer.Option(
    rich_help_panel=TRAINING, help="With --mode train: the optimizer whose state the memory "
    "counts: sgd, momentum (sgd, momentum 0.9), adam or adamw.")]
FreezeOpt = Annotated[Optional[str], typer.Option(
    rich_help_panel=TRAINING, help="With --mode train: rows (or aux heads) whose parameters are "
    "frozen, comma-separated: they compute no weight gradient.")]
MeasureMemoryOpt = Annotated[bool, typer.Option(
    "--measure-memory", rich_help_panel=TRAINING, help="With --mode train: also run one real "
    "training step on the CPU and measure the bytes saved for backward and the allocator's peak "
    "beside the model (machine-dependent; runs real arithmetic).")]
TRAIN_ONLY = ("optimizer", "freeze", "measure_memory")


def check_mode(ctx: typer.Context, mode: Mode, inference_only=()) -> None:
    """Refuse the training options without --mode train, and ``inference_only`` with it."""
    if mode is Mode.train:
        refuse(ctx, inference_only, "does not apply with --mode train")
    else:
        refuse(ctx, TRAIN_ONLY, "applies only with --mode train")


def parse_freeze(text: str | None) -> frozenset[str]:
    """'conv1,conv2' -> frozenset({'conv1', 'conv2'})."""
    if text is None:
        return frozenset()
    names = frozenset(part.strip() for part in text.split(",") if part.strip())
    if not names:
        fail(f"--freeze must name rows, comma-separated, got {text!r}")
    return names


def table_train(arch, flavor: str, aux: bool, size, batch_size: int, optimizer: Optimizer,
                freeze: str | None, measure_memory: bool, verify: bool, fmt: Format,
                output: Path | None, wide: bool) -> None:
    """`incprof table --mode train`: one training step row by row; exit 1 when FlopCounterMode
    disagrees."""
    from ..analysis.training import training_records
    from ..render import training as render_training
    from .output import progress

    frozen = parse_freeze(freeze)
    with user_errors(), progress("counting a training step from the spec") as step:
        records = training_records(arch, flavor=flavor, aux=aux, input_size=size,
                                   batch_size=batch_size, frozen=frozen,
                                   optimizer=optimizer.value, verify=verify,
                                   measure=measure_memory, progress=step)
    write_result(fmt, output, lambda exact, compact: [render_training.training_grid(
        records, exact=exact)], json=lambda: render_training.to_json(records),
        csv=lambda: render_training.to_csv(records), wide=wide)
    if records.attrs["totals"]["check_agrees"] is False:
        fail("FlopCounterMode's training-step counts disagree with the analytic counts (see the "
             "FlopCounter column)", code=1)


def referee_train(ctx: typer.Context, arch, flavor: str, aux: bool, size, batch_size: int,
                  freeze: str | None, fmt: Format, output: Path | None) -> None:
    """`incprof referee --mode train`: FlopCounterMode's training-step total, predicted to the
    unit; exit 1 when the residual is not zero."""
    from ..referee.training import referee_training
    from ..render.grid import json_text, rows_csv
    from ..render.training import referee_training_grid

    from .options import load_model

    ref = ctx.params.get("model")
    with user_errors():
        if ref:
            refuse(ctx, ("freeze",), "applies to specs only (a --model's frozen parameters are "
                   "its own requires_grad flags)")
            result = referee_training(model=load_model(ref, ctx.params.get("model_arg")),
                                      label=ref, input_size=size, batch_size=batch_size,
                                      channels=ctx.params.get("channels", 3))
        else:
            result = referee_training(arch, flavor=flavor, aux=aux, input_size=size,
                                      batch_size=batch_size, frozen=parse_freeze(freeze))
    columns = ["tool", "version", "unit", "reported", "predicted", "residual"]
    write_result(fmt, output, lambda exact, compact: [referee_training_grid(result)],
                 json=lambda: json_text(result),
                 csv=lambda: rows_csv(columns, [{k: t[k] for k in columns}
                                                for t in result["tools"]]))
    if any(t["residual"] for t in result["tools"]):
        raise typer.Exit(1)


def compare_train(specs, labels, batch_size: int, optimizer: Optimizer, verify: bool,
                  fmt: Format, output: Path | None, wide: bool) -> None:
    """`incprof compare --mode train`: two training steps side by side; exit 1 when
    FlopCounterMode disagrees."""
    from ..analysis.training import compare_training_records
    from ..render import training as render_training
    from ..render.grid import json_text

    with user_errors():
        records = compare_training_records(*specs, labels=labels, batch_size=batch_size,
                                           optimizer=optimizer.value, verify=verify)
    write_result(fmt, output, lambda exact, compact: [render_training.comparison_grid(
        records, exact=exact)], json=lambda: json_text(
        {"meta": records.attrs["meta"], "rows": records.rows, "totals": records.attrs["totals"]}),
        csv=lambda: render_training.rows_csv(records.columns, records.rows), wide=wide)
    if records.attrs["totals"]["check_agrees"] is False:
        fail("FlopCounterMode's training-step counts disagree with the analytic counts", code=1)


def table_train_model(ctx: typer.Context, ref: str, model_arg, example, depth: int,
                      fmt: Format, output: Path | None, wide: bool) -> None:
    """`incprof table --model --mode train`: a model's training step per module, on the example
    inference counting uses (``example``: load_example's arguments); exit 1 when FlopCounterMode
    disagrees."""
    from ..analysis.model_training import model_training_records
    from ..render import training as render_training
    from ..render.grid import json_text
    from .options import load_example, load_model, user_code

    refuse(ctx, ("optimizer", "freeze", "measure_memory", "verify"), "applies with --mode train "
           "to specs only (a --model's frozen parameters are its own requires_grad flags; its "
           "step is always counted twice)")
    with user_errors(), user_code(ref):
        module = load_model(ref, model_arg)
        records = model_training_records(module, depth=depth, label=ref,
                                         example=load_example(module, *example))
    write_result(fmt, output, lambda exact, compact: [render_training.model_training_grid(
        records, exact=exact)], json=lambda: json_text(
        {"meta": records.attrs["meta"], "rows": records.rows, "totals": records.attrs["totals"]}),
        csv=lambda: render_training.rows_csv(records.columns, records.rows), wide=wide)
    if not records.attrs["totals"]["check_agrees"]:
        fail("FlopCounterMode's training-step counts disagree with the forward pass's (see the "
             "FlopCounter column)", code=1)
