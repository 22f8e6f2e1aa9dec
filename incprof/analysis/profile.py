"""Joins spec, analytic counts, the second count (incprof.nn.crosscheck) and the paper's printed figures
into rows, as Records."""

from __future__ import annotations


from ..count.analytic import MAX_BATCH, count_spec, macs_by_kind, sequence_counts
from ..count.geometry import BYTES, geometry
from ..records import Records
from ..spec.check import printed_mismatches
from ..spec.fields import Pair
from ..spec.model import FIGURE_SUFFIXES, FILTER_COLUMNS, ArchSpec, Row
from ..spec.registry import load
from ..spec.shapes import Placed, depth, format_shape
from ..units import BINARY, SI, at_precision, prints_as, read_printed

LATENCY_COLUMNS = ["latency_ms", "latency_p10_ms", "latency_p90_ms", "latency_repeats",
                   "latency_calls_per_repeat", "latency_unstable", "latency_error", "gmacs_per_s",
                   "bytes_moved", "macs_per_byte", "peak_fraction", "latency_cpu_ms", "predicted_ms",
                   "predicted_parallel_ms", "predicted_bound", "predicted_error"]
FLAG_THRESHOLD_PCT = 5.0
# v3 paper, section 2, principle 1: avoid representational bottlenecks; flag drops beyond this.
BOTTLENECK_FACTOR = 4.0
KIND_COLUMNS = {"1x1 conv": "macs_1x1", "n x n conv": "macs_nxn", "1 x n / n x 1 conv": "macs_1xn",
                "linear": "macs_linear"}

COLUMNS = ["row", "type", "patch", "output_size", "printed_output_size", "depth", *FILTER_COLUMNS,
           "params", "macs", "other_ops", "weights", "mac_outputs", "check_params", "check_macs",
           *KIND_COLUMNS.values(), "printed_params", "printed_ops", "paper_params", "paper_ops",
           "paper_params_delta_pct", "paper_ops_delta_pct", "flag", "reason", "alt_params",
           "alt_macs", "alt_params_delta_pct", "alt_ops_delta_pct", "rf_h", "rf_w", "jump_h",
           "jump_w", "activations", "activation_bytes",
           "peak_activation_bytes", "check_mac_outputs", "representation_ratio", "bottleneck",
           "aux", *LATENCY_COLUMNS]
INT_COLUMNS = ["depth", *FILTER_COLUMNS, "params", "macs", "other_ops", "weights", "mac_outputs",
               "check_params", "check_macs", *KIND_COLUMNS.values(), "paper_params", "paper_ops",
               "alt_params", "alt_macs", "rf_h", "rf_w", "jump_h", "jump_w", "activations",
               "activation_bytes", "peak_activation_bytes", "check_mac_outputs", "latency_repeats",
               "latency_calls_per_repeat", "bytes_moved"]

def conventions(batch_size: int, aux_heads: bool, paper_columns: bool) -> str:
    """The counting conventions of one profile, as a sentence block that says only what applies:
    the batch, the aux heads if the spec has any, the paper deltas if it prints figures."""
    text = ("params: all trainable parameters (conv/linear weights and biases, BatchNorm scale and "
            "shift). MACs: multiply-accumulates of conv and linear layers only (1 MAC = 1 "
            "multiply-add; fvcore's 'flops'), "
            + ("per image" if batch_size == 1 else f"for the whole batch of {batch_size}") +
            ". Pooling, LRN, ReLU, BN, softmax and residual sums are counted apart as other_ops. "
            "Counts are for inference (eval mode).")
    if aux_heads:
        text += " The aux heads run only in training; they are listed and totalled apart."
    if paper_columns:
        text += " Paper deltas are (printed / computed - 1), per image."
    return text


