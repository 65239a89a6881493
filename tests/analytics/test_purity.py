"""backend/analytics is pure computation: it must never import Django, DRF or Celery."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANALYTICS = REPO / "backend" / "analytics"
FORBIDDEN = {"django", "rest_framework", "celery"}


def test_analytics_source_never_imports_django_drf_or_celery() -> None:
    files = sorted(ANALYTICS.rglob("*.py"))
    assert len(files) >= 5
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_every_analytics_module_loads_no_django_drf_or_celery() -> None:
    modules = sorted(
        "backend.analytics." + p.stem for p in ANALYTICS.glob("*.py") if p.stem != "__init__"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert len(modules) >= 4
    assert out.stdout.strip() == "[]"
