"""The typer application's shell: every failure one line on stderr, Ctrl-C named, flags as flags,
and the garbage collector's pace while a command runs.

cli.py declares the commands on an ``App``; this module decides how a run ends.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NoReturn

import typer
from typer.core import TyperCommand, TyperGroup

from ..errors import SpecError, UsageError, described

# The outputs the running command has yet to write: a list made per invocation (Group.invoke), so
# that one command's bookkeeping never reaches the next in the same process.
_UNWRITTEN: ContextVar[list[str]] = ContextVar("incprof_unwritten")


def unwritten() -> list[str]:
    """The running command's outputs not yet written (output.check_outputs fills it, output.wrote
    empties it); a Ctrl-C names what is left. Outside a command, a fresh list that nobody reads."""
    return _UNWRITTEN.get([])


def _flags_as_flags(params: list) -> list:
    """Boolean flags take no value, so their help shows no ``<bool>`` type."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A command whose flags render as flags in --help."""

    def get_params(self, ctx):
        """The command's parameters, flags without a value type."""
        return _flags_as_flags(super().get_params(ctx))


class Group(TyperGroup):
    """incprof's top level: every failure ends as one line on stderr and an exit code.

    Usage errors (a bad option value, an unknown option, a missing argument) exit 2, Ctrl-C exits
    130 naming what was left unwritten, and an unexpected error exits 1 as "internal error" with its
    own first line; INCPROF_TRACEBACK=1 shows the traceback instead.
    """

    def get_params(self, ctx):
        """The group's parameters, flags without a value type."""
        return _flags_as_flags(super().get_params(ctx))

    def invoke(self, ctx):
        """Run the command; on Ctrl-C, SIGTERM or SIGHUP say what was left unwritten and exit
        128 + the signal's number (130, 143, 129)."""
        pending: list[str] = []
        token = _UNWRITTEN.set(pending)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            signum = getattr(exc, "signum", signal.SIGINT)
            left = f": nothing written to {', '.join(pending)}" if pending else ""
            by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
            say(f"interrupted{by}{left}", prefix="")
            raise typer.Exit(128 + signum) from None
        finally:
            _UNWRITTEN.reset(token)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, with one-line errors in place of click's boxes and Python's tracebacks."""
        try:
            from typer._click import exceptions as click
        except ImportError:  # typer before it vendored click
            from click import exceptions as click

        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            with short_lived_gc(), stop_signals():
                code = super().main(args, prog_name, complete_var, False, **extra)
        except click.NoArgsIsHelpError as exc:
            text = exc.format_message()  # the help, made once; rich help printed itself, leaving ""
            if text:
                typer.echo(text)
            sys.exit(2)
        except click.UsageError as exc:
            message = exc.format_message().strip()
            if not message.endswith((".", "?")):
                message += "."
            path = exc.ctx.command_path if exc.ctx is not None else prog_name or "incprof"
            message += f" See '{path} --help'."
            say(message)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            say(exc.format_message())
            sys.exit(exc.exit_code)
        except typer.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):  # while click read the options
                say("interrupted", prefix="")
                sys.exit(128 + getattr(exc.__context__, "signum", signal.SIGINT))
            say("aborted")
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, see the docstring
            if os.environ.get("INCPROF_TRACEBACK"):
                raise
            say(f"internal error: {described(exc)} (INCPROF_TRACEBACK=1 shows the traceback)")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class App(typer.Typer):
    """typer.Typer whose commands render flags as flags."""

    def command(self, *args, **kwargs):
        """As typer's, with incprof's command class."""
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


# The signals that end a command with one line (see stop_signals).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the command is, to end it as Ctrl-C does."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum, frame):
    raise Stopped(signum)


@contextmanager
def stop_signals():
    """While a command runs, Ctrl-C raises KeyboardInterrupt and SIGTERM and SIGHUP raise Stopped,
    so that each ends it with one line naming what was left unwritten (Group.invoke); a signal
    that was ignored (a background job, nohup) stays ignored. The handlers before are restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, handler in previous.items():
        if handler != signal.SIG_IGN:
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT else _stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)



@contextmanager
def short_lived_gc():
    """Collect cyclic garbage less often while a command runs.

    Importing torch leaves some 165,000 objects that Python's default thresholds (700, 10, 10)
    scan again and again: about a seventh of ``incprof table``'s run time. At (50,000, 20, 20)
    that cost is gone, and the longest command, ``incprof report --referee``, peaks at the same
    memory as with the defaults (measured: 873 MB against 863 MB; a million-object young
    generation took 1.15 GB). The previous thresholds return afterwards, so a caller that runs
    the app in-process keeps its own.
    """
    previous = gc.get_threshold()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*previous)


def say(message: str, prefix: str = "error: ") -> None:
    """One red line on stderr, without the escape sequences or control characters a name in it
    may hold (render.text.terminal)."""
    from ..render.text import terminal

    line = " ".join(terminal(message).split())
    if len(line) > MAX_LINE:  # a safety net: messages quote user input cut short already
        line = line[:MAX_LINE] + "..."
    typer.secho(prefix + line, fg="red", err=True)


# The longest error line printed, in characters.
MAX_LINE = 2000


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one red line on stderr and exit (2: bad input or usage)."""
    say(message)
    raise typer.Exit(code)


# The optional dependencies a command may import, and what to do without each.
WITHOUT = {"torch": "use --no-verify to count from the spec alone",
                      "matplotlib": "leave out --plot"}


@contextmanager
def user_errors():
    """Turn the errors a user can cause or fix into one red line and exit code 2.

    Bad input, an unusable output path (errors.OutputError, which names the path as given) or an
    environment that cannot serve the request, and a missing optional dependency. Anything else
    is not the user's to fix and goes on to shell.Group.main, which reports it as an internal error.
    """
    try:
        yield
    except (SpecError, UsageError) as exc:
        fail(str(exc))
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in WITHOUT:
            raise
        fail(f"{missing} is not installed; install incprof with its dependencies "
             f"(pip install -e .), or {WITHOUT[missing]}")
