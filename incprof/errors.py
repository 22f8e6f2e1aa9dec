"""The one error type users see for bad input."""

from __future__ import annotations


class SpecError(ValueError):
    """A problem with a spec file, reported as one line: ``file:line: row 'name': problem``."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 row: str | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.row = row
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<spec>"
        if self.line:
            where += f":{self.line}"
        prefix = f"{where}: "
        if self.row:
            prefix += f"row '{shown(self.row)}': "
        return prefix + " ".join(self.message.split())

    def located(self, *, path: str | None = None, line: int | None = None,
                row: str | None = None) -> "SpecError":
        """Return a copy with missing location fields filled in."""
        return SpecError(self.message, path=self.path or path, line=self.line or line,
                         row=self.row or row)


def shown(text: str, limit: int = 80) -> str:
    """``text`` safe to quote in a one-line message: at most ``limit`` characters, with control
    characters, lone surrogates and other unprintable characters escaped."""
    cut = text[:limit]
    if not cut.isprintable():
        cut = repr(cut)[1:-1]
    return cut + ("..." if len(text) > limit else "")


def quoted(value, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for an error message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class ResourceError(SpecError):
    """The requested work would exceed a resource bound (memory, size); reported like a SpecError."""


class UsageError(Exception):
    """A request the environment cannot serve (no CUDA, an unsupported dtype, out of memory)."""


class OutputError(UsageError, OSError):
    """An output path that cannot be written, named as the user gave it, with the OS's reason.

    It is an OSError too, so library callers that catch OSError around a write still do.
    """

    def __init__(self, message: str, errno: int | None = None) -> None:
        super().__init__(" ".join(message.split()))
        self.errno = errno

    def __str__(self) -> str:
        return self.args[0]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name where it has none."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def described(exc: BaseException, limit: int = 300) -> str:
    """'ValueError: its message's first line' (with the next where the first ends in ':' and so
    only announces it, as huggingface_hub's "Validation error for field 'x':"), at most ``limit``
    characters of the message; the type's name alone where the message is empty."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0] + (" " + lines[1] if lines[0].endswith(":") and len(lines) > 1 else "")
    return f"{type(exc).__name__}: {first[:limit]}"
