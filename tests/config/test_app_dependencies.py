"""Apps depend one way (docs/architecture.md): accounts, audit <- hotspots, workload <- patrols <-
missions <- reports. A lower app hears of a higher one through a signal or a callback, never an
import. workload (calls for service, rosters, capacity) needs only accounts and audit, and
missions' shift schedules read it."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = {"accounts": 0, "audit": 0, "gis": 0, "hotspots": 1, "workload": 1, "patrols": 2,
         "missions": 3, "reports": 4}  # fmt: skip

# Upward imports that predate this test, to be removed by the structure issue (12). The list may
# only shrink: a new entry is a new cycle.
KNOWN = {
    ("backend/hotspots/services.py", "backend.missions.models"),
    ("backend/hotspots/demo.py", "backend.missions.models"),
    ("backend/hotspots/api.py", "backend.missions.selectors"),
    ("backend/patrols/services.py", "backend.missions.models"),
}


def upward_imports() -> set[tuple[str, str]]:
    found = set()
    for app, layer in LAYER.items():
        for path in (REPO / "backend" / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module]
                elif isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                else:
                    continue
                for module in modules:
                    parts = module.split(".")
                    if len(parts) > 1 and parts[0] == "backend" and LAYER.get(parts[1], -1) > layer:
                        found.add((str(path.relative_to(REPO)), module))
    return found


def test_no_app_imports_a_higher_one() -> None:
    assert upward_imports() - KNOWN == set()


def test_the_known_exceptions_still_exist_so_the_list_only_shrinks() -> None:
    assert KNOWN - upward_imports() == set(), "remove the fixed entries from KNOWN"
