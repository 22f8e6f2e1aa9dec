"""The module diagrams that open reports: GoogLeNet's Figure 2 and the Inception-v3 paper's
factorized modules (Figures 5-7), regenerated with their counts (render/diagram.py)."""

from __future__ import annotations

from pathlib import Path

from ..analysis.blocks import Block, row_blocks, sequence_block
from ..analysis.compare import resolve_side
from ..render import diagram
from ..spec.registry import resolve


def _row(spec, name: str) -> tuple[str, Block]:
    """A row's title (name: type) and block, placed in ``spec``."""
    ((row, kind, block),) = [r for r in row_blocks(spec) if r[0] == name]
    return f"{row}: {kind}", block


def figure2(out: Path) -> str:
    """GoogLeNet's Figure 2 regenerated: inception_3a naive beside reduced, on its Table 1
    input, drawn into ``out``; the markdown that shows it."""
    title, block = _row(resolve_side("reduced"), "inception_3a")
    naive = sequence_block(resolve_side("naive").row("inception_3a").layers, block.in_shape)
    diagram.draw_module(title + ", with 1x1 reductions", block,
                        out / "figure2-inception_3a.svg",
                        variant=("inception_3a: naive (no 1x1 reductions)", naive))
    return ("## Figure 2, regenerated with its counts\n\n"
            "`incprof draw --arch googlenet --row inception_3a --variant naive -o figure2.svg`: "
            "GoogLeNet's Figure 2 for module 3a, on its Table 1 input, the naive module (left) "
            "beside the one with 1x1 reductions (right); each layer and branch with its params "
            "and MACs per image, and each branch's share of its module.\n\n"
            "![Figure 2: inception_3a, naive and with 1x1 reductions]"
            "(figure2-inception_3a.svg)\n")


# The Inception-v3 paper's factorized modules, each by its figure (tables/inception_v3.yaml).
V3_FIGURES = (("mixed_5b", "Figure 5"), ("mixed_6b", "Figure 6"), ("mixed_7b", "Figure 7"))


def factorized_modules(out: Path) -> str:
    """GoogLeNet's 3a with its 5x5 factorized beside the reduced module, and the v3 paper's
    Figures 5-7 modules, drawn into ``out``; the markdown that shows them."""
    title, block = _row(resolve_side("reduced"), "inception_3a")
    factorized = sequence_block(resolve_side("factorized").row("inception_3a").layers,
                                block.in_shape)
    diagram.draw_module(title, block, out / "factorized-inception_3a.svg",
                        variant=("inception_3a: factorized (5x5 as two 3x3)", factorized))
    lines = ["## The factorized modules\n",
             "`incprof draw --arch googlenet --row inception_3a --variant factorized`: GoogLeNet's "
             "3a with its 5x5 conv as two 3x3 (left) beside the module as built (right).\n",
             "![inception_3a, factorized and as built](factorized-inception_3a.svg)\n",
             "The Inception-v3 modules as built (`incprof draw --arch inception_v3 --row NAME`), "
             "one per figure of the paper. `tables/inception_v3.yaml` has torchvision's widths, "
             "and with them its Figure 5 module, which keeps a 5x5 branch beside the two "
             "stacked 3x3:\n"]
    v3 = resolve("inception_v3")
    for row, figure in V3_FIGURES:
        title, block = _row(v3, row)
        diagram.draw_module(title, block, out / f"inception_v3-{row}.svg")
        lines.append(f"![{row}, the paper's {figure}](inception_v3-{row}.svg)\n")
    return "\n".join(lines)