def profile_records(arch: str | ArchSpec = "googlenet", *, flavor: str = "paper",
                    aux: bool = True, input_size: Pair | None = None, batch_size: int = 1,
                    verify: bool = False, max_memory: int | None = None, dtype: str = "fp32",
                    bottleneck_factor: float = BOTTLENECK_FACTOR, latency=None,
                    progress=None, device_profile: str | None = None,
                    predict: bool = False) -> Records:
    """One row per table row (then aux heads), every COLUMNS key in each, with exact counts and
    the paper audit; no pandas (``.to_frame()`` gives a DataFrame).

    ``verify=True`` builds the network and counts every row again with torch's FlopCounterMode
    formulas on an empty batch (incprof.nn.crosscheck; needs torch, no arithmetic). ``latency`` (a
    latency.TimingOptions) times every row and the whole network (eval, no aux heads), unless its
    estimated memory exceeds ``max_memory`` bytes (default: half the available memory); its dtype
    then replaces ``dtype``, which sets the bytes of the memory columns. A row whose output is more
    than ``bottleneck_factor`` times smaller than the previous row's is flagged as a
    representational bottleneck. Each main row's latency is also predicted
    (incprof.analysis.predicted) with ``predict``, or with ``latency`` where a device profile is
    found: ``device_profile`` (a built-in name or a JSON file), else the calibrated one for the
    timed machine; the figures are in ``attrs["totals"]["prediction"]``. Totals and run metadata
    are in ``attrs["totals"]`` and ``attrs["meta"]``. ``progress(label)``, if given, is called as
    each slow step starts.
    """
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch size must be from 1 to {MAX_BATCH}, got {batch_size}")
    dtype = latency.dtype if latency is not None else dtype
    if dtype not in BYTES:
        raise ValueError(f"dtype must be one of {', '.join(BYTES)}, got {dtype!r}")
    size = BYTES[dtype]
    spec = load(arch, flavor, aux)
    native = input_size is None or tuple(input_size) == spec.input[1:]
    run_hw = tuple(input_size or spec.input[1:])
    # The paper's printed figures describe the paper's network at the paper's input size.
    paper_apart = (f"input {run_hw[0]}x{run_hw[1]}" if not native else
                   f"flavour {flavor}" if flavor != "paper" else None)
    counted = count_spec(spec, input_size, batch_size)
    shapes = geometry(spec, input_size)
    measured = None
    if verify:
        from ..nn.crosscheck import measure

        if progress:
            progress("counting with FlopCounterMode's formulas on an empty batch")
        measured = measure(spec, input_size, batch_size)
    timings = None
    resolved: dict[str, dict | None] = {}  # the device profile a timed run resolved, read once
    if latency is not None:
        from ..nn.latency import time_spec
        from .predicted import profile_probe

        timings = time_spec(spec, input_size, batch_size, latency, progress, max_memory,
                            probe=profile_probe(device_profile, dtype, resolved))
    items = {**{r.name: r for r in spec.rows}, **{h.name: h for h in spec.aux}}
    records = []
    for rc in counted:
        p, c, item = rc.placed, rc.counts, items[rc.placed.name]
        row = item if isinstance(item, Row) else None
        record = {
            "row": p.name, "type": row.type if row else "aux head",
            "patch": row.printed.patch if row else None, "output_size": format_shape(p.out_shape),
            "depth": depth(p.layers), **{f: (row.filters.get(f) if row else None)
                                          for f in FILTER_COLUMNS},
            "params": c.params, "macs": c.macs * batch_size, "other_ops": c.other_ops * batch_size,
            "weights": c.weights, "mac_outputs": c.mac_outputs * batch_size,
            "check_params": measured[p.name].params if measured else None,
            "check_macs": measured[p.name].macs if measured else None,
            "aux": p.is_aux,
        }
        g = shapes[p.name]
        record.update({
            "rf_h": g.field.size[0], "rf_w": g.field.size[1], "jump_h": g.field.jump[0],
            "jump_w": g.field.jump[1], "activations": g.output_elements * batch_size,
            "activation_bytes": g.output_elements * batch_size * size,
            "peak_activation_bytes": g.peak_elements * batch_size * size,
            "check_mac_outputs": measured[p.name].activations if measured else None,
            "representation_ratio": g.representation_ratio,
            "bottleneck": bool(g.representation_ratio is not None
                               and g.representation_ratio > bottleneck_factor)})
        by_kind = macs_by_kind(p.layers, p.in_shape)
        record.update({column: by_kind.get(kind, 0) * batch_size
                       for kind, column in KIND_COLUMNS.items()})
        record.update(_audit(row, c.params, c.macs, p, paper_apart is None, spec.paper_units))
        records.append(record)
    if timings is not None:
        _add_latency(records, timings, counted, size, batch_size)
    prediction = None
    if predict or timings is not None:
        from .predicted import add_predictions, network_accuracy, resolve_profile

        env = timings.env if timings else None
        device = (resolved["profile"] if "profile" in resolved else  # not probed on CUDA
                  resolve_profile(device_profile, env, dtype))
        if device is not None:
            prediction = add_predictions(records, [rc.placed for rc in counted], device, dtype,
                                         size, batch_size, env)
            if timings is not None:
                network_accuracy(prediction, timings.as_dict()["network"], batch_size)
    rows = [{column: record.get(column) for column in COLUMNS} for record in records]
    totals = _totals(rows, spec, measured, flavor, batch_size, timings, run_hw)
    totals["prediction"] = prediction
    meta = {
        "arch": spec.name, "title": spec.title, "source": spec.source, "flavor": flavor,
        "input": [spec.input[0], *(input_size or spec.input[1:])], "batch_size": batch_size,
        "dtype": dtype, "bottleneck_factor": bottleneck_factor,
        "latency_env": timings.env if timings else None,
        "aux_heads": {h.name: h.after for h in spec.aux}, "verified": verify,
        "paper_figures_apply": paper_apart is None,
        "paper_figures_not_comparable": paper_apart,
        "conventions": conventions(batch_size, bool(spec.aux), paper_apart is None and any(
            r.printed.params_value is not None or r.printed.ops_value is not None
            for r in spec.rows)),
    }
    return Records(COLUMNS, rows, {"totals": totals, "meta": meta}, tuple(INT_COLUMNS))


