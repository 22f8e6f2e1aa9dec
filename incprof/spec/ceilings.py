"""The ceilings that keep profiling a user's spec bounded, as one frozen value, and the one in force.

``incprof --max-nodes ... --max-layers`` make a ``Ceilings``; the typer callback puts it in force
for that one command (``using``), and the readers and counters that refuse past a ceiling ask for
``current()`` where they check it. Outside ``using`` (the Python API, a test) the defaults hold.

Why a ``contextvars.ContextVar`` rather than a parameter: the checks sit many calls below the CLI
(the YAML reader, the input size, ``count_spec`` reached from every analysis and report, the
cross-check's layer count), so passing the value down would add a parameter to most public
functions for the sake of five numbers. A ContextVar set for one command and reset when it ends
assigns no module global, so two commands in one process (a CliRunner test, a notebook) each see
their own ceilings, and nothing needs restoring afterwards. No torch.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Ceilings:
    """Each refusal's threshold, with incprof's defaults.

    ``max_nodes``: YAML nodes in a spec (this also bounds the rows); ``max_bytes``: bytes of a
    spec file, before reading it; ``max_side``: input height or width in pixels; ``max_count``:
    params, MACs or activations per image (far above any real network, so that every count times
    the largest batch, incprof.count.analytic.MAX_BATCH, fits a 64-bit integer); ``max_layers``:
    leaf layers one cross-check may build and run (its time grows with the modules: measured 1,600
    one-conv rows in 0.9 s, 3,200 in 1.9 s; the built-in GoogLeNet and Inception-v3 have 88 and
    116 layers); for a ``--model`` it also bounds the leaf modules. ``max_ops``: aten ops in one
    forward pass of a ``--model``, the nodes of its captured graph (the capture's time grows with
    them; torchvision's swin_v2_b runs 2,807). ``timeout_s``: CPU seconds a ``--model``'s
    code and its capture may spend (import, factory, forwards and graph capture together; a busy
    machine does not shorten it), with a wall-clock backstop of 4 times as many seconds for code
    that waits (incprof.capture.guard); 0: no limit. ``table --model`` on torchvision's
    efficientnet_b7, vit_h_14 and maxvit_t took 9 to 11 s on an idle shared 2-core Xeon: give
    those more.
    """

    max_nodes: int = 200_000
    max_bytes: int = 4 * 1024 * 1024
    max_side: int = 1 << 14
    max_count: int = 10**15
    max_layers: int = 2_000
    max_ops: int = 10_000
    timeout_s: float = 15.0


DEFAULTS = Ceilings()
_IN_FORCE: ContextVar[Ceilings] = ContextVar("incprof_ceilings", default=DEFAULTS)


def current() -> Ceilings:
    """The ceilings in force: those ``using`` set, else the defaults."""
    return _IN_FORCE.get()


@contextmanager
def using(ceilings: Ceilings):
    """Put ``ceilings`` in force inside the ``with`` block (in this thread or task only)."""
    token = _IN_FORCE.set(ceilings)
    try:
        yield ceilings
    finally:
        _IN_FORCE.reset(token)
