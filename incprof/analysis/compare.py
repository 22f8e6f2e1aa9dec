"""Two variants or specs side by side: per module at the same input, and per network row, as
Records."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..count.analytic import sequence_counts
from ..errors import SpecError, quoted
from ..records import Records
from ..spec.model import ArchSpec, Printed, Row
from ..spec.registry import available, is_path, resolve
from ..spec.shapes import format_shape, place, walk
from ..spec.variants import VARIANTS

MODULE_COLUMNS = ["row", "input", "a_output", "b_output", "a_out_channels", "b_out_channels",
                  "a_params", "b_params", "a_macs", "b_macs", "a_check_params", "b_check_params",
                  "a_check_macs", "b_check_macs", "params_ratio", "macs_ratio",
                  "params_saving_pct", "macs_saving_pct", "a_latency_ms", "b_latency_ms",
                  "a_latency_unstable", "b_latency_unstable"]
NETWORK_COLUMNS = ["row", "a_output", "b_output", "a_params", "b_params", "a_macs", "b_macs",
                   "a_check_params", "b_check_params", "a_check_macs", "b_check_macs",
                   "params_ratio", "macs_ratio", "params_saving_pct", "macs_saving_pct",
                   "a_latency_ms", "b_latency_ms", "a_latency_unstable", "b_latency_unstable"]


def resolve_side(name: str | Path, base: str | ArchSpec = "googlenet") -> ArchSpec:
    """A variant of ``base`` (e.g. 'naive', 'reduced'; a name, a path or an ArchSpec), a built-in
    architecture, or a spec file
    (a Path, or a name with a slash or a .yaml ending: ``spec.is_path``)."""
    if name in VARIANTS:
        return VARIANTS[name](resolve(base) if isinstance(base, (str, Path)) else base)
    if is_path(name) or name in available():
        return resolve(name)
    raise SpecError(f"{quoted(name)} is neither a variant ({', '.join(VARIANTS)}), a built-in "
                    f"architecture ({', '.join(available())}) nor a YAML file")


def single_row_spec(spec: ArchSpec, row_name: str, in_shape, row: Row | None = None) -> ArchSpec:
    """A one-row spec: ``row_name`` of ``spec`` alone, fed an input of ``in_shape``; ``row`` is
    that row, when the caller has it at hand (a lookup by name scans the rows)."""
    row = dataclasses.replace(row or spec.row(row_name), printed=Printed(), alternative=None)
    return dataclasses.replace(spec, name=f"{spec.name}:{row_name}", rows=(row,), aux=(),
                               input=tuple(in_shape), paper_depth=None)


def _ratio(a: int, b: int) -> float | None:
    return None if b == 0 else round(a / b, 3)


def _saving(a: int, b: int) -> float | None:
    return None if a == 0 else round((1 - b / a) * 100, 1) + 0.0


def _derived(record: dict) -> dict:
    record["params_ratio"] = _ratio(record["a_params"], record["b_params"])
    record["macs_ratio"] = _ratio(record["a_macs"], record["b_macs"])
    record["params_saving_pct"] = _saving(record["a_params"], record["b_params"])
    record["macs_saving_pct"] = _saving(record["a_macs"], record["b_macs"])
    return record


def _int_columns(columns: list[str]) -> tuple[str, ...]:
    """The exact integer columns of a comparison: A's and B's counts."""
    return tuple(c for c in columns if c.startswith(("a_", "b_")) and "output" not in c
                 and "latency" not in c)


def _guard(specs: list[ArchSpec], batch_size: int, verify: bool, latency,
           max_memory: int | None) -> None:
    """Before anything is built: refuse a cross-check of more layers than the max_layers ceiling in
    all, and, for timing, any spec whose network would not fit in ``max_memory`` bytes in its
    dtype (the cross-check runs on an empty batch: its weights only)."""
    from ..count.limits import check_layers, check_memory

    if verify and specs:
        check_layers(specs)
    for spec in specs if latency is not None else []:
        check_memory(spec, None, batch_size, max_memory, latency.dtype)


def compare_modules_records(a: ArchSpec, b: ArchSpec, *, batch_size: int = 1,
                            verify: bool = False, labels: tuple[str, str] | None = None,
                            max_memory: int | None = None, latency=None) -> Records:
    """Rows whose layers differ between A and B, each counted on the input it has in B (every
    MODULE_COLUMNS key in each row), totals and meta in ``attrs``.

    For naive against reduced this is one row per Inception module at its Table 1 input shape.
    ``latency`` (a latency.TimingOptions) also times both forms of each row on that input.
    """
    b_placed = {p.name: p for p in place(b) if not p.is_aux}
    env = None
    b_rows = {r.name: r for r in b.rows}
    changed = [row for row in a.rows
               if row.name in b_rows and row.layers != b_rows[row.name].layers]
    ones = {row.name: {side: single_row_spec(spec, row.name, b_placed[row.name].in_shape, item)
                       for side, spec, item in (("a", a, row), ("b", b, b_rows[row.name]))}
            for row in changed}
    _guard([one for pair in ones.values() for one in pair.values()], batch_size, verify, latency,
           max_memory)
    records = []
    for row in changed:
        p = b_placed[row.name]
        try:
            a_out = walk(row.layers, p.in_shape)[1]
        except SpecError as exc:
            raise SpecError(f"{exc.message}: A's row does not run on B's input (compare the "
                            "whole networks with --level network)", path=exc.path or a.path,
                            line=exc.line or row.line, row=exc.row or row.name) from None
        ca, cb = sequence_counts(row.layers, p.in_shape), sequence_counts(p.layers, p.in_shape)
        record = {"row": row.name, "input": format_shape(p.in_shape),
                  "a_output": format_shape(a_out), "b_output": format_shape(p.out_shape),
                  "a_out_channels": a_out[0], "b_out_channels": p.out_shape[0],
                  "a_params": ca.params, "b_params": cb.params,
                  "a_macs": ca.macs * batch_size, "b_macs": cb.macs * batch_size}
        if verify:
            from ..nn.crosscheck import measure

            for side, one in ones[row.name].items():
                m = measure(one, None, batch_size)[row.name]
                record[f"{side}_check_params"], record[f"{side}_check_macs"] = m.params, m.macs
        if latency is not None:
            from ..nn.latency import time_spec

            for side, one in ones[row.name].items():
                timings = time_spec(one, None, batch_size, latency, max_memory=max_memory)
                env = timings.env
                stats = timings.rows[row.name]
                record[f"{side}_latency_ms"] = None if isinstance(stats, str) else round(
                    stats.median_ms, 4)
                record[f"{side}_latency_unstable"] = None if isinstance(stats, str) else \
                    stats.unstable
        records.append(_derived(record))
    rows = [{column: record.get(column) for column in MODULE_COLUMNS} for record in records]
    meta = {**_meta(a, b, batch_size, verify, "module", labels),
            "latency_env": env if latency is not None and records else None}
    return Records(MODULE_COLUMNS, rows, {"meta": meta, "totals": _sum_totals(rows)},
                   _int_columns(MODULE_COLUMNS))


def join_rows(a_rows: dict, b_rows: dict, keys: tuple[str, ...]) -> list[dict]:
    """The rows (name -> record, each with ``output_size``) that both sides have, in A's order, as
    NETWORK_COLUMNS records: each side's ``keys`` as ``a_KEY`` and ``b_KEY``, with the ratio and
    savings derived."""
    joined = []
    for name, ra in a_rows.items():
        rb = b_rows.get(name)
        if rb is None:
            continue
        record = {"row": name, "a_output": ra["output_size"], "b_output": rb["output_size"]}
        for key in keys:
            record[f"a_{key}"], record[f"b_{key}"] = ra[key], rb[key]
        record = _derived(record)
        joined.append({column: record.get(column) for column in NETWORK_COLUMNS})
    return joined


def join_merged(a_rows: dict, b_rows: dict, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """Both sides' rows (name -> record), where a row of one side merges rows of the other (an
    export's 'conv1+bn1+act1', the model's 'conv1', 'bn1', 'act1'), with those rows made one
    record under the merged name, in place of the first: ``keys`` summed, the last one's output."""
    def merged(mine: dict, theirs: dict) -> dict:
        out = dict(mine)
        for name in theirs:
            parts = name.split("+")
            if len(parts) < 2 or name in mine or not all(p in out for p in parts):
                continue
            record = {**out[parts[-1]], "row": name}
            for key in keys:
                values = [out[p].get(key) for p in parts]
                record[key] = None if None in values else sum(values)
            out = {(name if n == parts[0] else n): (record if n == parts[0] else r)
                   for n, r in out.items() if n not in parts[1:]}
        return out

    return merged(a_rows, b_rows), merged(b_rows, a_rows)