def check_budgets(totals: dict, max_params: int | None = None,
                  max_macs: int | None = None) -> list[dict]:
    """Each budget given against a profile's totals, as {"what", "figure", "limit", "excess"};
    a positive excess is over budget."""
    return [{"what": what, "figure": totals[key], "limit": limit, "excess": totals[key] - limit}
            for what, key, limit in (("params", "params", max_params), ("MACs", "macs", max_macs))
            if limit is not None]


def _delta(printed: int | None, computed: int) -> float | None:
    if printed is None or computed == 0:
        return None
    return round((printed / computed - 1) * 100, 1) + 0.0  # + 0.0 turns -0.0 into 0.0


def _figure(printed: str):
    """A printed column's figure: '2.7K', '34M', '2712' (any letter as its suffix)."""
    from string import ascii_letters

    return read_printed(printed, ascii_letters)


def _against_printed(value: int, printed: str, printed_value: int, scale_of: dict) -> str:
    """One computed figure against one printed figure: the delta, and whether it rounds to the
    printed figure in the spec's unit (and, if not, in the suffix's other reading)."""
    figure = _figure(printed)
    suffix = figure.suffix
    scale = scale_of.get(suffix, 1)
    unit = f" with {suffix} = {scale:,}" if suffix else ""
    text = (f"{_delta(printed_value, value):+.1f}%: {value:,} is {value / scale:.3f}{suffix}{unit}, "
            f"{at_precision(value, figure, scale)}{suffix} at the printed precision")
    if prints_as(value, figure, scale):
        return text + ", as printed"
    others = [reading[suffix] for reading in (SI, BINARY) if suffix in reading
              and reading[suffix] != scale and prints_as(value, figure, reading[suffix])]
    return text + f", not the printed {printed}" + (
        f" (it is {printed} only with {suffix} = {others[0]:,})" if others else "")


def _printed_product(row: Row, placed: Placed, scale_of: dict) -> str | None:
    """Whether the printed params times the output area give the printed ops, at the printed
    precision (as they do for a row of convs that all run at the output size)."""
    p = row.printed
    if p.params_value is None or p.ops_value is None:
        return None
    h, w = placed.out_shape[1:]
    product = p.params_value * h * w
    figure = _figure(p.ops)
    scale = scale_of.get(figure.suffix, 1)
    return (f"The printed params times the output area ({p.params_value:,} x {h}x{w} = "
            f"{product:,}) is {at_precision(product, figure, scale)}{figure.suffix} at the printed "
            f"precision of ops, {'the same as' if prints_as(product, figure, scale) else 'not'} "
            f"the printed {p.ops}.")


