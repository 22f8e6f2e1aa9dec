"""Values drawn the same way every run: a block in which torch's CPU generator is seeded, the
caller's state restored after. torch is imported inside the function only."""

from __future__ import annotations

from contextlib import contextmanager

SEED = 0


@contextmanager
def seeded(seed: int = SEED):
    """While open, torch's default CPU generator starts from ``seed``; after, it is as it was.
    Only the CPU generator: torch.manual_seed would reseed every CUDA generator too, and
    fork_rng(devices=[]) restores the CPU one alone. Draw on the CPU, then move the values."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield
