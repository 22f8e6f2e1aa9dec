"""Build a zoo model without drawing its random initial weights: counting never reads a weight's
value, and drawing them is a fifth of building a large model (convnext_xlarge). torch is imported
inside the function only."""

from __future__ import annotations

from contextlib import contextmanager

# The in-place random fills that torch.nn.init and timm's initialisers end in, and torch.nn.init's
# random initialisers (each is one torch function call, its fills inside not seen again): while a
# model is built under ``skip_init``, each leaves its tensor as allocated.
RANDOM_FILLS = ("uniform_", "normal_", "trunc_normal_", "erfinv_", "random_", "bernoulli_",
                "exponential_", "log_normal_", "cauchy_", "geometric_")
RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                "xavier_uniform_", "xavier_normal_", "orthogonal_", "sparse_")


@contextmanager
def skip_init():
    """While open, the random fills of ``RANDOM_FILLS`` (as tensor methods or torch functions) do
    nothing and return their tensor; every other call runs as usual, so buffers computed at build
    time (index tables, position encodings) are exact. The weights hold whatever memory they were
    allocated with."""
    import torch
    from torch.overrides import TorchFunctionMode

    skipped = {getattr(torch.Tensor, name) for name in RANDOM_FILLS if hasattr(torch.Tensor, name)}
    skipped |= {getattr(torch.nn.init, name) for name in RANDOM_INITS}

    class Skip(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in skipped:  # the tensor, given by position or as tensor=
                return args[0] if args else (kwargs or {}).get("tensor")
            return func(*args, **(kwargs or {}))

    with Skip():
        yield
