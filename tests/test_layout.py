"""The package layout follows the data flow: every import, at module level or inside a function,
points down the floors below; no import circle; spec/ and count/ never import torch, pandas or
matplotlib (counting from a spec needs none of them).

The oracle is the source itself, read with ``ast``: nothing of incprof is imported here."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "incprof"

# Floors from the ground up. A module may import its own package and any package on a lower floor;
# packages that share a floor stay apart. The face (incprof/__init__.py, __main__.py) stands on top.
FLOORS = [
    {"ground"},  # errors, units, records, files, seeded: the modules directly in incprof/
    {"spec"},
    {"count"},
    {"nn", "capture"},
    {"analysis"},
    {"referee"},
    {"render"},
    {"report"},
    {"cli"},
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}
FACE = {"incprof", "incprof.__main__"}
HEAVY = ("torch", "pandas", "matplotlib", "fvcore")


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(name: str) -> list[tuple[str, int]]:
    """Every incprof module and third-party package that ``name`` imports, with the line."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            for alias in node.names:  # ``from . import x`` may name a module
                sub = f"{module}.{alias.name}"
                found.append((sub if sub in MODULES else module, node.lineno))
    return found


def _part(module: str) -> str:
    """The floor plan's name for a module: its subpackage, or 'ground'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else "ground"


GRAPH = {name: sorted({m for m, _ in _imports(name) if m in MODULES and m != name})
         for name in MODULES}


def upward(name: str, imported: str) -> bool:
    """Whether ``name`` importing ``imported`` points up, or across to another package of its floor
    (``from .. import __version__`` reads the face, which is allowed)."""
    if imported == "incprof":
        return False
    here, there = _part(name), _part(imported)
    return here != there and FLOOR[there] >= FLOOR[here]


def circle(graph: dict[str, list[str]]) -> list[str]:
    """One import circle of ``graph`` (module -> modules it imports), or [] when there is none."""
    state: dict[str, int] = {}

    def visit(name, trail):
        state[name] = 1
        for module in graph.get(name, ()):
            if state.get(module) == 1:
                return trail[trail.index(module):] + [module]
            if module not in state and (found := visit(module, trail + [module])):
                return found
        state[name] = 2
        return []

    for name in sorted(graph):
        if name not in state and (found := visit(name, [name])):
            return found
    return []


@pytest.mark.parametrize("name", sorted(set(MODULES) - FACE))
def test_imports_point_down(name):
    assert _part(name) in FLOOR, f"{name} is in no floor of the plan (tests/test_layout.py FLOORS)"
    for module, line in _imports(name):
        if module in MODULES:
            assert not upward(name, module), \
                f"{MODULES[name].name}:{line} imports {module}: not below {_part(name)}"


def test_no_import_circle():
    found = circle(GRAPH)
    assert not found, "import circle: " + " -> ".join(found)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _part(n) in ("spec", "count")))
def test_spec_and_count_need_no_heavy_import(name):
    heavy = [(module, line) for module, line in _imports(name) if module.split(".")[0] in HEAVY]
    assert not heavy, f"{name} imports {heavy[0][0]} (line {heavy[0][1]})"


def test_pandas_is_imported_only_by_records():
    """Records.to_frame is the one door to pandas: no other module imports it, not even for type
    hints, so no CLI command can."""
    importers = sorted({name for name in MODULES for module, _ in _imports(name)
                        if module.split(".")[0] == "pandas"})
    assert importers == ["incprof.records"]


def test_the_rules_catch_what_they_are_for():
    """On made-up imports: up, across a floor, a circle through a function-level import."""
    assert upward("incprof.spec.parse", "incprof.count.analytic")
    assert upward("incprof.nn.build", "incprof.capture.rows")  # same floor, another package
    assert not upward("incprof.count.analytic", "incprof.spec.layers")
    assert not upward("incprof.files", "incprof.errors") and upward("incprof.errors", "incprof.spec.model")
    assert circle({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a", "b", "c", "a"]
    assert circle({"a": ["b"], "b": [], "c": ["a", "b"]}) == []
    # the graph holds function-level imports too (profile imports the cross-check inside a function)
    assert "incprof.nn.crosscheck" in GRAPH["incprof.analysis.profile"]