def output_values(output: str) -> list[int]:
    """An output size's dimensions without leading 1s: a spec's 1x1x20 and a model's 20 are the
    same output."""
    dims = [int(d) for d in output.split("x") if d.isdigit()] if output else []
    while dims and dims[0] == 1:
        dims.pop(0)
    return dims


def compare_networks_records(a: ArchSpec, b: ArchSpec, *, batch_size: int = 1,
                             verify: bool = False, labels: tuple[str, str] | None = None,
                             max_memory: int | None = None, latency=None) -> Records:
    """Both whole networks (inference, no aux heads), rows joined by name (every NETWORK_COLUMNS
    key in each row), totals and meta in ``attrs``; ``latency`` also times every row and both
    networks."""
    from .profile import profile_records

    _guard([dataclasses.replace(s, aux=()) for s in (a, b)], batch_size, verify, latency,
           max_memory)
    da, db = (profile_records(s, aux=False, batch_size=batch_size, verify=verify,
                              max_memory=max_memory, latency=latency) for s in (a, b))
    a_rows, b_rows = ({r["row"]: r for r in side.rows} for side in (da, db))
    rows = join_rows(a_rows, b_rows, ("params", "macs", "check_params", "check_macs",
                                      "latency_ms", "latency_unstable"))
    meta = {**_meta(a, b, batch_size, verify, "network", labels),
            "latency_env": da.attrs["meta"]["latency_env"],
            "only_in_a": [n for n in a_rows if n not in b_rows],
            "only_in_b": [n for n in b_rows if n not in a_rows]}
    totals = {"a_params": da.attrs["totals"]["params"], "b_params": db.attrs["totals"]["params"],
              "a_macs": da.attrs["totals"]["macs"], "b_macs": db.attrs["totals"]["macs"]}
    if verify:
        totals["check_agrees"] = bool(da.attrs["totals"]["check_agrees"]
                                       and db.attrs["totals"]["check_agrees"])
    if latency is not None:
        for side, frame in (("a", da), ("b", db)):
            network = frame.attrs["totals"]["latency"]["network"]
            totals[f"{side}_latency_ms"] = None if isinstance(network, str) else round(
                network["median_ms"], 4)
            totals[f"{side}_latency_unstable"] = None if isinstance(network, str) else \
                network["unstable"]
    return Records(NETWORK_COLUMNS, rows, {"meta": meta, "totals": _derived(totals)},
                   _int_columns(NETWORK_COLUMNS))


