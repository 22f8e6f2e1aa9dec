"""Predicted latency beside measured: each row's roofline prediction (incprof.nn.predict) joined to
its profile rows, its error against the measured time, the network's accuracy figures, and the
compute- and memory-bound ceilings in images/s."""

from __future__ import annotations

import statistics

# A prediction is within a band when |predicted / measured - 1| is at most this.
BANDS = (0.10, 0.25)


def resolve_profile(ref: str | None, env: dict | None, dtype: str) -> dict | None:
    """The device profile to predict with: ``ref`` (a built-in name or a JSON file) if given;
    else the calibrated profile in the cache for the timed run's device, thread count, dtype and
    torch version (None where there is none); else, with nothing timed, the one for this CPU at
    one thread (a UsageError where there is none)."""
    from ..errors import UsageError
    from ..nn.machine import cpu_name
    from ..nn.profiles import builtin_names, cached_profile, installed_torch, load_profile

    if ref is not None:
        return load_profile(ref)
    if env is not None:
        return cached_profile(env["device"], env["threads"], dtype, env["torch"])
    found = cached_profile(cpu_name(), 1, dtype, installed_torch())
    if found is None:
        raise UsageError(f"--predict: no calibrated {dtype} profile for this CPU at one thread; "
                         "run 'incprof calibrate --device cpu --threads 1' or give "
                         f"--device-profile ({', '.join(builtin_names())} or a JSON file)")
    return found


def profile_probe(ref: str | None, dtype: str, resolved: dict, found=None):
    """The ``probe`` callback of a timing that a prediction follows (nn.latency.time_spec's,
    analysis.model_views.time_model's): given the timed run's environment it resolves the device
    profile (resolve_profile) into ``resolved["profile"]``, kept for the prediction, calls
    ``found()`` where there is one, and says whether the speed probe is to be timed beside the
    run: where the profile has a probe time to set it against (incprof.nn.probe)."""
    from ..nn.probe import incomparable

    def probe(env: dict) -> bool:
        resolved["profile"] = resolve_profile(ref, env, dtype)
        if found is not None and resolved["profile"] is not None:
            found()
        return incomparable(resolved["profile"], env) is None

    return probe


def _error(predicted: float, measured: float | None) -> float | None:
    return None if not measured else round(predicted / measured - 1, 4)


def add_predictions(records: list[dict], placed, profile: dict, dtype: str, value_bytes: int,
                    batch_size: int, env: dict | None) -> dict:
    """Add each main row's prediction (nn.predict.predict_rows) to ``records`` and return the
    network's figures: see join_predictions."""
    from ..nn.predict import predict_rows
    from ..nn.profiles import maths_for

    maths = maths_for(profile, dtype, env and env.get("tf32"))
    main = [p for p in placed if not p.is_aux]
    return join_predictions(records, predict_rows(main, profile, maths, value_bytes, batch_size),
                            profile, maths, batch_size, env)


def join_predictions(records: list[dict], costs: dict, profile: dict, maths: tuple[str, str],
                     batch_size: int, env: dict | None, branches: bool = True) -> dict:
    """Add each row's predicted_ms, predicted_parallel_ms, predicted_bound and predicted_error
    (predicted / measured - 1, where a row was timed) from ``costs`` (row name -> nn.predict.Cost)
    to ``records``; return the network's figures (see accuracy and ceilings): the network as
    every cost in ``costs`` plus what they add within a pass (network_s); with ``branches``
    False (a model's rows, read from its ops) no parallel bound. Where the run timed the speed
    probe on the profile's own device, thread count and dtype, every predicted time is the
    profile's scaled by the machine's speed in the run against its speed at calibration
    (incprof.nn.probe.speed_factor; ``speed_factor`` and ``network_ms_at_calibration`` in the
    result), and so are the ceilings; else they are the profile's as they stand."""
    from ..nn.predict import Cost
    from ..nn.probe import speed_factor
    from ..nn.profiles import label

    factor, speed_note = speed_factor(profile, env)
    scale = 1000 * (factor or 1)  # seconds to milliseconds, at the run's speed
    for record in records:
        cost = costs.get(record["row"])
        if cost is None:  # an aux head; a model's row that ran no op at inference
            record.update(dict.fromkeys(("predicted_ms", "predicted_parallel_ms",
                                         "predicted_bound", "predicted_error")))
            continue
        ms = cost.serial_s * scale
        record.update(predicted_ms=round(ms, 4),
                      predicted_parallel_ms=round(cost.parallel_s * scale, 4) if branches else None,
                      predicted_bound=cost.bound,
                      predicted_error=_error(ms, record.get("latency_ms")))
    total = Cost()
    for cost in costs.values():
        total = total.then(cost)
    out = {"profile": label(profile), "calibrated": profile["calibrated"],
           "source": profile["source"], "maths": list(maths),
           "network_ms": round(network_s(total) * scale, 4),
           "network_parallel_ms": round((total.parallel_s + total.in_network_s) * scale, 4)
           if branches else None,
           "network_ms_at_calibration": round(network_s(total) * 1000, 4),
           "in_network_ms": round(total.in_network_s * scale, 4),
           "speed_factor": None if factor is None else round(factor, 4), "speed_note": speed_note,
           "ceilings": ceilings(total, batch_size, factor or 1)}
    out.update(accuracy(records, out["network_ms"]))
    return out


