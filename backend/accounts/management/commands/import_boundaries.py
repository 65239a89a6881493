"""``import_boundaries PATH --kind district|beat``: district or beat boundaries from GeoJSON,
GeoPackage or a zipped shapefile; bad geometries reported by feature, nothing half-imported."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.services import boundaries_import
from backend.gis.boundaries import BoundaryFileError


class Command(BaseCommand):
    help = "Import district or beat boundaries (GeoJSON, GeoPackage or zipped shapefile)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--kind", choices=["district", "beat"], required=True)
        parser.add_argument("--name-field", default="name")
        parser.add_argument("--code-field", default="code", help="empty: codes from the names")
        parser.add_argument(
            "--district-field", default="district", help="beats: the field naming the district"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            result = boundaries_import(
                path=opts["path"],
                kind=opts["kind"],
                name_field=opts["name_field"],
                code_field=opts["code_field"] or None,
                district_field=opts["district_field"],
            )
        except BoundaryFileError as exc:
            raise CommandError(str(exc)) from exc
        if result.errors:
            for number, name, reason in result.errors:
                self.stderr.write(f"feature {number} ({name}): {reason}")
            raise CommandError(
                f"{len(result.errors)} bad feature(s): nothing imported; fix them and run again"
            )
        self.stdout.write(
            f"imported {len(result.saved)} {opts['kind']}(s): {', '.join(result.saved)}"
        )
