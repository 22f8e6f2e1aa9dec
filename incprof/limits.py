"""Refuse work that would not fit: estimate memory from the spec before anything is allocated."""

from __future__ import annotations

import os

from .analytic import count_spec
from .errors import ResourceError
from .spec import ArchSpec, Pair

BYTES_PER_VALUE = 4  # fp32


def estimate_bytes(spec: ArchSpec, input_hw: Pair | None = None, batch_size: int = 1) -> int:
    """Upper bound of fp32 memory to build and run the network once: params plus every
    activation a forward pass writes (nothing freed), aux heads included."""
    counted = count_spec(spec, input_hw)
    params = sum(rc.counts.params for rc in counted)
    c, h, w = counted[0].placed.in_shape
    activations = c * h * w + sum(rc.counts.activations for rc in counted)
    return BYTES_PER_VALUE * (params + batch_size * activations)


def available_bytes() -> int:
    """Memory the system reports as available (MemAvailable), or physical memory as a fallback."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(spec: ArchSpec, input_hw: Pair | None = None, batch_size: int = 1,
                 limit_bytes: int | None = None) -> int:
    """Raise ResourceError if the estimate exceeds ``limit_bytes`` (default: half of the available
    memory). Returns the estimate."""
    from .render import human

    needed = estimate_bytes(spec, input_hw, batch_size)
    limit = available_bytes() // 2 if limit_bytes is None else limit_bytes
    if needed > limit:
        raise ResourceError(
            f"building {spec.name} at batch {batch_size} would need about {human(needed)}B "
            f"(fp32 params + activations), over the limit of {human(limit)}B "
            f"({'half the available memory' if limit_bytes is None else 'set by --max-memory'}); "
            "lower --batch-size or --input-size, or count from the spec alone with --no-verify")
    return needed
