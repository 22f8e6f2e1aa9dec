"""The one way a command's result leaves: printed (rich tables on a terminal) or written to a file,
in every format; output paths checked before the work; progress shown on a terminal only."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer

from ..errors import OutputError
from ..render.text import terminal
from .options import Format
from .shell import unwritten, user_errors


def check_outputs(*files: Path | None, folder: Path | None = None) -> None:
    """Refuse unusable output paths (files, or a folder to create) at once, before any work: one
    that cannot be written, one file named for two outputs, or an output that is one of the
    command's input files (a spec, a --model's .py file).

    They are remembered until written, so that a Ctrl-C can name what was left unwritten.
    """
    from ..files import check_folder, check_output, same_file

    named = [path for path in files if path is not None and str(path) != "-"]
    with user_errors():
        for path in named:
            check_output(path)
        for i, path in enumerate(named):
            twice = next((other for other in named[:i] if same_file(path, other)), None)
            if twice is not None:
                raise OutputError(f"cannot write {path}: {twice} is also an output of this "
                                  "command; give each output its own file")
            read = next((source for source in _input_files() if same_file(path, source)), None)
            if read is not None:
                raise OutputError(f"cannot write {path}: it is the input {read}; write the "
                                  "output to another file")
        if folder is not None:
            check_folder(folder)
    unwritten()[:] = [str(path) for path in named]


# The parameters that may name a command's input files.
_INPUT_PARAMS = ("spec", "arch", "a", "b", "old", "new", "model")


def _input_files() -> list[str]:
    """The files the running command reads, from its parameters: spec files (--spec, --arch or
    compare's and diff's sides given as a file) and a --model's .py file."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # typer before it vendored click
        from click import get_current_context

    ctx = get_current_context(silent=True)
    found = []
    for name, value in (ctx.params.items() if ctx is not None else ()):
        source = ctx.get_parameter_source(name)
        if name not in _INPUT_PARAMS or (source is not None and source.name == "DEFAULT"):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (str, Path)):
                text = str(item)
                source = text.rpartition(":")[0] if name == "model" else text
                if source and os.path.isfile(source):
                    found.append(source)
    return found


def wrote(path: Path) -> None:
    """Say that ``path`` is written, and forget it as unwritten."""
    pending = unwritten()
    if str(path) in pending:
        pending.remove(str(path))
    typer.secho(f"wrote {terminal(str(path))}", err=True)


def emit(text: str, output: Path | None) -> None:
    """Print ``text``, or write it to ``output`` (``-``: stdout) as files.write_atomic does."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        return
    from ..files import write_atomic

    with user_errors():
        write_atomic(output, text)
    wrote(output)


def show(grids, fmt: Format, output: Path | None, wide: bool = False,
         brief: bool = False) -> None:
    """Grids as rich tables on a terminal, else as text or markdown; the tables fit the terminal
    (or 110 columns), or with ``wide`` show every column at its natural width. Each conventions
    paragraph is shown once; with ``brief``, each table is followed by its totals line alone."""
    from ..render import grid as render

    grids = render.once_each(list(grids))
    if fmt is Format.markdown:
        emit("\n".join(render.grid_markdown(g, brief) for g in grids), output)
    elif output is None and sys.stdout.isatty():
        from rich.console import Console

        console = Console()
        for grid in grids:
            render.print_grid(grid, console, wide, brief)
    else:
        emit("\n".join(render.grid_text(g, wide=wide, brief=brief) for g in grids), output)


def write_result(fmt: Format, output: Path | None, grids, json=None, csv=None,
                 wide: bool = False, brief: bool = False) -> None:
    """A result in the format asked, printed or written to ``output`` (see emit and show):
    ``json()`` and ``csv()`` give the text of those formats, ``grids(exact, compact)`` the Grids of
    the others: exact integers for markdown, the terminal's compact form for the table format
    unless ``wide``."""
    if fmt is Format.json:
        emit(json(), output)
    elif fmt is Format.csv:
        emit(csv(), output)
    else:
        show(grids(fmt is Format.markdown, fmt is Format.table and not wide), fmt, output, wide,
             brief)


def check_plot(plot: Path | None) -> None:
    """Refuse a --plot path matplotlib cannot write before any work starts."""
    if plot is not None:
        from ..render.plot import check_plot_path

        with user_errors():
            check_plot_path(plot)


def draw(figure, plot: Path, *tables) -> None:
    """Draw ``figure`` of ``tables`` (Records) into ``plot``; data with nothing to show gets one
    line saying why no plot was written, and the command goes on. Characters of the user's names
    that the font cannot draw are named in one line (matplotlib warns once per glyph and draw)."""
    import re
    import warnings

    from ..render.plot import NothingToPlot

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            figure(*tables, plot)
    except NothingToPlot as exc:
        typer.secho(f"no plot written to {terminal(str(plot))}: {terminal(exc)}", err=True)
        return
    missing = set()
    for warning in caught:
        glyph = re.match(r"Glyph \d+ \((.+)\) missing from font", str(warning.message))
        if glyph:
            missing.add(glyph.group(1))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    if missing:
        typer.secho(f"note: the font has no glyph for {', '.join(sorted(missing))}; {terminal(str(plot))} "
                    "draws them as empty boxes", err=True)
    wrote(plot)


def load_hint(threads: int | None,
              effect: str = "its figures will be slowed and marked unstable") -> None:
    """One line on stderr when the machine's 1-minute load exceeds the CPU threads a timing will
    use (``threads``, else torch's default, the cores), saying the ``effect``."""
    import os

    from ..nn.machine import load_average
    from ..units import cpu_threads

    load = load_average()
    used = threads or os.cpu_count() or 1
    if load is not None and load > used:
        typer.secho(f"note: the machine's load ({load:g}) exceeds the {cpu_threads(used)} this "
                    f"timing uses; {effect}"
                    + ("" if threads else "; --threads 1 is steadier on a busy machine"), err=True)


def hinting(step, threads: int | None):
    """``step`` (a progress callback) that first gives the load hint (load_hint), once, as the
    first timing step starts: after the options, the network and any compile have been checked,
    so that a mistake is still reported in one line."""
    given = [False]

    def hinted(label: str) -> None:
        if not given[0] and label.startswith("timing"):
            given[0] = True
            load_hint(threads)
        step(label)
    return hinted


@contextmanager
def progress(first: str, total: int | None = None):
    """On a terminal, a transient line naming the step under way; yields ``step(label)``.

    Each ``step`` call names the step that starts now; with a ``total``, a bar counts the steps
    started before it. Off a terminal nothing is shown, and rich.progress is not even imported.
    """
    if not sys.stderr.isatty():
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    bar = (BarColumn(), MofNCompleteColumn()) if total else ()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), *bar, transient=True,
                  console=Console(stderr=True)) as progress:
        task = progress.add_task(first, total=total)
        started = [0]

        def step(label: str) -> None:
            progress.update(task, description=label, completed=started[0])
            started[0] += 1

        yield step