def _audit(row: Row | None, params: int, macs: int, placed: Placed, native: bool,
           units: dict) -> dict:
    """The paper's printed params/ops beside ours, the flag, its reason and any alternative."""
    out = {"printed_output_size": None, "printed_params": None, "printed_ops": None,
           "paper_params": None, "paper_ops": None,
           "paper_params_delta_pct": None,
           "paper_ops_delta_pct": None, "flag": None, "reason": None, "alt_params": None,
           "alt_macs": None, "alt_params_delta_pct": None, "alt_ops_delta_pct": None}
    if row is None:
        return out
    out["printed_output_size"] = row.printed.output_size
    out["printed_params"], out["printed_ops"] = row.printed.params, row.printed.ops
    out["paper_params"] = row.printed.params_value
    if native:
        out["paper_ops"] = row.printed.ops_value
        out["paper_params_delta_pct"] = _delta(row.printed.params_value, params)
        out["paper_ops_delta_pct"] = _delta(row.printed.ops_value, macs)
        if row.alternative:
            alt = sequence_counts(row.alternative.layers, placed.in_shape)
            out["alt_params"], out["alt_macs"] = alt.params, alt.macs
            out["alt_params_delta_pct"] = _delta(row.printed.params_value, alt.params)
            out["alt_ops_delta_pct"] = _delta(row.printed.ops_value, alt.macs)
    off = [name for name, key in (("params", "paper_params_delta_pct"),
                                  ("ops", "paper_ops_delta_pct"))
           if out[key] is not None and abs(out[key]) > FLAG_THRESHOLD_PCT]
    mismatches = printed_mismatches(row, placed) if native else []
    if mismatches:
        out["flag"], out["reason"] = "; ".join(mismatches), row.deviation
    elif off:
        out["flag"] = " and ".join(off) + f" off by more than {FLAG_THRESHOLD_PCT:g}%"
        out["reason"] = row.note or "No known explanation."
        product = _printed_product(row, placed, units.get("ops", {}))
        if product:
            out["reason"] += " " + product
        if row.alternative:
            out["reason"] += (f" Computed alternative, {row.alternative.note}: "
                              f"{out['alt_params']:,} params, {out['alt_macs']:,} MACs.")
            against = [f"{what} {_against_printed(value, text, printed, units.get(what, {}))}"
                       for what, value, text, printed in (
                           ("params", out["alt_params"], row.printed.params,
                            row.printed.params_value),
                           ("ops", out["alt_macs"], row.printed.ops, row.printed.ops_value))
                       if text is not None and value]
            if against:
                out["reason"] += (" Against the printed figures (printed / alternative - 1): "
                                  + "; ".join(against) + ".")
    return out


def _add_latency(records: list[dict], timings, counted, size: int, batch_size: int) -> None:
    """Latency, achieved MAC/s, bytes moved, arithmetic intensity and peak fraction per row (over
    the peak of the math the row runs: the linear one for a row of linear layers only)."""
    from ..nn.latency import Stats

    peaks = timings.env["peak"]
    counts = {rc.placed.name: rc for rc in counted}
    for record in records:
        stats = timings.rows.get(record["row"])
        rc = counts[record["row"]]
        c, h, w = rc.placed.in_shape
        moved = (c * h * w * batch_size + record["activations"]) * size + record["params"] * size
        record.update(bytes_moved=moved, macs_per_byte=round(record["macs"] / moved, 3))
        if isinstance(stats, Stats):
            rate = record["macs"] / (stats.median_ms / 1000) if stats.median_ms > 0 else None
            linear = record["macs"] > 0 and record["macs_linear"] == record["macs"]
            peak = peaks and peaks["linear" if linear else "conv"]
            record.update(latency_cpu_ms=None if stats.cpu_ms is None else round(stats.cpu_ms, 4),
                          latency_ms=round(stats.median_ms, 4), latency_p10_ms=round(stats.p10_ms, 4),
                          latency_p90_ms=round(stats.p90_ms, 4), latency_repeats=stats.repeats,
                          latency_calls_per_repeat=stats.calls_per_repeat,
                          latency_unstable=stats.unstable,
                          gmacs_per_s=None if rate is None else round(rate / 1e9, 3),
                          peak_fraction=None if not (peak and rate) else
                          round(rate / peak["macs_per_s"], 4))
        elif stats is not None:
            record["latency_error"] = stats


