"""The training section of family.md: what a training step costs each built-in network against
inference, computed from the specs (incprof.analysis.training). Deterministic: nothing measured."""

from __future__ import annotations

from ..analysis.training import family_training_records
from ..count.step_memory import RULES as MEMORY_RULES
from ..count.training import RULES
from ..render import grid as render


def _range(values: list[float], pct: bool = False) -> str:
    if pct:
        return f"{100 * min(values):.2f}% to {100 * max(values):.2f}%"
    return f"{min(values):.4f} to {max(values):.4f}"


def training_section(names: list[str]) -> list[str]:
    """Markdown paragraphs and a table: training / inference MACs, the aux heads' share, backward
    MACs split by gradient, and training / inference memory (modelled) with sgd and adam."""
    family = family_training_records(names)
    rows = family.rows
    batch = family.attrs["memory_batch"]
    heads = [r for r in rows if r["aux_share"] is not None]
    ratios = [r["training_over_inference_macs"] for r in rows]
    summary = (
        f"A training step costs {_range(ratios)} times the inference MACs"
        + (" (under 3: the first layer computes no input gradient)" if max(ratios) < 3 else "")
        + (f"; the aux heads take {_range([r['aux_share'] for r in heads], pct=True)} of a "
           "step's MACs "
           f"({', '.join(r['arch'] for r in heads)})" if heads else "")
        + f". At batch {batch}, a step's modelled peak memory is "
        f"{_range([r['sgd_over_inference'] for r in rows])} times inference's with sgd and "
        f"{_range([r['adam_over_inference'] for r in rows])} with adam.")
    grid = render.Grid(
        "A training step against inference (paper flavour, aux heads included, own input size)",
        [("arch", "left"), ("inference MACs", "right"), ("step MACs", "right"),
         ("input-grad MACs", "right"), ("weight-grad MACs", "right"), ("step / inference", "right"),
         ("aux share", "right"), (f"sgd / inference memory, batch {batch}", "right"),
         (f"adam / inference memory, batch {batch}", "right")],
        [[r["arch"], f"{r['inference_macs']:,}", f"{r['step_macs']:,}",
          f"{r['input_grad_macs']:,}", f"{r['weight_grad_macs']:,}",
          f"{r['training_over_inference_macs']:.4f}",
          "" if r["aux_share"] is None else f"{100 * r['aux_share']:.2f}%",
          f"{r['sgd_over_inference']:.4f}", f"{r['adam_over_inference']:.4f}"] for r in rows],
        summary=["MACs per image. Inference MACs: the main network in eval mode (no aux head). "
                 "Step MACs: forward (aux heads included) plus backward. " + RULES + " "
                 + MEMORY_RULES + " Counted from the specs; incprof table --mode train --arch "
                 "NAME checks every row against FlopCounterMode on a real backward, and "
                 "--measure-memory measures the peak beside the model."])
    return ["## Training against inference\n", summary + "\n", render.grid_markdown(grid)]


def training_document(header: str) -> str:
    """training.md under ``header``: each built-in network's training step row by row (paper
    flavour, aux heads included, per image, sgd), counted from its spec."""
    from ..analysis.training import training_records
    from ..render.training import training_grid
    from ..spec.registry import available

    sections = []
    for name in available():
        grid = training_grid(training_records(name), exact=True)
        grid.summary = grid.summary[:-1]  # the rules are stated once, below
        sections += [f"## {name}\n", render.grid_markdown(grid)]
    return "\n".join([
        "# A training step, row by row\n", header,
        "Every built-in network, paper flavour, its own input size, aux heads included, per image "
        "(batch 1), optimizer sgd; counted from the specs. `incprof table --mode train --arch "
        "NAME` prints one, checks every row against FlopCounterMode on a real backward, and with "
        "`--measure-memory` measures the peak beside the model. Family ratios: "
        "[family.md](family.md#training-against-inference).\n",
        "## Rules\n", "- " + RULES, "- " + MEMORY_RULES + "\n", *sections])
