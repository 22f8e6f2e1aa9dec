"""The user's own model code (a --model's import, factory and forward) run so that it cannot decide
incprof's outcome, and its size bounded before the slow work.

``user_code(ref)`` is the one door: inside it the code sees ``sys.argv`` as a script run with no
arguments, its prints go to stderr (Python's ``sys.stdout`` and, where it is the process's own,
file descriptor 1), and ``os._exit`` raises instead of ending the process. On the way out the
working folder, ``sys.argv``, ``sys.stdout`` and ``sys.stderr`` are as they were, and a
``SystemExit``, an ``os._exit``, a run past ``--timeout`` (CPU seconds, SIGPROF, or the wall-clock
backstop, SIGALRM) or any other BaseException but Ctrl-C is one UsageError naming the model.
Exceptions (``Exception``) pass through unchanged: the capture names where they came from.

Limits, stated in docs/limits.md: this is the same process, so code that kills it some other way
(a signal to itself, C's ``exit`` through ctypes) still can; the timeout interrupts Python code and
lands between two torch ops, not inside one long op.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager, redirect_stdout

from ..errors import UsageError, described, quoted, shown

_REAL_EXIT = os._exit


class _Exited(BaseException):
    """The model's code called os._exit."""


class _Expired(BaseException):
    """The model's code ran past --timeout (its one argument: the message saying which limit)."""


# The wall-clock backstop, in multiples of --timeout: a model that waits (sleeps, blocks on I/O)
# spends no CPU time and is ended after this many times the limit in wall-clock seconds.
WALL_FACTOR = 4


@contextmanager
def user_code(ref: str, timeout_s: float | None = None):
    """Run the block as the model ``ref``'s code (see the module docstring); ``timeout_s``: the
    seconds it may take, by default the ``--timeout`` in force (incprof.spec.ceilings)."""
    from ..spec import ceilings

    timeout_s = ceilings.current().timeout_s if timeout_s is None else timeout_s
    ref = quoted(ref, 200)
    more = "; --timeout SECONDS, before the command, allows more"
    expired = {
        "cpu": f"model {ref}: stopped after {timeout_s:g} CPU seconds, the --timeout limit (time "
               f"the process computed; a busy machine does not shorten it){more}",
        "wall": f"model {ref}: stopped after {WALL_FACTOR * timeout_s:g} wall-clock seconds "
                f"({WALL_FACTOR} x --timeout {timeout_s:g}, the backstop for code that waits "
                f"rather than computes){more}"}
    saved = _Saved()
    try:
        with redirect_stdout(sys.stderr), _fd1_to_stderr(), _no_os_exit(), \
                _alarm(timeout_s, expired):
            yield
    except KeyboardInterrupt:
        raise
    except _Expired as exc:
        raise UsageError(exc.args[0]) from None
    except _Exited as exc:
        raise UsageError(f"model {ref}: its code called os._exit({quoted(exc.args[0])}); "
                         "that is the model's failure") from None
    except SystemExit as exc:
        raise UsageError(f"model {ref}: its code called sys.exit({quoted(exc.code)}); that is "
                         "the model's failure") from None
    except Exception:
        raise
    except BaseException as exc:  # GeneratorExit and the like, raised by the model's code
        raise UsageError(f"model {ref}: its code raised {described(exc, 200)}") from None
    finally:
        saved.restore()


class _Saved:
    """What the model's code may change that incprof relies on afterwards: argv, the standard
    streams and the working folder. sys.argv is a script's with no arguments meanwhile."""

    def __init__(self) -> None:
        self.argv, self.stdout, self.stderr = sys.argv, sys.stdout, sys.stderr
        try:
            self.cwd = os.getcwd()
        except OSError:
            self.cwd = None
        sys.argv = [self.argv[0] if self.argv else ""]

    def restore(self) -> None:
        sys.argv, sys.stdout, sys.stderr = self.argv, self.stdout, self.stderr
        if self.cwd is not None:
            try:
                os.chdir(self.cwd)
            except OSError:
                pass


