"""Input-resolution sweeps: which sizes a spec accepts, and what they cost, as Records. No torch."""

from __future__ import annotations

import dataclasses

from ..count.analytic import count_spec
from ..count.geometry import BYTES, geometry
from ..errors import SpecError
from ..records import Records
from ..spec.layers import Branches, Conv, leaves
from ..spec.model import ArchSpec
from ..spec.shapes import format_shape, layer_out_shape, place


def _last_conv_row(spec: ArchSpec) -> str:
    """The last row with a conv, or the last row of a spec without one."""
    convs = [r.name for r in spec.rows if any(isinstance(leaf, Conv) for leaf in leaves(r.layers))]
    return (convs or [spec.rows[-1].name])[-1]


# Sides tried one by one above the smallest side every window fits (see min_input_size).
SCAN_SIDES = 32


def min_input_size(spec: ArchSpec, largest: int | None = None) -> int | None:
    """The smallest square input every row (and aux head) of the spec accepts, or None.

    Whether a side is accepted is not monotone in the side: branches that end at different sizes
    (e.g. a 3x3/2 conv beside a 2x2/2 conv) agree only at some sides. What is monotone is whether
    every window fits: each conv and pool output side is a non-decreasing function of its input
    side (PyTorch's rule, ceil mode included), and if branches are taken at the smallest of their
    sizes, so is every size in the network, hence fitting at a side implies fitting at every larger
    one. Accepted sides fit, so a binary search finds the smallest fitting side in log2(largest)
    inferences, a lower bound of the answer; then the sides from there are tried one by one, at
    most SCAN_SIDES of them (None if none is accepted there)."""
    largest = largest or max(spec.input[1:])
    if not _fits(spec, largest):
        return None
    low, high = 1, largest  # high fits; find the smallest side that fits
    while low < high:
        middle = (low + high) // 2
        if _fits(spec, middle):
            high = middle
        else:
            low = middle + 1
    for side in range(low, min(largest, low + SCAN_SIDES - 1) + 1):
        try:
            place(spec, (side, side))
        except SpecError:
            continue
        return side
    return None


def _fits(spec: ArchSpec, side: int) -> bool:
    """Whether every conv and pool window fits at a square input ``side``, branches that end at
    different sizes being taken at their smallest (the monotone part of shape inference)."""
    def run(layers, shape):
        for layer in layers:
            if isinstance(layer, Branches):
                outs = [run(branch, shape) for branch in layer.branches]
                shape = (sum(o[0] for o in outs), min(o[1] for o in outs),
                         min(o[2] for o in outs))
            else:
                shape = layer_out_shape(layer, shape)
        return shape

    outputs, shape = {}, (spec.input[0], side, side)
    try:
        for row in spec.rows:
            outputs[row.name] = shape = run(row.layers, shape)
        for head in spec.aux:
            run(head.layers, outputs[head.after])
    except SpecError:
        return False
    return True


SWEEP_COLUMNS = ["input", "valid", "reason", "params", "macs", "final_feature_map",
                 "receptive_field", "peak_activation_bytes", "latency_ms", "latency_unstable"]


def sweep_records(spec: ArchSpec, sizes: list[int], dtype: str = "fp32", latency=None,
                  max_memory: int | None = None) -> Records:
    """One row per square input size: valid or why not, params, MACs, the last conv row's feature
    map, its receptive field, and peak live activation bytes (inference, no aux heads); meta in
    ``attrs``. ``latency`` (a latency.TimingOptions) also times the whole network at each valid
    size, after every one of them has passed the memory guard (``max_memory`` bytes, default half
    the available memory)."""
    spec = dataclasses.replace(spec, aux=())
    last = _last_conv_row(spec)
    if latency is not None:
        from ..nn.latency import check_timing_memory

        for side in sizes:
            try:
                place(spec, (side, side))
            except SpecError:
                continue
            check_timing_memory(spec, (side, side), 1, latency, max_memory)
    records, env = [], None
    for side in sizes:
        record = {"input": f"{side}x{side}x{spec.input[0]}", "valid": True,
                  **dict.fromkeys(SWEEP_COLUMNS[2:])}
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
            from ..nn.latency import time_spec

            timings = time_spec(spec, (side, side), 1, latency, max_memory=max_memory,
                                rows=False)
            env = timings.env
            network = timings.network
            record["latency_ms"] = network if isinstance(network, str) else round(
                network.median_ms, 4)
            record["latency_unstable"] = None if isinstance(network, str) else network.unstable
        records.append(record)
    meta = {"arch": spec.name, "title": spec.title, "last_conv_row": last,
            "min_input_size": min_input_size(spec), "native": list(spec.input), "dtype": dtype,
            "latency_env": env}
    return Records(SWEEP_COLUMNS, records, {"meta": meta},
                   ("params", "macs", "peak_activation_bytes"))


def lowres_records(spec: ArchSpec) -> Records:
    """The v3 paper's low-resolution networks (section 9; see variants.lowres), each at its own
    input: params and MACs (inference, no aux heads), and MACs against the 299x299 network.
    ``attrs["meta"]`` holds the paper's claim and the verdict: every network within 1% of the
    299 network's MACs, compared exactly (100 * |MACs - MACs_299| <= MACs_299)."""
    from ..spec.variants import LOWRES_CHANGES, lowres

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
    return Records(list(records[0]), records, {"meta": {
        "arch": spec.name, "title": spec.title, "reference": records[0]["variant"],
        "claim": "the three networks cost almost the same; the third is slightly cheaper, "
                 "within 1% of the total (v3 paper, section 9, in our words)",
        "rule": "100 * |MACs - MACs(lowres_299)| <= MACs(lowres_299), exact integers",
        "max_abs_delta_pct": max(abs(r["macs_vs_299_pct"]) for r in records),
        "claim_holds": all(r["within_1pct"] for r in records)}})
