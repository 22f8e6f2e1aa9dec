"""Runs of the built network and checks of the papers as Grids: throughput per batch size
(incprof.nn.bench), the peer counters and published figures refereed (incprof.referee.conventions), and the
papers' claims checked (incprof.analysis.claims)."""

from __future__ import annotations

from ..records import Records
from ..units import cpu_threads
from .grid import Grid, conditions, ms_cell, unstable_note


def bench_grid(records: Records) -> Grid:
    """A batch-size benchmark (see incprof.nn.bench) as a Grid; all of it is machine-dependent."""
    meta, env = records.attrs["meta"], records.attrs["meta"]["env"]
    rows = [[str(r["batch_size"]), ms_cell(r["latency_ms"], r["unstable"]),
             "" if r["p10_ms"] is None else f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}",
             "" if r["images_per_s"] is None else f"{r['images_per_s']:,.1f}",
             "" if r["gmacs_per_s"] is None else f"{r['gmacs_per_s']:.1f}", r["error"] or ""]
            for r in records.rows]
    return Grid(
        f"{meta['title']}: throughput by batch size",
        [("batch", "right"), ("latency ms", "right"), ("p10-p90 ms", "right"),
         ("images/s", "right"), ("GMAC/s", "right"), ("error", "left")], rows, wrap=(5,),
        summary=[f"MACHINE-DEPENDENT: {env['device']} ({env['device_type']}), torch "
                 f"{env['torch']}, CUDA {env['cuda'] or '-'}, cuDNN {env['cudnn'] or '-'}, "
                 f"{env['dtype']} ({env['dtype_method']}), {env['memory_format']}, "
                 + cpu_threads(env['threads']) + (", torch.compile" if env["compile"] else "")
                 + conditions(env) + ".", unstable_note(env),
                 f"Whole network in eval mode (no aux heads), {meta['macs_per_image']:,} MACs per "
                 "image; median of adaptive repeats after warm-up."])


def prediction_cells(r: dict, timed: bool) -> list[str]:
    """A profile row's predicted latency, what bounds it, and (where it was timed) the error,
    predicted / measured - 1."""
    if r["predicted_ms"] is None:
        return ["", "", *([""] * timed)]
    error = r["predicted_error"]
    return [f"{r['predicted_ms']:.3f}", r["predicted_bound"],
            *([("" if error is None else f"{error:+.0%}")] if timed else [])]


def profile_named(records: Records) -> tuple[list[str], list[dict]]:
    """The columns and rows of a profile for CSV: with a prediction, each predicted row names its
    profile in ``predicted_profile`` (UNCALIBRATED for a datasheet's)."""
    prediction = records.attrs["totals"].get("prediction")
    if prediction is None:
        return list(records.columns), list(records.rows)
    return [*records.columns, "predicted_profile"], [
        {**r, "predicted_profile": prediction["profile"] if r.get("predicted_ms") is not None
         else None} for r in records.rows]


def one_image(meta: dict) -> bool:
    """Whether a profile's example is one image per batch element: a spec's always; a model's
    where its one input is N x C x H x W (not token ids, not several inputs)."""
    if "inputs" not in meta:
        return True
    shape, inputs = meta["input"], meta["inputs"]
    return len(shape) == 4 and inputs in ("", "x".join(map(str, shape)))


def _share(value) -> str:
    return "-" if value is None else f"{value:.0%}"


def prediction_lines(records: Records) -> list[str]:
    """The prediction's summary: the profile (marked UNCALIBRATED for a datasheet's), the
    network's predicted time and error, the rows' accuracy, and the ceilings."""
    p = records.attrs["totals"].get("prediction")
    if p is None:
        return []
    c, batch = p["ceilings"], records.attrs["meta"]["batch_size"]
    source = p["source"].rstrip(".")
    parallel = p["network_parallel_ms"]
    lines = [f"PREDICTED with {p['profile']} ({source}; convs {p['maths'][0]}, linear layers "
             f"{p['maths'][1]}): each row a roofline per kernel (the longer of compute at the "
             "profile's rate and memory at its bandwidth) plus a per-kernel overhead; "
             + ("branches run one after another" if parallel is not None else
                "each row's kernels read from the ops it runs at inference, one after another")
             + f". Network {p['network_ms']:.3f} ms"
             + ("" if parallel is None else f" (branches side by side: {parallel:.3f} ms)")
             + f" at batch {batch}, of which "
             f"{p['in_network_ms']:.3f} ms for writing the rows' new outputs into memory out of "
             "the caches (a row timed alone writes into the buffer it has just freed)."
             + _speed(p)]
    if p.get("unpriced"):
        lines.append("NOT PRICED (no rule; the prediction leaves them out): " + ", ".join(
            f"{op} x {n}" for op, n in p["unpriced"].items()) + ".")
    per_s = "images/s" if one_image(records.attrs["meta"]) else "examples/s"
    lines.append(f"Ceilings ({per_s}, no overhead): compute-bound "
                 f"{c['compute_images_per_s'] or '-'}, memory-bound {c['memory_images_per_s'] or '-'}, "
                 f"roofline {c['roofline_images_per_s'] or '-'}"
                 + (f"; measured {p['measured_images_per_s']} {per_s}, {_share(p['of_roofline'])} "
                    "of the roofline." if p.get("measured_images_per_s") else "."))
    if "rows" in p:
        line = (f"Prediction against the wall-clock medians: network error "
                f"{_pct(p.get('network_error'))}, median absolute row error "
                f"{_share(p['median_abs_row_error'])}, rows within ±10% {_share(p['within_10'])}, "
                f"within ±25% {_share(p['within_25'])} ({p['rows']} rows)")
        if "cpu_rows" in p:
            line += (f"; against the CPU time of each repeat (what a busy machine does not "
                     f"stretch): network {_pct(p.get('cpu_network_error'))}, median absolute "
                     f"{_share(p['cpu_median_abs_row_error'])}, within ±10% "
                     f"{_share(p['cpu_within_10'])}, within ±25% {_share(p['cpu_within_25'])}")
        lines.append(line + ". error = predicted / measured - 1.")
    return lines


