"""Refuse work that would not fit: estimate memory from the spec before anything is allocated.

The estimate is an upper bound of what building and running the network once takes, in bytes:

- parameters twice: built in fp32, plus the copy made when the network is cast to another dtype
  or memory format for timing (an fp32 run needs no copy; the second copy is its margin);
- per image, the input and every activation a forward pass writes, none freed (an aux head's input
  and its activations too), in the run's dtype;
- per image, the largest temporary any single layer allocates beside its output while it runs
  (temporaries end with their layer, so only the largest counts). The temporaries were measured
  on CPU as the peak resident memory (Linux's VmHWM) a layer adds, torch 2.13; the torch
  profiler's memory events miss oneDNN's copies and the max-pool indices. tests/test_limits.py
  keeps the bound checked against such measured peaks:
  - conv: a copy of its input and of its output in fp32 with the channels padded to a multiple
    of 16 (oneDNN reorders to blocked layouts; 16-bit convs work on fp32 copies; a 1->1 channel
    3x3 conv measured 22 input sizes beside its output), plus BatchNorm's own output when the conv
    has one;
  - max pool: its int64 indices, one per output element (computed even when discarded);
  - LRN (torch's local_response_norm): the squared input padded by ``size - 1`` channels, the
    window average and its scaled copies, 2 C + size channels beside the input and output;
  - linear: the flattened input, copied when it is not contiguous (channels-last);
  - global and adaptive average pools: a 16-bit input is averaged in an fp32 copy;
  - separable conv (not measured separately): the depthwise and the pointwise conv's copies as
    for a conv, with the depthwise output alive beside the pointwise one;
  - ReLU on its own, dropout, softmax: nothing beside their output; a residual block or parallel
    branches: the largest temporary of their parts.
- a fixed allowance for the allocator and the libraries' own buffers.
"""

from __future__ import annotations

import os

from ..errors import ResourceError
from ..spec import ceilings
from ..spec.fields import Pair
from ..spec.layers import (LRN, AdaptiveAvgPool, Branches, Conv, Dropout, GlobalAvgPool, Layer, Linear, Pool,
                           ReLU, Residual, Separable, Shape, Softmax, leaves, sublayers)
from ..spec.model import ArchSpec
from ..spec.shapes import numel, rule, walk
from ..units import human
from .analytic import count_spec
from .geometry import BYTES

COMPUTE_BYTES = 4  # CPU kernels copy 16-bit tensors to fp32
INDEX_BYTES = 8    # int64 max-pool indices
CHANNEL_BLOCK = 16  # oneDNN's blocked layouts pad channels to a multiple of 16
OVERHEAD_BYTES = 64 * 2**20  # allocator slack, library buffers: a few MiB in the measurements


