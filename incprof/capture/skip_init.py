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


def _fill(func, args: tuple, kwargs: dict):
    """A random fill made constant: normal_ its mean, uniform_ the middle of its range, the rest
    zero, so that an initialiser that redraws until its values fall in bounds (torch's
    trunc_normal_) stops at once."""
    tensor, rest = (args[0], args[1:]) if args else (kwargs.get("self", kwargs.get("tensor")), ())
    if func.__name__ == "normal_":
        value = rest[0] if rest else kwargs.get("mean", 0.0)
    elif func.__name__ == "uniform_":
        low, high = (list(rest) + [kwargs.get("from", 0.0), kwargs.get("to", 1.0)][len(rest):])[:2]
        value = (low + high) / 2
    else:
        value = 0.0
    return tensor.fill_(value)


@contextmanager
def skip_init():
    """While open, torch.nn.init's random initialisers (``RANDOM_INITS``, when called as torch
    functions) do nothing and return their tensor, and the random fills of ``RANDOM_FILLS`` fill a
    constant instead (``_fill``); every other call runs as usual, so buffers computed at build time
    (index tables, position encodings) are exact. No random number is drawn."""
    import torch
    from torch.overrides import TorchFunctionMode

    fills = {getattr(torch.Tensor, name) for name in RANDOM_FILLS if hasattr(torch.Tensor, name)}
    inits = {getattr(torch.nn.init, name) for name in RANDOM_INITS}

    class Skip(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in inits:  # the tensor, given by position or as tensor=
                return args[0] if args else (kwargs or {}).get("tensor")
            if func in fills:
                return _fill(func, args, kwargs or {})
            return func(*args, **(kwargs or {}))

    with Skip():
        yield