def diff_records(old: ArchSpec, new: ArchSpec,
                 labels: tuple[str, str] | None = None) -> Records:
    """compare_networks_records' rows whose params, MACs or output size differ between ``old`` and
    ``new`` (rows in one network only are named in meta), with the whole networks' totals; meta
    level 'diff'."""
    compared = compare_networks_records(old, new, labels=labels)
    rows = [r for r in compared.rows if (r["a_params"], r["a_macs"], r["a_output"])
            != (r["b_params"], r["b_macs"], r["b_output"])]
    attrs = {"meta": {**compared.attrs["meta"], "level": "diff"},
             "totals": compared.attrs["totals"]}
    return dataclasses.replace(compared, rows=rows, attrs=attrs)


def _meta(a: ArchSpec, b: ArchSpec, batch_size: int, verify: bool, level: str,
          labels: tuple[str, str] | None) -> dict:
    a_label, b_label = labels or (a.name, b.name)
    return {"a": a_label, "b": b_label, "a_spec": a.name, "b_spec": b.name, "a_title": a.title,
            "b_title": b.title, "level": level,
            "batch_size": batch_size,
            "verified": verify,
            "conventions": "params: all trainable parameters. MACs: conv and linear "
                           "multiply-accumulates (1 per multiply-add), for the whole batch, "
                           "inference (eval mode, no aux heads). A is the original, B the variant: "
                           "saved = 1 - B / A, what B saves relative to A (negative: B costs "
                           "more); ratio = A / B."}


def _sum_totals(rows: list[dict]) -> dict:
    """A module comparison's totals over its rows: counts, latency sums and unstable rows when
    timed, whether the cross-check agreed on every row when verified."""
    totals = {k: sum(r[k] for r in rows) for k in ("a_params", "b_params", "a_macs", "b_macs")}
    if any(r["a_latency_ms"] is not None for r in rows):
        totals.update({k: round(float(sum(r[k] for r in rows if r[k] is not None)), 4)
                       for k in ("a_latency_ms", "b_latency_ms")})
        for side in "ab":
            unstable = sum(r[f"{side}_latency_unstable"] is not None for r in rows)
            totals[f"{side}_latency_unstable"] = (f"{unstable} of {len(rows)} rows unstable"
                                                  if unstable else None)
    if any(r["a_check_params"] is not None for r in rows):
        totals["check_agrees"] = all(r[f"{s}_check_{k}"] == r[f"{s}_{k}"] for r in rows
                                      for s in "ab" for k in ("params", "macs"))
    return _derived(totals)