def network_s(total) -> float:
    """A pass of the whole network from its rows' summed cost: the rows as each is timed alone,
    plus what they add within a pass (incprof.nn.predict.Rates.fresh_s)."""
    return total.serial_s + total.in_network_s


def ceilings(total, batch_size: int, speed_factor: float = 1) -> dict:
    """Images/s bounds of a network from its summed cost: compute-bound (every kernel's MACs or
    window ops at the profile's rates, nothing else), memory-bound (every byte at the profile's
    bandwidth, nothing else) and the roofline (each kernel the longer of the two; no overhead);
    at the run's speed where a ``speed_factor`` scales the prediction (see add_predictions)."""
    def rate(seconds: float) -> float | None:
        return round(batch_size / (seconds * speed_factor), 2) if seconds > 0 else None

    return {"compute_images_per_s": rate(total.all_compute_s),
            "memory_images_per_s": rate(total.all_memory_s),
            "roofline_images_per_s": rate(total.compute_s + total.memory_s)}


def accuracy(records: list[dict], network_ms: float) -> dict:
    """How the predictions did where rows were timed: the median absolute row error and the share
    of rows within each band, against the wall-clock median and, on the CPU, the CPU time."""
    out = {}
    for key, measured in (("", "latency_ms"), ("cpu_", "latency_cpu_ms")):
        errors = [abs(r["predicted_ms"] / r[measured] - 1) for r in records
                  if r.get("predicted_ms") is not None and r.get(measured)]
        if not errors:
            continue
        out[f"{key}median_abs_row_error"] = round(statistics.median(errors), 4)
        for band in BANDS:
            out[f"{key}within_{round(band * 100)}"] = round(
                sum(e <= band for e in errors) / len(errors), 4)
        out[f"{key}rows"] = len(errors)
    return out


def network_accuracy(prediction: dict, network: dict | None, batch_size: int) -> None:
    """Add the network error (predicted / measured whole network - 1, wall-clock and CPU time)
    and the measured throughput as a fraction of the roofline to ``prediction``."""
    if not isinstance(network, dict):
        return
    predicted = prediction["network_ms"]
    prediction["network_error"] = _error(predicted, network["median_ms"])
    prediction["cpu_network_error"] = _error(predicted, network.get("cpu_ms"))
    roof = prediction["ceilings"]["roofline_images_per_s"]
    measured = batch_size / (network["median_ms"] / 1000) if network["median_ms"] > 0 else None
    prediction["measured_images_per_s"] = None if measured is None else round(measured, 2)
    prediction["of_roofline"] = None if not (roof and measured) else round(measured / roof, 4)


# The batches and dtypes of the ceilings table: one image, and a batch that fills a device.
CEILING_RUNS = ((1, "fp32"), (64, "fp32"), (64, "bf16"))


def ceiling_records():
    """For each built-in network (paper flavour, own input, no aux heads) and each datasheet
    profile: per run of CEILING_RUNS the compute-bound, memory-bound and roofline images/s, and
    the prediction with overhead (branches one after another). Uncalibrated: datasheet peaks."""
    from ..count.geometry import BYTES
    from ..nn.predict import Cost, predict_rows
    from ..nn.profiles import builtin_names, load_profile, maths_for
    from ..records import Records
    from ..spec.registry import available, load
    from ..spec.shapes import place

    rows = []
    for device in builtin_names():
        profile = load_profile(device)
        for name in available():
            main = [p for p in place(load(name, "paper", False)) if not p.is_aux]
            row = {"profile": device, "arch": name}
            for batch, dtype in CEILING_RUNS:
                total = Cost()
                for cost in predict_rows(main, profile, maths_for(profile, dtype), BYTES[dtype],
                                         batch).values():
                    total = total.then(cost)
                key = f"b{batch}_{dtype}"
                row.update({f"{key}_{k.removesuffix('_images_per_s')}": v
                            for k, v in ceilings(total, batch).items()})
                row[f"{key}_predicted"] = round(batch / network_s(total), 2)
            rows.append(row)
    return Records(list(rows[0]), rows, {"profiles": {d: load_profile(d) for d in builtin_names()}})