def _speed(p: dict) -> str:
    """Whether the prediction was scaled by the machine's speed in the run (incprof.nn.probe)."""
    if p.get("speed_factor") is not None:
        return (f" Scaled by the machine's speed in this run: {p['speed_note']}, x"
                f"{p['speed_factor']:.3f} (at calibration's speed: "
                f"{p['network_ms_at_calibration']:.3f} ms).")
    if p.get("speed_note") is None:  # nothing was timed
        return ""
    return f" Not scaled by the machine's speed: {p['speed_note']}."


def _pct(value) -> str:
    return "-" if value is None else f"{value:+.1%}"


def referee_grid(result: dict) -> Grid:
    """An ``incprof.referee.referee.referee`` result as a Grid: each peer's total beside incprof's
    prediction for its conventions, and the residuals, as exact integers."""
    from ..referee.peers import DESCRIPTIONS

    meta = result["meta"]

    def cell(value) -> str:
        return "" if value is None else f"{value:,}"

    def residual(value) -> str:
        return "" if value is None else f"{value:+,}" if value else "0"

    rows = []
    for t in result["tools"]:
        if not t["installed"]:
            rows.append([t["tool"], "", t["unit"], "not installed", "", "", "", "", "", ""])
            continue
        if t.get("failed"):
            rows.append([t["tool"], t["version"] or "", t["unit"], f"failed: {t['failed']}", "",
                         "", "", "", "", ""])
            continue
        where = t["residual_from"]
        rows.append([t["tool"], t["version"] or "", t["unit"], cell(t["reported"]),
                     cell(t["predicted"]),
                     residual(t["residual"]), cell(t["params_reported"]),
                     cell(t["params_predicted"]), residual(t["params_residual"]),
                     "" if not where else where if isinstance(where, str) else
                     ", ".join(f"{k} {v:+,}" for k, v in where.items())])
    ran = [t for t in result["tools"] if t["installed"] and not t.get("failed")]
    failed = [t["tool"] for t in result["tools"] if t.get("failed")]
    zero = all(t["residual"] == 0 and not t["params_residual"] for t in ran)
    return Grid(
        f"{meta['title']}: peer counters refereed ("
        f"{'model' if meta['flavor'] is None else meta['flavor'] + ' flavour'}, " + (
            f"inputs {meta['inputs']})" if meta.get("inputs") else
            f"input {'x'.join(map(str, meta['input']))}, batch {meta['batch_size']})"),
        [("tool", "left"), ("version", "left"), ("unit", "left"), ("reported", "right"),
         ("predicted", "right"),
         ("residual", "right"), ("params reported", "right"), ("params predicted", "right"),
         ("params residual", "right"), ("residual from", "left")], rows,
        notes=[f"{tool}: {text}." for tool, text in DESCRIPTIONS.items()],
        summary=[*([f"Failed on this model (the peer raised; the others ran): "
                    f"{', '.join(failed)}."] if failed else []),
                 (f"Every installed peer's total that ran ({len(ran)} of "
                  f"{len(result['tools'])}) is predicted to the unit." if zero else
                  "A residual is NOT zero: the tool counts something its convention here does "
                  "not describe (see 'residual from').")],
        conventions=("Predicted: incprof's own per-op counts (conv and linear MACs, bias adds, "
                     "BatchNorm, pooling, ReLU, softmax, LRN) under each tool's conventions, for "
                     "the whole batch; residual = reported - predicted. " + (
                     "The model runs in eval mode on zero inputs; its ops are recorded in eager "
                     "runs with autograd on or off and forward hooks on its modules or none, as "
                     "each peer runs it."
                     if meta["flavor"] is None else
                     "The network is built in eval mode on a zero input" + (
                         ", with its aux heads: they do not run, and only the parameter totals "
                         "that count every module hold them." if meta["aux"] else "."))))


