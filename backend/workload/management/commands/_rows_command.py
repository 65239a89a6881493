"""What the CAD-calls and roster import commands share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.workload.imports import ImportRejected, ImportResult, problem_text, read_path


class RowsImportCommand(BaseCommand):
    importer: Callable[..., ImportResult]
    what = "rows"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["path"]
        try:
            result = type(self).importer(data=read_path(path), file_name=path.name)
        except ImportRejected as exc:
            for p in exc.problems:
                self.stderr.write(problem_text(p))
            if exc.total > len(exc.problems):
                self.stderr.write(f"... and {exc.total - len(exc.problems)} more")
            raise CommandError(
                f"{path.name}: {exc.total} problem{'s' if exc.total != 1 else ''}; nothing was "
                "imported."
            ) from exc
        imp = result.imp
        self.stdout.write(
            f"{path.name}: {imp.rows} {self.what} read, {imp.imported} imported, "
            f"{imp.duplicates} already stored (import {imp.pk})."
        )
