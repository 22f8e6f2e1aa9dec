"""The commands' --model paths: `incprof table --model` (its rows, tree, columns and latency)
and `incprof export` (a model as a spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (INPUT, MODEL, ChannelsOpt, Format, ModelArgOpt, OutputOpt, load_example,
                      load_model, parse_input_size, user_code)
from .output import check_outputs, draw, emit, progress, write_result
from .shell import fail, say, user_errors


def table_model(ref: str, model_arg, example, depth: int, fmt: Format, output: Path | None,
                wide: bool, tree: int | None, views: dict, brief: bool = False) -> None:
    """`incprof table --model`: the model's rows (or with ``tree``, 0 for every depth, its module
    tree; with ``views``, their columns, plot and latency), in the format asked; exit 1 when
    FlopCounterMode disagrees with the per-op count."""
    from ..capture.rows import profile_model_records
    from ..render import model as render_model

    with user_errors(), user_code(ref):
        module = load_model(ref, model_arg, timed=bool(views and views["latency"]))
        example = load_example(module, *example)
        if tree is not None:
            from ..capture.tree import tree_records
            from ..render import tree as render_tree

            records = tree_records(module, example, max_depth=tree or None, label=ref)
            df = records.attrs["profile"]
        else:
            df = profile_model_records(module, depth=depth, label=ref, example=example)
        if views["columns"] or views["latency"] or views["predict"]:
            from ..analysis.model_views import model_views
            from ..capture.models import timed_weights

            with progress("timing rows" if views["latency"] else "counting"):
                df = model_views(df, module, example, columns=views["columns"],
                                 dtype=views["dtype"], latency=views["latency"],
                                 weights=timed_weights(ref), predict=views["predict"],
                                 device_profile=views["device_profile"])
        if views["plot"] is not None:
            from ..records import Records
            from ..render.plot import rows_params_macs_bars

            draw(rows_params_macs_bars, views["plot"], Records(df.columns, [
                dict(r, aux=False) for r in df.rows], {**df.attrs, "meta": {
                    **df.attrs["meta"], "title": ref}}))
    if tree is not None:
        write_result(fmt, output, lambda exact, compact: [render_tree.tree_grid(records, exact=exact)],
                     json=lambda: render_tree.to_json(records), csv=lambda: render_tree.to_csv(records),
                     wide=wide, brief=brief)
    else:
        write_result(fmt, output, lambda exact, compact: [render_model.model_grid(df, exact=exact)],
                     json=lambda: render_model.to_json(df), csv=lambda: render_model.to_csv(df),
                     wide=wide, brief=brief)
    if not df.attrs["totals"]["flop_counter_agrees"]:
        fail("FlopCounterMode's counts disagree with the per-op count (see the FlopCounter column)",
             code=1)


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
    Modules that never run on the example (aux heads in eval) are left out, named in one line with
    their params.
    Example: incprof export --model torchvision:googlenet -o googlenet.yaml
    """
    from ..capture.export import dropped_line, export_spec, to_yaml

    size = parse_input_size(input_size)
    check_outputs(output)
    left_out: dict = {}
    with user_errors(), user_code(model):
        data = export_spec(load_model(model, model_arg), size, channels=channels, depth=depth,
                           label=model, left_out=left_out)
    emit(to_yaml(data, left_out), output)
    if dropped_line(left_out):
        say(dropped_line(left_out), prefix="note: ")
