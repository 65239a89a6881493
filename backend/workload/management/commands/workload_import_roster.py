from __future__ import annotations

from backend.workload.imports import roster_import
from backend.workload.management.commands._rows_command import RowsImportCommand


class Command(RowsImportCommand):
    help = (
        "Import a roster (CSV, one row per officer or unit shift): unit, district, start, end, "
        "meal_minutes, court_minutes. All or nothing: any bad row is reported by line and "
        "reason and nothing is written. A shift already stored (same unit and start) is "
        "counted, not stored twice."
    )
    importer = staticmethod(roster_import)
    what = "shifts"
