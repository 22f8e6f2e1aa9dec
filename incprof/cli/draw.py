"""`incprof draw`: a module diagram with its counts, or a whole network as a column of rows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import (INPUT, OUTPUT, ArchOpt, ChannelsOpt, DepthOpt, FlavorOpt, InputSizeOpt,
                      ModelArgOpt, ModelOpt, SpecOpt, check_network, model_spec, parse_input_size)
from .output import check_outputs, check_plot, wrote
from .shell import fail, user_errors


def draw(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", rich_help_panel=OUTPUT,
                                         help="The figure to write: .png or .svg.")],
    arch: ArchOpt = "googlenet",
    spec: SpecOpt = None,
    flavor: FlavorOpt = "paper",
    input_size: InputSizeOpt = None,
    row: Annotated[Optional[str], typer.Option("--row", "-r", rich_help_panel=INPUT,
                                               help="Draw this row in full (a module: its "
                                               "branches and merge). Default: the whole "
                                               "network, a compact box per row.")] = None,
    variant: Annotated[Optional[str], typer.Option(rich_help_panel=INPUT, help="With --row: "
                                                   "also draw the row as this variant makes it "
                                                   "(see 'incprof list'), on the same input, "
                                                   "beside it: naive gives GoogLeNet's Figure "
                                                   "2.")] = None,
    model: ModelOpt = None,
    model_arg: ModelArgOpt = None,
    channels: ChannelsOpt = 3,
    depth: DepthOpt = 1,
) -> None:
    """Draw a module as the papers do, every layer and branch with its params and MACs.

    With --row, the row's input, its branches side by side and their merge (the concatenation,
    or a residual's scaled sum); each branch gives its share of the module. Without, the whole
    network as a column of rows. With --model, the modules at --depth, read from the model's
    graph (as incprof export writes them). Counts are per image, at inference, without aux heads.
    Example: incprof draw --arch googlenet --row inception_3a --variant naive -o figure2.png
    """
    from ..analysis.blocks import row_blocks, sequence_block
    from ..analysis.compare import resolve_side
    from ..render import diagram
    from ..spec.registry import load

    check_network(ctx, model)
    if variant is not None and row is None:
        fail("--variant draws one row beside its variant: give --row too")
    size = parse_input_size(input_size)
    check_plot(output)
    check_outputs(output)
    with user_errors():
        if model is not None:
            network = model_spec(model, model_arg, size, channels, depth)
            size = None
        else:
            network = load(spec or arch, flavor=flavor, aux=False)
        rows = row_blocks(network, size)
        if row is None:
            diagram.draw_network(network.title, rows, output)
            wrote(output)
            return
        found = [r for r in rows if r[0] == row]
        if not found:
            fail(f"{network.name} has no row {row!r}; its rows: "
                 + ", ".join(name for name, _, _ in rows))
        name, kind, block = found[0]
        other = None
        if variant is not None:
            changed = resolve_side(variant, base=network)
            layers = {r.name: r.layers for r in changed.rows}
            if row not in layers:
                fail(f"the {variant} variant has no row {row!r}")
            if layers[row] == network.row(row).layers:
                fail(f"the {variant} variant leaves {row} as it is: nothing to set beside it")
            other = (f"{name}: the {variant} variant", sequence_block(layers[row], block.in_shape))
        diagram.draw_module(f"{name}: {kind}", block, output, variant=other)
    wrote(output)
