"""The registry: spec files read and checked, the built-in tables by name, and ``load``, the one
door from a name, path or spec to the spec a command counts (flavour applied, aux heads kept or
dropped). Every read honours the ceilings in force (ceilings.py). No torch."""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

from ..errors import SpecError, quoted
from . import ceilings
from .check import check
from .model import ArchSpec
from .variants import apply_flavor
from .yamlio import load_yaml


def parse_spec(data, path: str = "<spec>") -> ArchSpec:
    """Build and check an ArchSpec from already-loaded YAML data."""
    from .parse import Parser

    spec = Parser(path).parse(data)
    check(spec)
    return spec


def load_spec(path: str | Path) -> ArchSpec:
    """Load, validate and shape-check a spec file."""
    return parse_spec(load_yaml(path), str(path))


def tables_dir() -> Path:
    """The folder of built-in specs: ``tables/`` beside the package in a checkout (or an editable
    install), ``incprof/tables/`` inside it when installed from a wheel (see pyproject.toml)."""
    here = Path(__file__).resolve().parent
    checkout = here.parent.parent / "tables"
    return checkout if (checkout / "googlenet.yaml").is_file() else here.parent / "tables"


def available() -> list[str]:
    """Names of the built-in architectures."""
    return sorted(p.stem for p in tables_dir().glob("*.yaml"))


def is_path(name_or_path: str | Path) -> bool:
    """Whether ``name_or_path`` names a file rather than a built-in architecture: a Path (as
    ``--spec`` gives), or text with a slash or ending in .yaml or .yml. Files in the working
    directory never shadow a bare name."""
    return (isinstance(name_or_path, Path) or "/" in name_or_path or os.sep in name_or_path
            or name_or_path.endswith((".yaml", ".yml")))


def resolve(name_or_path: str | Path) -> ArchSpec:
    """Load a spec file by path (see ``is_path``), or else a built-in spec by name."""
    if is_path(name_or_path):
        return load_spec(name_or_path)
    if name_or_path not in available():
        raise SpecError(f"unknown architecture {quoted(name_or_path)}; built-in: "
                        f"{', '.join(available())} (or pass a path to a YAML spec)")
    return _builtin(name_or_path, ceilings.current())


@functools.lru_cache(maxsize=None)
def _builtin(name: str, read_under: ceilings.Ceilings) -> ArchSpec:
    """A built-in spec, read once for each ceilings value it is read under (a report names each
    table several times). Both arguments are frozen values, and so is the spec: sharing it is safe,
    and a command with other ceilings gets its own read (which may refuse)."""
    with ceilings.using(read_under):
        return load_spec(tables_dir() / f"{name}.yaml")


def load(arch: str | Path | ArchSpec, flavor: str = "paper", aux: bool = True) -> ArchSpec:
    """The spec a command counts: ``arch`` resolved (a name or path; a spec is taken as it is), its
    ``flavor`` applied, and with ``aux=False`` its aux heads dropped."""
    spec = arch if isinstance(arch, ArchSpec) else resolve(arch)
    spec = apply_flavor(spec, flavor)
    return spec if aux else dataclasses.replace(spec, aux=())
