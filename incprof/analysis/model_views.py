"""The views of a spec, on any model's captured rows (capture.rows) instead of an exported spec:
a sweep over input sizes or sequence lengths, a comparison or diff of two networks by row name at
one depth, activation memory per row, latency per row and for the whole model, throughput per
batch size. Any model works, whatever its ops and inputs; what a view cannot say about a model
(a receptive field) is stated, never guessed.

torch is imported inside the functions only.
"""

from __future__ import annotations

import dataclasses

from ..errors import UsageError, first_line
from ..records import Records
from .compare import NETWORK_COLUMNS, _derived, _int_columns, join_merged, join_rows, output_values

# A model sweep's columns: one row per example (an image side or a sequence length).
MODEL_SWEEP_COLUMNS = ["input", "valid", "reason", "params", "macs", "output", "not_counted",
                       "latency_ms", "latency_unstable"]
# Bytes per value of the activation dtypes.
BYTES = {"fp32": 4, "fp16": 2, "bf16": 2}


def sweep_model_records(model, examples: list, *, label: str, latency=None,
                        weights: str | None = None) -> Records:
    """One row per (name, Example) in ``examples``: params, MACs and the last row's output from the
    model's rows, or why the model refused that input (or, given as text for the Example, why
    there is none); ``latency`` (nn.latency.TimingOptions) also times the whole model on each."""
    from ..capture.rows import profile_model_records

    records, env = [], None
    for name, example in examples:
        record = {"input": name, "valid": True, **dict.fromkeys(MODEL_SWEEP_COLUMNS[2:])}
        if isinstance(example, str):
            record.update(valid=False, reason=example)
            records.append(record)
            continue
        try:
            profile = profile_model_records(model, label=label, example=example)
        except UsageError as exc:
            record.update(valid=False, reason=str(exc).split(": ", 1)[-1])
            records.append(record)
            continue
        totals = profile.attrs["totals"]
        record.update(params=totals["params"], macs=totals["macs"],
                      output=profile.rows[-1]["output_size"] if profile.rows else "",
                      not_counted=", ".join(f"{op} x {n}" for op, n in totals["not_counted"].items()))
        if latency is not None:
            stats, env = time_model(model, example, latency, weights=weights)
            record["latency_ms"] = stats if isinstance(stats, str) else round(stats.median_ms, 4)
            record["latency_unstable"] = None if isinstance(stats, str) else stats.unstable
        records.append(record)
    meta = {"model": label, "class": type(model).__name__, "latency_env": env}
    return Records(MODEL_SWEEP_COLUMNS, records, {"meta": meta}, ("params", "macs"))


def compare_profiles_records(a: Records, b: Records, labels: tuple[str, str]) -> Records:
    """Two model profiles (or a model's and a spec's), rows joined by name (an exported spec's
    merged row to the model's rows it merges: compare.join_merged), as
    compare.compare_networks_records lays them out (level 'network'); rows in one side only are
    named in meta."""
    a_rows, b_rows = join_merged(*({r["row"]: r for r in side.rows} for side in (a, b)),
                                 ("params", "macs"))
    rows = join_rows(a_rows, b_rows, ("params", "macs"))
    title = {side: p.attrs["meta"].get("title") or f"{p.attrs['meta']['class']} on "
             f"{p.attrs['meta']['inputs']}, rows at depth {p.attrs['meta']['depth']}"
             for side, p in (("a", a), ("b", b))}
    meta = {"a": labels[0], "b": labels[1], "a_spec": labels[0], "b_spec": labels[1],
            "a_title": title["a"], "b_title": title["b"], "level": "network",
            "batch_size": a.attrs["meta"].get("batch_size", 1), "verified": False,
            "conventions": "params: all trainable parameters. MACs: multiply-accumulates of every "
                           "op with a MAC rule (incprof.count.aten), for the whole batch, eval mode; "
                           "a model's rows are its modules at --depth, counted from its captured "
                           "graph. saved = 1 - B / A; ratio = A / B.",
            "latency_env": None,
            "only_in_a": [n for n in a_rows if n not in b_rows],
            "only_in_b": [n for n in b_rows if n not in a_rows]}
    totals = _derived({"a_params": a.attrs["totals"]["params"],
                       "b_params": b.attrs["totals"]["params"],
                       "a_macs": a.attrs["totals"]["macs"], "b_macs": b.attrs["totals"]["macs"]})
    return Records(NETWORK_COLUMNS, rows, {"meta": meta, "totals": totals},
                   _int_columns(NETWORK_COLUMNS))


def diff_profiles_records(old: Records, new: Records, labels: tuple[str, str]) -> Records:
    """compare_profiles_records' rows whose params, MACs or output differ (level 'diff')."""
    compared = compare_profiles_records(old, new, labels)
    rows = [r for r in compared.rows if (r["a_params"], r["a_macs"], output_values(r["a_output"]))
            != (r["b_params"], r["b_macs"], output_values(r["b_output"]))]
    attrs = {"meta": {**compared.attrs["meta"], "level": "diff"},
             "totals": compared.attrs["totals"]}
    return dataclasses.replace(compared, rows=rows, attrs=attrs)