def _conv_copies(in_shape: Shape, out_shape: Shape) -> int:
    return COMPUTE_BYTES * sum(-(-c // CHANNEL_BLOCK) * CHANNEL_BLOCK * h * w
                               for c, h, w in (in_shape, out_shape))


def _conv(layer: Conv, in_shape: Shape, out_shape: Shape, value_bytes: int) -> int:
    bn = numel(out_shape) * value_bytes if layer.bn_eps is not None else 0
    return _conv_copies(in_shape, out_shape) + bn


def _separable(layer: Separable, in_shape: Shape, out_shape: Shape, value_bytes: int) -> int:
    """Two convs in a row: the larger one's copies, with the depthwise output alive beside the
    pointwise conv, and BatchNorm's output."""
    mid = (in_shape[0] * layer.multiplier, *out_shape[1:])
    bn = numel(out_shape) * value_bytes if layer.bn_eps is not None else 0
    return max(_conv_copies(in_shape, mid),
               numel(mid) * value_bytes + _conv_copies(mid, out_shape)) + bn


def _average(layer, in_shape: Shape, out_shape: Shape, value_bytes: int) -> int:
    # a 16-bit input is averaged in an fp32 copy
    return numel(in_shape) * COMPUTE_BYTES if value_bytes < COMPUTE_BYTES else 0


def _nothing(layer, in_shape: Shape, out_shape: Shape, value_bytes: int) -> int:
    return 0  # the output, counted with the activations, is all it writes


# Each layer type's temporary bytes per image beside its input and output (the module's docstring
# says what was measured); a Branches or Residual: the largest of its parts', run one at a time.
TEMPORARY_RULES = {
    Conv: _conv, Separable: _separable,
    Pool: lambda layer, i, o, b: numel(o) * INDEX_BYTES if layer.kind == "max" else 0,
    LRN: lambda layer, i, o, b: (2 * i[0] + layer.size) * i[1] * i[2] * COMPUTE_BYTES,
    Linear: lambda layer, i, o, b: numel(i) * b,
    GlobalAvgPool: _average, AdaptiveAvgPool: _average,
    ReLU: _nothing, Dropout: _nothing, Softmax: _nothing,
    Branches: lambda layer, i, o, b: max(sequence_temporary_bytes(part, i, b)
                                         for part in layer.branches),
    Residual: lambda layer, i, o, b: max(sequence_temporary_bytes(part, i, b)
                                         for part in sublayers(layer)),
}


def layer_temporary_bytes(layer: Layer, in_shape: Shape, out_shape: Shape,
                          value_bytes: int) -> int:
    """Bytes per image that one layer allocates beside its input and output while it runs."""
    return rule(TEMPORARY_RULES, layer)(layer, in_shape, out_shape, value_bytes)


def sequence_temporary_bytes(layers: tuple[Layer, ...], in_shape: Shape, value_bytes: int) -> int:
    """The largest ``layer_temporary_bytes`` of a layer sequence, per image."""
    return max((layer_temporary_bytes(layer, i, o, value_bytes)
                for layer, i, o in walk(layers, in_shape)[0]), default=0)


def estimate_bytes(spec: ArchSpec, input_hw: Pair | None = None, batch_size: int = 1,
                   dtype: str = "fp32") -> int:
    """Upper bound of the memory, in bytes, to build the network and run it once on a batch in
    ``dtype`` (see the module's docstring for what it covers)."""
    value_bytes = BYTES[dtype]
    counted = count_spec(spec, input_hw, batch_size)
    params = sum(rc.counts.params for rc in counted)
    inputs = numel(counted[0].placed.in_shape) + sum(
        numel(rc.placed.in_shape) for rc in counted if rc.placed.is_aux)
    values = inputs + sum(rc.counts.activations for rc in counted)
    temporary = max(sequence_temporary_bytes(rc.placed.layers, rc.placed.in_shape, value_bytes)
                    for rc in counted)
    per_image = values * value_bytes + temporary
    return params * (BYTES["fp32"] + value_bytes) + batch_size * per_image + OVERHEAD_BYTES


def check_layers(specs: list[ArchSpec], what: str = "the cross-check") -> int:
    """Raise ResourceError if ``specs`` hold more leaf layers (rows and aux heads, branches
    expanded) together than the ``max_layers`` ceiling (ceilings.py); returns their number. Call it
    before building any."""
    layers = sum(len(list(leaves(item.layers))) for spec in specs for item in (*spec.rows, *spec.aux))
    max_layers = ceilings.current().max_layers
    if layers > max_layers:
        raise ResourceError(
            f"{what} would build and run {layers:,} layers, over the ceiling of "
            f"{max_layers:,} (its time grows with the layers); count from the "
            "spec alone with --no-verify, or raise the ceiling with incprof --max-layers",
            path=specs[0].path)
    return layers


def available_bytes() -> int:
    """Memory this process may still use: the system's MemAvailable (physical memory as a
    fallback), or less when a cgroup (v2) memory limit leaves less room."""
    available = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, \
                open("/sys/fs/cgroup/memory.current") as current:
            text = limit.read().strip()
            if text != "max":
                available = min(available, int(text) - int(current.read().strip()))
    except (OSError, ValueError):
        pass
    return max(0, available)


def check_memory(spec: ArchSpec, input_hw: Pair | None = None, batch_size: int = 1,
                 limit_bytes: int | None = None, dtype: str = "fp32") -> int:
    """Raise ResourceError if the estimate exceeds ``limit_bytes`` (default: half of the available
    memory). Returns the estimate. Call it before building or allocating anything."""
    needed = estimate_bytes(spec, input_hw, batch_size, dtype)
    limit = available_bytes() // 2 if limit_bytes is None else limit_bytes
    if needed > limit:
        raise ResourceError(
            f"building {spec.name} "
            f"{f'at batch {batch_size}' if batch_size else 'for the cross-check (weights only)'} "
            f"({dtype}) would need about "
            f"{human(needed)}B (params, activations and the largest layer temporary), over the "
            f"limit of {human(limit)}B "
            f"({'half the available memory' if limit_bytes is None else 'set by --max-memory'}); "
            "lower --batch-size or --input-size, or count from the spec alone with --no-verify",
            path=spec.path)
    return needed
