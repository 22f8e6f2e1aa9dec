"""Input-resolution sweeps: which sizes a spec accepts, and what they cost. No torch."""

from __future__ import annotations

import dataclasses

import pandas as pd

from .analytic import count_spec
from .errors import SpecError
from .geometry import BYTES, geometry
from .spec import ArchSpec, Conv, format_shape, leaves


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
                  "peak_activation_bytes": None, "latency_ms": None, "latency_unstable": None}
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
            record["latency_unstable"] = None if isinstance(network, str) else network.unstable
        records.append(record)
    df = pd.DataFrame.from_records(records)
    for column in ("params", "macs", "peak_activation_bytes"):
        df[column] = df[column].astype("Int64")
    df.attrs["meta"] = {"arch": spec.name, "title": spec.title, "last_conv_row": last,
                        "min_input_size": min_input_size(spec), "native": list(spec.input),
                        "dtype": dtype, "latency_env": env}
    return df
