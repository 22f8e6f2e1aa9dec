"""The factorization lab: the Inception-v3 paper's cost arguments, reproduced on one conv or one
grid reduction at a time. Every figure comes from a small spec counted like any other; the tables
are Records."""

from __future__ import annotations

from ..count.analytic import count_spec
from ..errors import SpecError
from ..records import Records
from ..spec.layers import Conv, Pool
from ..spec.model import ArchSpec, Row
from ..spec.factorize import GRID_FORMS, RULES, grid_layers

# (label, rule, n, the saving the v3 paper states, where it says so)
FACTORIZATIONS = [
    ("5x5 -> two 3x3", "stack", 5, 28.0, "v3 paper, section 3.1: (9+9)/25, a 28% saving"),
    ("3x3 -> 1x3 + 3x1", "asymmetric", 3, 33.0, "v3 paper, section 3.2: 33% cheaper"),
    ("3x3 -> two 2x2", "stack", 3, 11.0, "v3 paper, section 3.2: only 11% saving"),
    ("5x5 -> 1x5 + 5x1", "asymmetric", 5, None, ""),
    ("7x7 -> 1x7 + 7x1", "asymmetric", 7, None, "the 17x17 modules' choice (n = 7)"),
]


def _spec(name: str, in_shape, layers) -> ArchSpec:
    row = Row(name=name, type=name, layers=tuple(layers))
    return ArchSpec(name=name, title=name, source="incprof lab", input=tuple(in_shape), rows=(row,))


def conv_specs(rule: str, n: int, cin: int, cout: int, size: int) -> tuple[ArchSpec, ArchSpec]:
    """One n x n 'same' conv, and the same conv factorized by ``rule``, on a size x size input."""
    conv = Conv(out=cout, kernel=(n, n), padding=((n - 1) // 2,) * 2)
    return (_spec(f"{n}x{n}", (cin, size, size), [conv]),
            _spec(f"{n}x{n} {rule}", (cin, size, size), RULES[rule](conv)))


def grid_spec(form: str, d: int, k: int, kernel: int = 3) -> ArchSpec:
    """A grid reduction from d x d x k to (d/2) x (d/2) x 2k in one of the three forms
    (incprof.spec.factorize.GRID_FORMS), with kernel x kernel convs."""
    if d % 2:
        raise SpecError(f"grid size d must be even to halve exactly, got {d}")
    pad = (kernel - 1) // 2
    conv = Conv(out=k, kernel=(kernel, kernel), padding=(pad, pad))
    return _spec(form, (k, d, d), grid_layers(form, Pool("max", (3, 3), (2, 2), (1, 1)), conv))


def paper_grid_macs(form: str, d: int, k: int) -> int | None:
    """The v3 paper's own cost formula for a grid reduction d x d x k -> (d/2) x (d/2) x 2k
    (section 5, per kernel tap): conv then pool 2d^2k^2, pool then conv 2(d/2)^2k^2; it gives
    none for the parallel form."""
    return {"conv then pool": 2 * d * d * k * k,
            "pool then conv": 2 * (d // 2) ** 2 * k * k}.get(form)
def _counts(spec: ArchSpec):
    return count_spec(spec)[0].counts


def factorization_records(width: int = 64, size: int = 17, cin: int | None = None,
                          cout: int | None = None, verify: bool = False) -> Records:
    """Per rule: MACs and weights of the original and factorized conv, the savings per output
    position (the paper's measure) and on the whole grid, and the paper's stated figure; meta in
    ``attrs``. ``verify`` re-counts each conv with FlopCounterMode's formulas
    (incprof.nn.crosscheck)."""
    cin, cout = cin or width, cout or width
    specs = [conv_specs(rule, n, cin, cout, size) for _, rule, n, _, _ in FACTORIZATIONS]
    records = []
    for (label, rule, n, paper, source), (original, factored) in zip(FACTORIZATIONS, specs):
        before, after = _counts(original), _counts(factored)
        record = {"rule": label, "original_weights": before.weights,
                  "factorized_weights": after.weights, "original_macs": before.macs,
                  "factorized_macs": after.macs,
                  "saving_per_position_pct": round((1 - after.weights / before.weights) * 100, 1),
                  "saving_on_grid_pct": round((1 - after.macs / before.macs) * 100, 1),
                  "paper_saving_pct": paper, "paper_source": source or None}
        if verify:
            from ..nn.crosscheck import measure

            record["check_agrees"] = all(
                measure(s)[s.rows[0].name].macs == _counts(s).macs
                for s in (original, factored))
        records.append(record)
    meta = {"cin": cin, "cout": cout, "size": size, "verified": verify}
    return Records(list(records[0]), records, {"meta": meta})


def grid_records(d: int = 34, k: int = 64, kernel: int = 3, verify: bool = False) -> Records:
    """The three grid reductions d x d x k -> (d/2) x (d/2) x 2k: MACs, MACs / (d^2 k^2), and the
    cost relative to conv then pool; meta in ``attrs``. ``verify`` as for
    factorization_records."""
    specs = {form: grid_spec(form, d, k, kernel) for form in GRID_FORMS}
    macs = {form: _counts(spec).macs for form, spec in specs.items()}
    records = []
    for form, spec in specs.items():
        out = count_spec(spec)[0].placed.out_shape
        record = {"form": form, "description": GRID_FORMS[form], "output": f"{out[1]}x{out[2]}x{out[0]}",
                  "macs": macs[form], "macs_per_d2k2": macs[form] / (d * d * k * k),
                  "relative_to_conv_then_pool": round(macs[form] / macs["conv then pool"], 4)}
        stated = paper_grid_macs(form, d, k)
        record["paper_saving_pct"] = None if stated is None else round(
            (1 - stated / paper_grid_macs("conv then pool", d, k)) * 100, 1)
        if verify:
            from ..nn.crosscheck import measure

            record["check_agrees"] = measure(spec)[
                spec.rows[0].name].macs == macs[form]
        records.append(record)
    return Records(list(records[0]), records, {"meta": {
        "d": d, "k": k, "kernel": kernel, "verified": verify,
        "paper": "v3 paper, section 5: conv then pool costs 2d^2k^2 (per kernel tap); pool then "
                 "conv is 4x cheaper but a bottleneck"}})

