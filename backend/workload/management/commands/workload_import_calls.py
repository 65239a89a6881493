from __future__ import annotations

from backend.workload.imports import calls_import
from backend.workload.management.commands._rows_command import RowsImportCommand


class Command(RowsImportCommand):
    help = (
        "Import calls for service from a CAD export (CSV, one row per responding unit): "
        "call_id, unit, unit_district, call_district, received, en_route (or dispatched), "
        "on_scene, cleared, priority, self_initiated. All or nothing: any bad row is reported "
        "by line and reason and nothing is written. Rows already stored (same call, unit and "
        "en route time) are counted, not stored twice."
    )
    importer = staticmethod(calls_import)
    what = "unit responses"