def figures_grid(figures: list[dict], title: str) -> Grid:
    """Published figures refereed (``incprof.referee.published.referee_figures``) as a Grid."""
    rows = [[f["arch"], f["source"], f["figure"], f["value"], f["flavor"],
             f"{f['input'][0]}x{f['input'][1]}", f["stated"] or "", f["verdict"]]
            for f in figures]
    return Grid(title, [("arch", "left"), ("source", "left"), ("figure", "left"),
                        ("value", "right"), ("flavour", "left"), ("input", "right"),
                        ("stated convention", "left"), ("verdict", "left")], rows,
                summary=["A figure fits a convention when that convention's exact count, per "
                         "image, rounds half up to the printed value at its printed precision. "
                         "A figure that fits none is FLAGGED with the nearest convention and how "
                         "far the figure is from it."])


def claims_grid(title: str, claims: list[dict]) -> Grid:
    """The claims of ``incprof.analysis.claims.check_claims`` as a table: what the paper prints, what the
    counts give at that precision (and exactly), the rule, the verdict and the build it judged."""
    def measured(c: dict) -> str:
        if c["computed"] is None:
            return ""
        exact = f"{c['computed']:,}" if isinstance(c["computed"], int) else f"{c['computed']:.3f}"
        return f"{c['shown']} ({exact})" + (f"; {c['detail']}" if c.get("detail") else "")

    return Grid(title, [("claim", "left"), ("where", "left"), ("printed", "right"),
                               ("measured", "right"), ("rule", "left"), ("verdict", "left"),
                               ("judged on", "left")],
                       [[c["claim"], c["source"], c["printed"], measured(c), c["rule"],
                         c["verdict"], c.get("build") or ""] for c in claims],
                       summary=["Counts per image at the input size of the build judged, without "
                                "aux heads unless the claim says so; a ratio (x) or change (%) is "
                                "this network's figure over the other's; MACs are conv and linear "
                                "multiply-accumulates; a share is of the network's conv and linear "
                                "MACs, or of its weights and biases."])


def ladder_grid(rows: list[dict]) -> Grid:
    """The v3 paper's Table 3 cost column (incprof.analysis.papers.ladder_records): each row on
    every build that stands for it."""
    return Grid("Rethinking the Inception Architecture (arXiv:1512.00567), Table 3: cost column",
                [("Table 3 row", "left"), ("printed", "right"), ("measured", "right"),
                 ("verdict", "left"), ("judged on", "left")],
                [[r["row"] + (f" ({r['reading']})" if r["reading"] else ""), r["printed"],
                  f"{r['shown']} ({r['computed']:,})", r["verdict"], r["build"]] for r in rows],
                summary=["Bn ops read as conv and linear MACs per image, at each build's own input "
                         "size, compared at the printed precision (rounded half up)."])


def step_grid(step: dict) -> Grid:
    """The "Factorized 7x7" step on pairs of builds (incprof.analysis.papers.factorized_step)."""
    return Grid(f"Factorized 7x7: {step['printed_before']} -> {step['printed_after']} "
                f"(a step of {step['printed_step']}, ratio {step['printed_ratio']:.3f})",
                [("Inception-v2 build", "left"), ("MACs", "right"), ("7x7 conv", "right"),
                 ("Inception-v3 build", "left"), ("MACs", "right"), ("three 3x3 convs", "right"),
                 ("step", "right"), ("ratio", "right"), ("verdict", "left")],
                [[p["v2"], f"{p['macs_v2']:,}", f"{p['stem_v2']:,}", p["v3"], f"{p['macs_v3']:,}",
                  f"{p['stem_v3']:,}", f"{p['step']:,}", f"{p['ratio']:.3f}", p["verdict"]]
                 for p in step["pairs"]],
                summary=[f"step = Inception-v3 MACs - Inception-v2 MACs, judged against the printed "
                         f"{step['printed_step']} at its precision; ratio = v3 / v2."])


def fields_grid(rows: list[dict]) -> Grid:
    """Receptive fields against TF-slim's published table (incprof.analysis.papers)."""
    return Grid("Receptive fields against TF-slim's table",
                [("arch", "left"), ("end point (claim)", "left"), ("row", "left"),
                 ("TF-slim", "right"), ("incprof", "right"), ("verdict", "left")],
                [[r["arch"], r["claim"], r["row"], r["printed"], str(r["computed"]), r["verdict"]]
                 for r in rows],
                summary=["Source: google-research/receptive_field, "
                         "receptive_field/RECEPTIVE_FIELD_TABLE.md (computed on the TF-slim "
                         "models; commit f12ae8e); TF-slim's inception_v2 is BN-Inception. "
                         "incprof's field is in input pixels on a side, at the row's output."])