def _moved(example, device, dtype):
    """The example on ``device``, its floating tensors cast to ``dtype`` (token ids stay ints)."""
    import torch

    def move(value):
        if isinstance(value, torch.Tensor):
            return value.to(device=device, dtype=dtype if value.is_floating_point() else None)
        return value

    return dataclasses.replace(example, args=tuple(move(v) for v in example.args),
                               kwargs={k: move(v) for k, v in example.kwargs.items()})


def time_model(model, example, options, rows: dict | None = None, weights: str | None = None,
               probe=None):
    """(the whole model's Stats, or why it could not be timed; the environment), timed on the
    example (its made-up values drawn: capture.inputs.for_timing) as nn.latency times a spec's
    network. With ``rows`` ({row name: module}), also each such module alone on the inputs it
    receives in the model, into ``rows`` (name -> Stats). ``weights`` says, in words, what the
    model's weights hold (capture.models.timed_weights), for the environment. ``probe(env)`` is
    called once the environment is known, before the model is cast to the timed dtype and
    device; on the CPU, where it is true, the speed probe is timed in every round too
    (``env["probe_ms"]``, as nn.latency.time_spec times it)."""
    import torch

    from ..capture.inputs import for_timing
    from ..nn.latency import DTYPES, busy, environment, marked, resolve_device, time_in_rounds
    from ..nn.probe import make_probe, probe_ms

    if options.dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, got {options.dtype!r}")
    if options.compile or options.channels_last:
        raise UsageError("--compile and --channels-last apply to a spec's network, not to a "
                         "--model's captured rows")
    device = resolve_device(options.device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[options.dtype]
    before = torch.get_num_threads()
    if options.threads:
        torch.set_num_threads(options.threads)
    try:
        env = environment(device, options, example.batch_size())
        env["dtype_method"] = "model and floating inputs cast to the dtype"
        example, env["inputs"] = for_timing(example)
        env["weights"] = weights
        probed = bool(probe and probe(env))
        model = model.eval().to(device=device, dtype=dtype)
        x = _moved(example, device, dtype)
        with torch.inference_mode():
            called = {}
            if rows:
                seen: dict = {}
                hooks = [module.register_forward_pre_hook(
                    lambda m, args, kwargs, name=name: seen.setdefault(name, (args, kwargs)),
                    with_kwargs=True) for name, module in rows.items()]
                try:
                    x.run(model)
                finally:
                    for hook in hooks:
                        hook.remove()
                for name, module in rows.items():
                    args, kwargs = seen.get(name, (None, None))
                    if args is None:
                        rows[name] = "never called"
                    else:
                        called[name] = lambda m=module, a=args, k=kwargs: m(*a, **k)

            def failed(exc: Exception) -> str | None:
                if not isinstance(exc, (RuntimeError, NotImplementedError)):
                    return None
                return first_line(exc)[:200]

            speed = make_probe(device, dtype) if probed and device.type == "cpu" else None
            samples: list[float] = []
            stats, figures = time_in_rounds(
                lambda: x.run(model), called, device, options,
                between=None if speed is None else lambda: samples.extend(speed()), failed=failed)
            env["probe_ms"] = probe_ms(samples)
            if called:
                rows.update(figures)
    finally:
        torch.set_num_threads(before)
    reason = busy(env)  # as nn.latency.time_spec marks a busy machine
    if reason:
        stats = marked(stats, options.min_repeats, reason)
        for name, row in (rows or {}).items():
            rows[name] = marked(row, options.min_repeats, reason)
    return stats, env


def bench_model_records(model, examples: list, options, *, label: str, macs: int,
                        advance=None, weights: str | None = None) -> Records:
    """nn.bench.bench_records' rows for a model: per (batch size, Example), the whole model's
    median and p10/p90 latency, examples/s and GMAC/s; ``macs`` is per example (batch 1)."""
    records, env = [], None
    for batch, example in examples:
        if advance:
            advance(f"timing batch {batch}")
        stats, env = time_model(model, example, options, weights=weights)
        record = {"batch_size": batch, "latency_ms": None, "p10_ms": None, "p90_ms": None,
                  "repeats": None, "unstable": None, "images_per_s": None, "gmacs_per_s": None,
                  "error": None}
        if isinstance(stats, str):
            record["error"] = stats
        else:
            seconds = stats.median_ms / 1000
            record.update(latency_ms=round(stats.median_ms, 4), p10_ms=round(stats.p10_ms, 4),
                          p90_ms=round(stats.p90_ms, 4), repeats=stats.repeats,
                          unstable=stats.unstable, images_per_s=round(batch / seconds, 2),
                          gmacs_per_s=round(batch * macs / seconds / 1e9, 3))
        records.append(record)
    return Records(list(records[0]), records, {"meta": {
        "arch": label, "title": label, "macs_per_image": macs,
        "env": {k: v for k, v in (env or {}).items() if k != "batch_size"}, "compile_s": None}})


def model_views(records: Records, model, example, *, columns=(), dtype: str = "fp32",
                latency=None, weights: str | None = None, predict: bool = False,
                device_profile: str | None = None) -> Records:
    """A model profile with the asked view columns added per row: ``memory`` (activations: the
    row's output values times the dtype's bytes, for the batch) and, with ``latency``, each row
    timed alone on its real inputs and the whole model (``attrs["latency"]``). With ``predict``,
    or with ``latency`` where a device profile is found (analysis.predicted.resolve_profile:
    ``device_profile``, else the one calibrated for the timed run), each row's latency predicted
    from the ops it runs (``_predict``). ``rf`` (a receptive field) cannot be read from a model's
    rows: ``attrs["not_shown"]`` says so in one line."""
    from .predicted import resolve_profile

    rows = [dict(r) for r in records.rows]
    extra, not_shown = [], []
    wanted = set(columns) if "all" not in columns else {"rf", "memory", "bottleneck"}
    if "memory" in wanted:
        extra.append("activation_bytes")
        for r in rows:
            values = 1
            for s in r["output_size"].split("x") if r["output_size"] not in ("", "scalar") else []:
                values *= int(s)
            r["activation_bytes"] = values * records.attrs["meta"]["batch_size"] * BYTES[dtype] \
                if r["output_size"] else None
    if "rf" in wanted:
        not_shown.append("rf: a receptive field is a spec's geometry (a chain of convs and pools); "
                         "a --model's rows have none to read (export the model to a spec for it)")
    if "bottleneck" in wanted:
        not_shown.append("bottleneck: applies to a spec's rows (export the model to a spec)")
    timing, stats, resolved, meta = None, None, {}, records.attrs["meta"]
    dtype = latency.dtype if latency is not None else dtype

    def record_ops() -> None:  # on the model as loaded: timing casts it to the timed dtype
        from ..capture.row_ops import row_ops

        resolved["ops"], _ = row_ops(model, example, meta["depth"], meta["model"])

    if predict and latency is None:  # the profile first: none found is an error before the pass
        resolved["profile"] = resolve_profile(device_profile, None, dtype)
        record_ops()
    if latency is not None:
        from .predicted import profile_probe

        named = dict(model.named_modules())
        modules = {r["row"]: named[r["row"]] for r in rows if r["row"] in named and r["calls"] == 1}
        # the ops recorded where a profile is found to price them with
        stats, env = time_model(model, example, latency, modules, weights,
                                profile_probe(device_profile, dtype, resolved, record_ops))
        extra += ["latency_ms", "latency_cpu_ms", "latency_unstable"]
        for r in rows:
            row = modules.get(r["row"])
            r["latency_ms"] = (None if row is None else row if isinstance(row, str) else
                               round(row.median_ms, 4))
            r["latency_cpu_ms"] = (None if row is None or isinstance(row, str) or row.cpu_ms is None
                                   else round(row.cpu_ms, 4))
            r["latency_unstable"] = None if row is None or isinstance(row, str) else row.unstable
        timing = {"network_ms": stats if isinstance(stats, str) else round(stats.median_ms, 4),
                  "network_cpu_ms": None if isinstance(stats, str) or stats.cpu_ms is None
                  else round(stats.cpu_ms, 4),
                  "network_unstable": None if isinstance(stats, str) else stats.unstable,
                  "env": env}
    totals = records.attrs["totals"]
    profile = resolved.get("profile")  # resolved above, or by the timing's probe
    if profile is not None:
        totals = {**totals, "prediction": _predict(rows, meta, resolved["ops"], profile, dtype,
                                                   timing and timing["env"], stats)}
        extra += ["predicted_ms", "predicted_bound", "predicted_error"]
    attrs = {**records.attrs, "totals": totals, "views": extra, "not_shown": not_shown,
             "latency": timing}
    return Records([*records.columns, *extra], rows, attrs)


def _predict(rows: list[dict], meta: dict, ops: dict, profile: dict, dtype: str,
             env: dict | None, stats) -> dict:
    """Each row's predicted latency from the ops it runs at inference (``ops``: capture.row_ops,
    priced by nn.predict_ops) added to ``rows``; the network's figures (analysis.predicted), with
    the ops no rule prices (``unpriced``: op -> calls) and, where the whole model was timed
    (``stats``), the network error."""
    from collections import Counter
    from dataclasses import asdict

    from ..nn.predict_ops import predict_model_rows
    from ..nn.profiles import maths_for
    from .predicted import join_predictions, network_accuracy

    maths = maths_for(profile, dtype, env and env.get("tf32"))
    costs, unpriced = predict_model_rows(ops, profile, maths, BYTES[dtype])
    prediction = join_predictions(rows, costs, profile, maths, meta["batch_size"], env,
                                  branches=False)
    prediction["unpriced"] = dict(sorted(sum(unpriced.values(), Counter()).items()))
    if stats is not None and not isinstance(stats, str):
        network_accuracy(prediction, asdict(stats), meta["batch_size"])
    return prediction
