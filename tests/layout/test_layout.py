"""The layout's rules, checked on the source: one package per concept, dependencies that
point one way, and pieces small enough to hold in mind (README "Layout")."""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from radon.complexity import cc_visit

APP = Path(__file__).resolve().parents[2] / "app"
MAX_COMPLEXITY = 15
MAX_LINES = 60
# A function may run longer when a comment on the line above its `def` says why.
LONG_MARK = "# long:"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _module_level_imports(path: Path) -> Iterator[str]:
    """The app modules a module imports when it is itself imported (not inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("app."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                yield submodule if submodule in MODULES else node.module


def _graph() -> dict[str, set[str]]:
    return {name: set(_module_level_imports(path)) - {name} for name, path in MODULES.items()}


def _route_modules() -> set[str]:
    return {name for name, path in MODULES.items() if "APIRouter(" in path.read_text()}


def test_no_module_level_import_cycle() -> None:
    graph = _graph()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name in done or name not in graph:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])
    assert cycles == []


def test_no_route_module_imports_another() -> None:
    routes = _route_modules()
    assert {"app.claims.routes", "app.stances.routes"} <= routes  # the check sees them
    graph = _graph()
    assert {name: sorted(graph[name] & routes) for name in routes if graph[name] & routes} == {}


def test_core_imports_no_domain_package() -> None:
    graph = _graph()
    core = {name for name in graph if name.startswith("app.core")}
    outside = {
        name: sorted(t for t in graph[name] if not t.startswith("app.core")) for name in core
    }
    assert {name: targets for name, targets in outside.items() if targets} == {}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_functions_are_small(name: str) -> None:
    source = MODULES[name].read_text()
    lines = source.splitlines()
    too_complex = [
        f"{block.name} ({block.complexity})"
        for block in cc_visit(source)
        if block.complexity > MAX_COMPLEXITY
    ]
    too_long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"  # type: ignore[operator]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_LINES  # type: ignore[operator]
        and LONG_MARK
        not in lines[(node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 2]
    ]
    assert (too_complex, too_long) == ([], [])
