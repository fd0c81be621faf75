"""The layers: each module imports only modules of its own layer or below, and no package imports
another that imports it back (docs/architecture.md). Read from the source (AST), so a new import
that runs uphill fails here, named with its file and line.

From the ground up: pure values and rules; the actor runtime; device actors; station
coordination and storage (neither imports the other); the floor's assembly; the services (console
server, platform sync: they know the floor, not it them) and the module that adds them to a floor;
and at the top the command line, which imports the simulators, the terminal console and the
reference platform only inside the commands that need them.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "supervisor", "actors", "platform_client", "platform_server", "simulator", "tui",
            "fillfloor", "benchmarks")  # fmt: skip

# (module prefix, layer), the most specific prefix wins.
LAYERS: dict[str, int] = {
    "domain": 0,
    "supervisor.errors": 0,
    "supervisor.tomlcheck": 0,
    "supervisor.tomlfields": 0,  # reads a settings class from a table by its fields
    "supervisor.console.protocol": 0,  # the console's wire protocol: shared by server and terminal
    "supervisor.runtime": 1,
    "actors": 2,
    "supervisor.station": 3,
    "supervisor.storage": 3,
    "supervisor.floor": 4,
    "supervisor.devices": 4,
    "supervisor.registry_watch": 4,
    "supervisor.journal": 4,
    "supervisor.config": 4,
    "supervisor.console": 5,
    "platform_client": 5,
    "supervisor.services": 6,
    "fillfloor": 7,
    "simulator": 7,
    "platform_server": 7,
    "tui": 7,
    "benchmarks": 8,
}
# Within one layer these do not import each other (they are side by side, not stacked).
APART = (("supervisor.station", "supervisor.storage"), ("supervisor.console", "platform_client"))
# Tools the command line runs: imported inside the command that needs them, never at start.
TOOLS = ("simulator", "tui", "platform_server")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, at module level) of each import of our packages."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [(node.lineno, n, id(node) in top) for n in names if _ours(n)]
    return found


def _sources() -> list[Path]:
    return [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py")) if "migrations" not in p.parts]


def test_every_import_goes_down_or_sideways() -> None:
    uphill = []
    for path in _sources():
        module = _module(path)
        for line, target, _ in _imports(path):
            if _layer(target) > _layer(module):
                uphill.append(f"{path.relative_to(ROOT)}:{line}: {module} (layer {_layer(module)}) imports "
                              f"{target} (layer {_layer(target)})")  # fmt: skip
            for a, b in APART:
                if (module.startswith(a) and target.startswith(b)) or (
                    module.startswith(b) and target.startswith(a)
                ):
                    uphill.append(
                        f"{path.relative_to(ROOT)}:{line}: {module} imports {target} (side by side)"
                    )
    assert not uphill, "\n".join(uphill)


def test_no_package_imports_one_that_imports_it_back() -> None:
    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "supervisor" and len(parts) > 1 else parts[0]

    graph: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        source = package(_module(path))
        for _, target, _ in _imports(path):
            if package(target) != source:
                graph[source].add(package(target))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ())
        )

    cycles = sorted(f"{a} ⇄ {b}" for a in graph for b in graph[a] if reaches(b, a, {b}))
    assert not cycles, cycles


def test_the_command_line_imports_its_tools_only_in_the_commands_that_need_them() -> None:
    eager = [
        f"{path.relative_to(ROOT)}:{line}: {target}"
        for path in sorted((ROOT / "fillfloor").rglob("*.py"))
        for line, target, at_top in _imports(path)
        if at_top and target.split(".")[0] in TOOLS
    ]
    assert not eager, eager


@pytest.mark.parametrize("name", ["fillfloor", "domain", "supervisor.floor"])
def test_fillfloor_is_importable_under_its_own_name(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    if name == "fillfloor":
        assert module.__version__
        assert callable(module.main)
