"""The typer app and nothing else: commands, their options, where output goes, and how a run ends.

Run as a command (the ``incprof`` script, ``python -m incprof``), importing this package first makes
Ctrl-C, SIGTERM and SIGHUP end the process with one line while the rest of the CLI imports; the
command then takes them over (shell.Group.main).
"""

import os
import signal
import sys


def _stopped_while_starting(signum, frame):
    # os._exit, not SystemExit: a SystemExit raised here can be swallowed (in an atexit callback
    # when the signal comes as the process ends, or by a library's ``except BaseException``) and
    # the run end with 0 after saying "interrupted"
    sys.stderr.write("interrupted\n")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
            pass
    os._exit(128 + signum)


def _run_as_command() -> bool:
    """Whether this process is the incprof command, not a program that imports incprof."""
    argv = getattr(sys, "orig_argv", [])
    by_module = any(a == "-m" and b == "incprof" for a, b in zip(argv, argv[1:]))
    return by_module or os.path.basename(sys.argv[0] if sys.argv else "") == "incprof"


if _run_as_command():
    for _signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(_signum) in (signal.SIG_DFL, signal.default_int_handler):
                signal.signal(_signum, _stopped_while_starting)  # an ignored signal stays so
        except ValueError:  # not the main thread
            break
