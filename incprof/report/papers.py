"""The family report's section on the papers' own tables read as data: the v3 paper's Table 3
ladder and its 3.8 -> 4.8 step, TF-slim's receptive fields, and Xception's "within 3.5%"
between its Table 3's own figures. Deterministic."""

from __future__ import annotations

from ..analysis.papers import factorized_step, ladder_records, receptive_field_records
from ..render import grid as render
from ..render import measure as render_measure
from ..spec.registry import resolve


def step_answer(step: dict) -> str:
    """The 3.8 -> 4.8 puzzle answered from the numbers of ``factorized_step``."""
    first = step["pairs"][0]
    steps = sorted({p["step"] for p in step["pairs"]})
    held = [p for p in step["pairs"] if p["verdict"] == "holds"]
    return (
        f"Table 3's \"Factorized 7x7\" row takes the cost from {step['printed_before']} to "
        f"{step['printed_after']} ({step['printed_step']}, x{step['printed_ratio']:.3f}), by "
        f"factorizing the first 7x7 conv into 3x3 convs. Built, that change costs "
        f"{first['stem_v3']:,} MACs for the three 3x3 convs against {first['stem_v2']:,} for an "
        f"unpadded 7x7/2 conv: a step of "
        + " or ".join(f"{s:,}" for s in steps)
        + f" MACs on the {len(step['pairs'])} pairs of builds below, x"
        f"{min(p['ratio'] for p in step['pairs']):.3f} to x"
        f"{max(p['ratio'] for p in step['pairs']):.3f}. "
        + ("No pair gives the printed step: on the paper flavours, "
           f"{step['printed_step_macs'] - first['step']:,} MACs of it come from no change that "
           "Table 3 names, and its levels are below every build (Inception-v2 "
           f"{first['macs_v2']:,} and Inception-v3 {first['macs_v3']:,} MACs on the paper "
           "flavours)." if not held else
           f"{len(held)} of the pairs give the printed step."))


def xception_sentence() -> str:
    """Xception's "within 3.5%", taken between its Table 3's own two printed figures."""
    claims = {c.claim: c for c in resolve("xception").claims}
    v3 = int(claims["Inception V3: 23,626,728 parameters"].value)
    xception = int(claims["Xception: 22,855,952 parameters"].value)
    change = (xception / v3 - 1) * 100
    return (f"Xception's \"within 3.5%\" of Inception V3's parameters: between its Table 3's own "
            f"figures, {xception:,} / {v3:,} - 1 = {change:+.2f}%, "
            f"{'within' if abs(change) < 3.5 else 'outside'} 3.5%; on the inception_v3 build "
            "the verdict is in xception's claims above.")


def papers_sections() -> list[str]:
    """The family report's sections on the papers' tables as data."""
    step = factorized_step()
    return ["## The papers' tables as data\n",
            "Each table's paper claims above include its cost tables; here Table 3 of the v3 paper "
            "is read across networks, row by row, and its one puzzling step is built.\n",
            "### The v3 paper's Table 3\n",
            render.grid_markdown(render_measure.ladder_grid(ladder_records())),
            "### 3.8 -> 4.8: the \"Factorized 7x7\" step\n",
            step_answer(step) + "\n",
            render.grid_markdown(render_measure.step_grid(step)),
            "### Receptive fields\n",
            render.grid_markdown(render_measure.fields_grid(receptive_field_records())),
            "### Xception against Inception V3\n",
            xception_sentence() + "\n"]