@contextmanager
def _fd1_to_stderr():
    """Point file descriptor 1 at stderr meanwhile, when sys.stdout writes to it (prints from C
    code, child processes); elsewhere (a test's captured stdout) redirect_stdout suffices."""
    try:
        real = sys.__stdout__ is not None and sys.__stdout__.fileno() == 1 and \
            sys.__stderr__ is not None and sys.__stderr__.fileno() == 2
    except (OSError, ValueError, AttributeError):
        real = False
    if not real:
        yield
        return
    sys.__stdout__.flush()
    kept = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        try:
            sys.__stdout__.flush()
        except (OSError, ValueError):
            pass
        os.dup2(kept, 1)
        os.close(kept)


@contextmanager
def _no_os_exit():
    """os._exit raises _Exited meanwhile, in this process only (a forked child still exits)."""
    import posix

    real, pid = _REAL_EXIT, os.getpid()

    def _exit(code=0):
        if os.getpid() != pid:
            real(code)
        raise _Exited(code)

    os._exit = posix._exit = _exit
    try:
        yield
    finally:
        os._exit = posix._exit = real


@contextmanager
def _alarm(timeout_s: float, messages: dict):
    """Raise _Expired in the main thread once the process has spent ``timeout_s`` CPU seconds
    (ITIMER_PROF: user and system time of all its threads, so a busy machine does not shorten it)
    or ``WALL_FACTOR`` times that in wall-clock seconds (ITIMER_REAL: a model that waits), with
    ``messages["cpu"]`` or ``messages["wall"]``. Code that swallows it (a bare ``except:`` in a
    loop) is not waited for: a wall-clock second later incprof prints the message and ends with
    exit code 2 (nothing is being written meanwhile: outputs are written after)."""
    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[str] = []

    def expired(signum, frame):
        if fired:
            os.write(2, f"error: {fired[0]}\n".encode("utf-8", "replace"))
            _REAL_EXIT(2)
        fired.append(messages["cpu" if signum == signal.SIGPROF else "wall"])
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # the swallowed case: a second from now
        raise _Expired(fired[0])

    previous = {sig: signal.signal(sig, expired) for sig in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, timeout_s)
    signal.setitimer(signal.ITIMER_REAL, WALL_FACTOR * timeout_s)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_modules(model, label: str) -> None:
    """Refuse (UsageError) a model with more leaf modules than --max-layers, before any run."""
    from ..spec import ceilings

    limit = ceilings.current().max_layers
    leaves = sum(1 for m in model.modules() if next(m.children(), None) is None)
    if leaves > limit:
        raise UsageError(f"model {shown(label, 200)}: {leaves:,} leaf modules, more than "
                         f"--max-layers {limit:,}; raise it (before the command) if the model "
                         "needs it")


@contextmanager
def op_ceiling(label: str):
    """Count the aten ops run in the block (a forward pass) and refuse (UsageError) as soon as
    they pass --max-ops: the graph capture's time grows with them."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from ..spec import ceilings

    limit = ceilings.current().max_ops

    class Count(TorchDispatchMode):
        ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Count.ops += 1
            if Count.ops > limit:
                raise _TooMany
            return func(*args, **(kwargs or {}))

    try:
        with Count():
            yield
    except _TooMany:
        raise UsageError(f"model {shown(label, 200)}: more than {limit:,} aten ops in one "
                         "forward pass, past --max-ops; raise it (before the command) if the "
                         "model needs it") from None


def check_size(model, x, label: str) -> None:
    """Refuse (UsageError) a model past --max-layers in leaf modules, or past --max-ops in the
    aten ops of one forward pass on one image of ``x``, before the graph capture: the pass runs
    on fake tensors (shapes only, no arithmetic). A model that cannot run so (data-dependent
    control flow) is left to the capture, which reports its own failures. The output's dataclasses
    are registered with torch's pytree (inputs.register_outputs)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from .inputs import register_outputs

    check_modules(model, label)
    one = x[:1]
    try:
        with torch.no_grad(), FakeTensorMode(allow_non_fake_inputs=True), op_ceiling(label):
            register_outputs(model(one))  # so that torch.export can return them
    except UsageError:
        raise
    except Exception:  # noqa: BLE001 - the capture that follows reports the model's own failure
        pass


class _TooMany(BaseException):
    """The forward pass ran more ops than the ceiling (BaseException: the model's own
    ``except Exception`` cannot swallow it)."""

