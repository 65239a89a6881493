from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.workload.imports import (
    ImportRejected,
    district_find,
    matrix_import,
    problem_text,
    read_path,
)
from backend.workload.models import MatrixKind


class Command(BaseCommand):
    help = (
        "Import a 24x7 workload matrix in the staffing study's layout (a header row "
        "hour,MON,TUE,WED,THU,FRI,SAT,SUN, then one row per hour 0000..2300) for a district, "
        "or 'citywide'. --kind cfs: calls-for-service hours per week; --kind available: "
        "available officer-hours per week. Replaces the matrix imported before; a file with "
        "any bad cell is refused whole, each problem reported by line, and nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--kind", required=True, choices=MatrixKind.values)
        parser.add_argument(
            "--district", required=True, help="A district's name or code, or 'citywide'."
        )
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            district = district_find(opts["district"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        path: Path = opts["path"]
        try:
            result = matrix_import(
                kind=opts["kind"], district=district, data=read_path(path), file_name=path.name
            )
        except ImportRejected as exc:
            for p in exc.problems:
                self.stderr.write(problem_text(p))
            if exc.total > len(exc.problems):
                self.stderr.write(f"... and {exc.total - len(exc.problems)} more")
            raise CommandError(
                f"{path.name}: {exc.total} problem{'s' if exc.total != 1 else ''}; nothing was "
                "imported."
            ) from exc
        scope = district.name if district else "citywide"
        self.stdout.write(
            f"Imported the {opts['kind']} matrix for {scope} from {path.name} "
            f"(import {result.imp.pk})."
        )
