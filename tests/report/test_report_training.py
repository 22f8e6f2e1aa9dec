"""The training section: the README's training table and its claims equal the computed figures
(incprof.analysis.training.family_training_records)."""

import re
from pathlib import Path

from incprof.analysis.training import family_training_records
from incprof.count.analytic import count_spec
from incprof.spec.registry import available, resolve

README = (Path(__file__).parents[2] / "README.md").read_text()
SECTION = README.split("## Training against inference")[1].split("\n## ")[0]


def test_readme_training_table_is_computed():
    rows = {r["arch"]: r for r in family_training_records(available()).rows}
    shown = re.findall(r"^\| `(\w+)` \| ([\d.]+) \| ([\d.]*)%? \| ([\d.]+)x \| ([\d.]+)x \|$",
                       SECTION, flags=re.M)
    assert sorted(arch for arch, *_ in shown) == sorted(rows)
    for arch, ratio, share, sgd, adam in shown:
        r = rows[arch]
        assert ratio == f"{r['training_over_inference_macs']:.4f}"
        assert share == ("" if r["aux_share"] is None else f"{100 * r['aux_share']:.2f}")
        assert (sgd, adam) == (f"{r['sgd_over_inference']:.2f}", f"{r['adam_over_inference']:.2f}")
    # "within 3% of the step": every ratio is within 3% of 3
    assert all(abs(3 - r["training_over_inference_macs"]) / 3 < 0.03 for r in rows.values())
    # memory "4.9 to 9.9 times inference at batch 32": the smallest and largest ratio
    memory = [r[k] for r in rows.values() for k in ("sgd_over_inference", "adam_over_inference")]
    assert f"{min(memory):.1f} to {max(memory):.1f} times inference" in " ".join(SECTION.split())


def test_googlenet_aux_heads_hold_48_percent_of_training_params():
    counted = count_spec(resolve("googlenet"))
    aux = sum(rc.counts.params for rc in counted if rc.placed.is_aux)
    total = sum(rc.counts.params for rc in counted)
    assert "48% of its\ntraining parameters" in SECTION
    assert round(100 * aux / total) == 48
    share = {r["arch"]: r["aux_share"] for r in family_training_records(["googlenet"]).rows}
    assert share["googlenet"] < 0.01 and "under 1% of a step" in SECTION
