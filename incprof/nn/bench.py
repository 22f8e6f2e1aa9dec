"""Batch-size sweeps of whole-network latency and throughput, as Records."""

from __future__ import annotations

from ..count.analytic import count_spec
from ..records import Records
from ..spec.model import ArchSpec
from .latency import Stats, TimingOptions, check_timing_memory, time_spec


def bench_records(spec: ArchSpec, batch_sizes: list[int], options: TimingOptions,
                  advance=None, max_memory: int | None = None) -> Records:
    """Per batch size: whole-network median and p10/p90 latency, images/s and GMAC/s (eval); meta
    in ``attrs``. The largest batch is checked against ``max_memory`` (bytes; default half the
    available memory) before anything is timed. ``advance(label)``, if given, is called as each
    batch size starts."""
    macs = sum(rc.counts.macs for rc in count_spec(spec, None, max(batch_sizes))
               if not rc.placed.is_aux)
    check_timing_memory(spec, None, max(batch_sizes), options, max_memory)
    records, env = [], None
    for batch in batch_sizes:
        if advance:
            advance(f"timing batch {batch}")
        timings = time_spec(spec, None, batch, options, max_memory=max_memory, rows=False)
        env = timings.env
        stats = timings.network
        record = {"batch_size": batch, "latency_ms": None, "p10_ms": None, "p90_ms": None,
                  "repeats": None, "unstable": None, "images_per_s": None, "gmacs_per_s": None,
                  "error": None}
        if isinstance(stats, Stats):
            seconds = stats.median_ms / 1000
            record.update(latency_ms=round(stats.median_ms, 4), p10_ms=round(stats.p10_ms, 4),
                          p90_ms=round(stats.p90_ms, 4), repeats=stats.repeats,
                          unstable=stats.unstable,
                          images_per_s=round(batch / seconds, 2),
                          gmacs_per_s=round(batch * macs / seconds / 1e9, 3))
        else:
            record["error"] = stats
        records.append(record)
    return Records(list(records[0]), records, {"meta": {
        "arch": spec.name, "title": spec.title, "macs_per_image": macs,
        "env": {k: v for k, v in (env or {}).items() if k != "batch_size"},
        "compile_s": timings.compile_s}})
