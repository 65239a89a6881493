"""Apps depend one way (docs/architecture.md, first section): accounts, audit, gis <- incidents,
workload <- hotspots <- patrols <- missions <- reports. A lower app hears of a higher one through a
signal or a callback registry, never an import: not at module level, and not inside a function
either. Within an app, modules import each other without a cycle (imports <-> tasks was one).

The imports are read with ``ast``, as the purity test does for ``backend/analytics``."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = {
    "accounts": 0,
    "audit": 0,
    "gis": 0,
    "incidents": 1,
    "workload": 1,  # calls for service, rosters, capacity: missions' schedules read it
    "hotspots": 2,
    "patrols": 3,
    "missions": 4,
    "reports": 5,
}
# Not layered: ``config`` wires every app together (settings, URLs, Celery) and its shared helpers
# (``localtime``, ``api``) import no app; ``analytics`` is pure (tests/analytics checks it).
UNLAYERED = {"config", "analytics"}


@dataclass(frozen=True)
class Import:
    path: str  # file, relative to the root
    line: int
    module: str  # dotted, resolved to a module where ``from package import module`` is used
    in_function: bool


def _module_of(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def imports_in(root: Path, path: Path) -> Iterator[Import]:
    """Every import in ``path`` (functions included), with ``from a.b import c`` read as the
    module ``a.b.c`` when ``c`` is a module under ``root``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    rel = str(path.relative_to(root))
    package = _module_of(root, path).rsplit(".", 1)[0]
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            modules = [
                f"{base}.{a.name}" if _is_module(root, f"{base}.{a.name}") else base
                for a in node.names
            ]
        else:
            continue
        for module in dict.fromkeys(modules):
            yield Import(rel, node.lineno, module, id(node) in in_function)


def _sources(root: Path, app: str) -> Iterator[Path]:
    for path in sorted((root / "backend" / app).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def upward_imports(root: Path = REPO) -> list[Import]:
    """Imports of a higher app's module, at module level or inside a function."""
    found = []
    for app, layer in LAYER.items():
        for path in _sources(root, app):
            for imp in imports_in(root, path):
                parts = imp.module.split(".")
                if len(parts) > 1 and parts[0] == "backend" and LAYER.get(parts[1], -1) > layer:
                    found.append(imp)
    return found


def module_cycles(root: Path = REPO) -> list[list[str]]:
    """Import cycles between the modules of one app (every import counts, in functions too:
    an import moved into a function still makes the two modules need each other)."""
    cycles = []
    for app in sorted(set(LAYER) | UNLAYERED):
        graph: dict[str, set[str]] = {}
        for path in _sources(root, app):
            me = _module_of(root, path)
            graph[me] = {
                imp.module
                for imp in imports_in(root, path)
                if imp.module.startswith(f"backend.{app}.") and imp.module != me
            }
        cycles.extend(_cycles(graph))
    return cycles


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def documented_layers() -> list[set[str]]:
    """The layer line at the top of docs/architecture.md, lowest layer first."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    match = re.search(r"^`([a-z, ]+(?: <- [a-z, ]+)+)`$", text, flags=re.MULTILINE)
    assert match, "docs/architecture.md must state the layer order as `a, b <- c <- ...`"
    return [{a.strip() for a in layer.split(",")} for layer in match.group(1).split(" <- ")]


def test_no_app_imports_a_higher_one_even_inside_a_function() -> None:
    assert upward_imports() == []


def test_no_two_modules_of_an_app_import_each_other() -> None:
    assert module_cycles() == []


def test_every_app_has_a_layer() -> None:
    apps = {p.parent.name for p in (REPO / "backend").glob("*/__init__.py")}
    assert apps - UNLAYERED == set(LAYER)


def test_the_documented_layer_order_is_the_one_enforced() -> None:
    by_layer: dict[int, set[str]] = {}
    for app, layer in LAYER.items():
        by_layer.setdefault(layer, set()).add(app)
    assert documented_layers() == [by_layer[k] for k in sorted(by_layer)]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checks_see_a_function_level_upward_import_and_a_cycle(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "backend/__init__.py": "",
            "backend/patrols/__init__.py": "",
            "backend/patrols/services.py": "def f():\n    from backend.missions.models import M\n",
            "backend/missions/__init__.py": "",
            "backend/missions/models.py": "",
            "backend/incidents/__init__.py": "",
            "backend/incidents/services.py": "from backend.incidents import tasks\n",
            "backend/incidents/tasks.py": "def g():\n    from backend.incidents import services\n",
            "backend/incidents/models.py": "from backend.accounts.models import User\n",
        },
    )
    (up,) = upward_imports(tmp_path)
    assert (up.path, up.line, up.module, up.in_function) == (
        "backend/patrols/services.py",
        2,
        "backend.missions.models",
        True,
    )
    assert module_cycles(tmp_path) == [["backend.incidents.services", "backend.incidents.tasks"]]
