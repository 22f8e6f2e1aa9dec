"""Output files that behave like files: checked before any work, then written whole or not at all.

A regular file (or a new path) is replaced atomically: the data goes to a temporary file beside the
target, which is renamed over it, so a reader sees the old file or the whole new one. A symlink is
followed: its target is replaced and the link stays. A device or FIFO is written through as a stream,
and ``-`` means stdout. A new file gets the mode ``open(path, "w")`` would give it (0666 less the
umask); a replaced file keeps its own mode. Errors name the path as the caller gave it, never the
temporary file.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputError


def check_output(path: str | Path) -> None:
    """Refuse, before any work, an output file that cannot be written (OutputError, one line)."""
    name = os.fspath(path)
    if name == "-":
        return
    try:
        st = os.stat(name)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {exc.strerror or exc}", exc.errno) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {name}: it is a folder")
        if not os.access(name, os.W_OK):
            raise OutputError(f"cannot write {name}: permission denied")
        if not stat.S_ISREG(st.st_mode):
            return  # a device or FIFO: written through, nothing is created beside it
    problem = _folder_problem(os.path.dirname(_replaced_path(name)) or ".")
    if problem:
        raise OutputError(f"cannot write {name}: {problem}")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether the paths ``a`` and ``b`` name one file: the same file on disk, or the same path
    once links and ``..`` are resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_folder(path: str | Path) -> None:
    """Refuse, before any work, an output folder that cannot be created or written into."""
    name = os.fspath(path)
    existing = name
    while not os.path.exists(existing):  # the folder is created with its parents
        parent = os.path.dirname(existing)
        existing = parent if parent and parent != existing else "."
    problem = _folder_problem(existing)
    if problem:
        raise OutputError(f"cannot write into {name}: {problem}")


@contextmanager
def folder_made_for(path: str | Path):
    """Around a block that creates the folder ``path`` (and its parents) and writes into it: if the
    block fails or is interrupted, the folders it created and left empty are removed again, so a
    failed run leaves no empty folder behind."""
    probe, top = os.path.abspath(os.fspath(path)), None
    while not os.path.lexists(probe):
        probe, top = os.path.dirname(probe), probe
    try:
        yield
    except BaseException:
        if top is not None and os.path.isdir(top):
            for folder, _, _ in os.walk(top, topdown=False):
                try:
                    os.rmdir(folder)
                except OSError:  # not empty: it holds files this run wrote whole
                    pass
        raise


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never part.

    See the module docstring for symlinks, devices, FIFOs, ``-`` and file modes. Failures raise
    OutputError (an OSError) naming ``path``; no temporary file is left behind.
    """
    name = os.fspath(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if name == "-":
            stream = getattr(sys.stdout, "buffer", None)
            if stream is None:
                sys.stdout.write(payload.decode("utf-8"))
            else:
                stream.write(payload)
            sys.stdout.flush()
            return
        try:
            st = os.stat(name)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {name}: it is a folder")
        if st is not None and not stat.S_ISREG(st.st_mode):
            with open(name, "wb") as handle:
                handle.write(payload)
            return
        mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        _replace(_replaced_path(name), payload, mode)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {exc.strerror or exc}", exc.errno) from None


def _replace(target: str, payload: bytes, mode: int) -> None:
    """Write a temporary file beside ``target`` with ``mode``, then rename it over ``target``."""
    with _signals_deferred():
        fd, tmp = tempfile.mkstemp(prefix=f".{_short(os.path.basename(target))}.", suffix=".tmp",
                                   dir=os.path.dirname(target) or ".")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _short(name: str, limit: int = 100) -> str:
    """The first ``limit`` bytes of a file name, for a temporary name beside it that stays within
    the system's name limit (NAME_MAX, 255 bytes) however long the target's name is."""
    return os.fsdecode(os.fsencode(name)[:limit])


def _replaced_path(name: str) -> str:
    """The file a write to ``name`` replaces: a symlink's final target, else ``name`` itself."""
    return os.path.realpath(name) if os.path.islink(name) else name


def _folder_problem(folder: str) -> str | None:
    """Why files cannot be created in ``folder``, or None."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return f"folder {folder} does not exist"
    except NotADirectoryError:
        return f"{folder} is not a folder"
    except OSError as exc:
        return f"{folder}: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def _signals_deferred():
    """Hold Ctrl-C, SIGTERM and SIGHUP until the block ends, so a started write finishes (or is
    cleaned up) first; then the first one received acts as it would have."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple] = []
    previous = {signum: signal.signal(signum, lambda *args: received.append(args))
                for signum in _DEFERRED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signum = received[0][0]
            if callable(previous[signum]):
                previous[signum](*received[0])
            elif previous[signum] == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


_DEFERRED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
