"""Input-resolution sweeps: which sizes a spec accepts, and what they cost. No torch."""

from __future__ import annotations

import dataclasses

import pandas as pd

from .analytic import count_spec
from .errors import SpecError
from .geometry import BYTES, geometry
from .spec import ArchSpec, Branches, Conv, format_shape, leaves


def _last_conv_row(spec: ArchSpec) -> str:
    return [r.name for r in spec.rows if any(isinstance(leaf, Conv) for leaf in leaves(r.layers))][-1]


def min_input_size(spec: ArchSpec, largest: int | None = None) -> int | None:
    """The smallest square input every row (and aux head) of the spec accepts, or None."""
    largest = largest or max(spec.input[1:])
    for side in range(1, largest + 1):
        try:
            count_spec(spec, (side, side))
        except SpecError:
            continue
        return side
    return None


def sweep(spec: ArchSpec, sizes: list[int], dtype: str = "fp32", latency=None) -> pd.DataFrame:
    """One row per square input size: valid or why not, params, MACs, the last conv row's feature
    map, its receptive field, and peak live activation bytes (inference, no aux heads).
    ``latency`` (a latency.TimingOptions) also times the whole network at each valid size."""
    spec = dataclasses.replace(spec, aux=())
    last = _last_conv_row(spec)
    records, env = [], None
    for side in sizes:
        record = {"input": f"{side}x{side}x{spec.input[0]}", "valid": True, "reason": None,
                  "params": None, "macs": None, "final_feature_map": None, "receptive_field": None,
                  "peak_activation_bytes": None, "latency_ms": None}
        try:
            counted = count_spec(spec, (side, side))
            shapes = geometry(spec, (side, side))
        except SpecError as exc:
            record.update(valid=False, reason=exc.message if not exc.row else
                          f"row '{exc.row}': {exc.message}")
            records.append(record)
            continue
        placed = {rc.placed.name: rc.placed for rc in counted}
        field = shapes[last].field.size
        record.update(params=sum(rc.counts.params for rc in counted),
                      macs=sum(rc.counts.macs for rc in counted),
                      final_feature_map=format_shape(placed[last].out_shape),
                      receptive_field=f"{field[0]}x{field[1]}",
                      peak_activation_bytes=max(g.peak_elements for g in shapes.values())
                      * BYTES[dtype])
        if latency is not None:
            from .latency import time_spec

            timings = time_spec(spec, (side, side), 1, latency, rows=False)
            env = timings.env
            network = timings.network
            record["latency_ms"] = network if isinstance(network, str) else round(
                network.median_ms, 4)
        records.append(record)
    df = pd.DataFrame.from_records(records)
    for column in ("params", "macs", "peak_activation_bytes"):
        df[column] = df[column].astype("Int64")
    df.attrs["meta"] = {"arch": spec.name, "title": spec.title, "last_conv_row": last,
                        "min_input_size": min_input_size(spec), "native": list(spec.input),
                        "dtype": dtype, "latency_env": env}
    return df


def lowres_experiment(spec: ArchSpec) -> pd.DataFrame:
    """The v3 paper's low-resolution networks (section 9; see variants.lowres), each at its own
    input: params and MACs (inference, no aux heads), and MACs against the 299x299 network.
    ``attrs["meta"]`` holds the paper's claim and the verdict: every network within 1% of the
    299 network's MACs, compared exactly (100 * |MACs - MACs_299| <= MACs_299)."""
    from .variants import LOWRES_CHANGES, lowres

    records = []
    for side, change in LOWRES_CHANGES.items():
        variant = dataclasses.replace(lowres(spec, side), aux=())
        counted = [rc for rc in count_spec(variant) if not rc.placed.is_aux]
        records.append({"variant": f"lowres_{side}", "input": format_shape(variant.input),
                        "change": change,
                        "stem_output": format_shape(next(
                            rc.placed.in_shape for rc in counted
                            if any(isinstance(layer, Branches) for layer in rc.placed.layers))),
                        "params": sum(rc.counts.params for rc in counted),
                        "macs": sum(rc.counts.macs for rc in counted)})
    reference = records[0]["macs"]
    for record in records:
        record["macs_vs_299_pct"] = round((record["macs"] / reference - 1) * 100, 2) + 0.0
        record["within_1pct"] = 100 * abs(record["macs"] - reference) <= reference
    df = pd.DataFrame.from_records(records)
    df.attrs["meta"] = {
        "arch": spec.name, "title": spec.title, "reference": records[0]["variant"],
        "claim": "the three networks cost almost the same; the third is slightly cheaper, "
                 "within 1% of the total (v3 paper, section 9, in our words)",
        "rule": "100 * |MACs - MACs(lowres_299)| <= MACs(lowres_299), exact integers",
        "max_abs_delta_pct": max(abs(r["macs_vs_299_pct"]) for r in records),
        "claim_holds": all(r["within_1pct"] for r in records)}
    return df