def _published(entry, totals_params: int, macs: int, spec: ArchSpec, run_hw: Pair) -> dict:
    """A published figure beside ours: params exactly, MACs at the printed precision, and only
    where it applies: at the input size it was published for, and for params with its aux setting
    (the flavour is matched by the caller). Elsewhere ``params_not_comparable`` or
    ``macs_not_comparable`` says why and the verdict is None."""
    published_hw = tuple(entry.input or spec.input[1:])
    out = {"source": entry.source, "aux": entry.aux, "params": entry.params, "macs": entry.macs,
           "input": list(published_hw), "params_matches": None, "macs_matches": None,
           "params_not_comparable": None, "macs_not_comparable": None}
    apart = None
    if run_hw != published_hw:
        apart = (f"input {run_hw[0]}x{run_hw[1]}, published for "
                 f"{published_hw[0]}x{published_hw[1]}")
    if entry.params is not None:
        out["params_not_comparable"] = apart or (
            "published with aux heads, counted here without" if entry.aux and not spec.aux
            else None)
        if out["params_not_comparable"] is None:
            out["params_matches"] = entry.params == totals_params
    if entry.macs is not None:  # inference MACs: the aux heads do not run
        out["macs_not_comparable"] = apart
        if apart is None:
            out["macs_matches"] = prints_as(macs, read_printed(entry.macs, FIGURE_SUFFIXES))
    return out


def _latency_totals(main: list[dict], timings) -> dict | None:
    if timings is None:
        return None
    plain = timings.as_dict()
    network = plain["network"]
    model = max(r["peak_activation_bytes"] for r in main)
    measured = plain["measured_peak_bytes"]
    return {"sum_of_rows_ms": round(float(sum(r["latency_ms"] or 0 for r in main)), 4),
            "network": network, "compile_s": plain["compile_s"],
            "unstable": [*(r["row"] for r in main if r["latency_unstable"] is not None),
                         *(["network"] if isinstance(network, dict) and network["unstable"]
                           else [])],
            "measured_peak_bytes": measured,
            "measured_over_model_peak": None if measured is None or model == 0 else
            round(measured / model, 2)}


def _sum(rows: list[dict], column: str) -> int | None:
    """The sum of a column's values, None when every one is missing."""
    values = [r[column] for r in rows if r[column] is not None]
    return sum(values) if values else None


def _totals(rows: list[dict], spec: ArchSpec, measured, flavor: str, batch_size: int,
            timings, run_hw: Pair) -> dict:
    main = [r for r in rows if not r["aux"]]
    params, macs = sum(r["params"] for r in main), sum(r["macs"] for r in main)
    params_with_aux = sum(r["params"] for r in rows)
    totals = {
        "params": params, "macs": macs, "other_ops": sum(r["other_ops"] for r in main),
        "peak_activation_bytes": max(r["peak_activation_bytes"] for r in main),
        "receptive_field": [main[-1]["rf_h"], main[-1]["rf_w"]],
        "bottlenecks": [r["row"] for r in main if r["bottleneck"]],
        "params_with_aux": params_with_aux, "macs_with_aux": sum(r["macs"] for r in rows),
        "depth": sum(r["depth"] for r in main), "paper_depth": spec.paper_depth,
        "paper_params_sum": _sum(main, "paper_params"),
        "paper_ops_sum": _sum(main, "paper_ops"),
        "check_agrees": None, "check_zero_ops": None if measured is None else measured.skipped,
        "latency": _latency_totals(main, timings),
        "published": [_published(p, totals_params=params_with_aux if p.aux else params,
                                 macs=macs // max(1, batch_size), spec=spec, run_hw=run_hw)
                      for p in spec.published if p.flavor == flavor],
    }
    if measured is not None:
        totals["check_agrees"] = all(r["params"] == r["check_params"]
                                      and r["macs"] == r["check_macs"] for r in rows)
        totals["check_mac_outputs_agree"] = all(r["check_mac_outputs"] == r["mac_outputs"]
                                                 for r in rows)
    return totals
