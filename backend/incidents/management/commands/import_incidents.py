from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.incidents.mapping import FIELDS, import_spec_build, parse_column_map, parse_offence_map
from backend.incidents.models import IncidentImport
from backend.incidents.services import incident_import_create, incident_import_submit
from backend.incidents.writing import ImportOutcome, incident_import_run

SHOWN_REJECTIONS = 20


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{k}: {m}" for k, msgs in exc.message_dict.items() for m in msgs)
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Import incidents from a CSV or CSV.gz export. Idempotent: each (source, id) is stored "
        "once, so importing a file again adds only rows not stored before. Bad rows are "
        "reported with their line (the header is line 1) and reason; good rows are kept; "
        "nothing is half-imported. Files without an id column use id=@hash (the default when "
        "id is not mapped): the SHA-1 of the row's raw fields plus '#k' for the k-th identical "
        "row, so the same file always maps to the same ids. Local times without an offset are "
        "read in --tz (DST: a time in the repeated autumn hour is its first occurrence; a time "
        "in the skipped spring hour takes the offset before the change)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The CSV or CSV.gz file.")
        parser.add_argument(
            "--map",
            default="",
            help=f"Columns: FIELD=COLUMN,... with fields {', '.join(FIELDS)}; "
            "e.g. id=uid,occurred_at=date_time,lat=latitude,lon=longitude,offence=type. "
            "id=@hash derives ids from the rows.",
        )
        parser.add_argument("--mapping", default="", help="A saved mapping to start from.")
        parser.add_argument(
            "--save-mapping", default="", help="Save this import's mapping under NAME."
        )
        parser.add_argument(
            "--source",
            default="",
            help="Records system the ids belong to (default: the mapping's, else the file stem).",
        )
        parser.add_argument(
            "--tz",
            default="",
            help="IANA zone of local times without an offset (default: the mapping's, "
            "else PRESENCE_TIME_ZONE). Times with an offset are converted as they say.",
        )
        parser.add_argument(
            "--offence", default="", help="One offence (code or name) for every row."
        )
        parser.add_argument(
            "--offence-map",
            default="",
            help='Offence values of the file to offence codes: "FILE VALUE=code;OTHER=code".',
        )
        parser.add_argument(
            "--async",
            dest="run_async",
            action="store_true",
            help="Keep a copy of the file and run the import as a Celery task.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        path: Path = opts["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            spec = import_spec_build(
                columns=parse_column_map(opts["map"]),
                mapping_name=opts["mapping"],
                time_zone=opts["tz"],
                offence=opts["offence"],
                offence_aliases=parse_offence_map(opts["offence_map"]),
            )
            create = incident_import_submit if opts["run_async"] else incident_import_create
            imp, _ = create(
                path=path,
                file_name=path.name,
                spec=spec,
                source=opts["source"],
                store="copy" if opts["run_async"] else "no",
                save_mapping=opts["save_mapping"],
            )
        except ValidationError as exc:
            raise CommandError(f"{path}: {_errors(exc)}") from exc

        self.stdout.write(f'Import #{imp.pk} of {path.name} (source "{imp.source}")')
        if opts["run_async"]:
            if spec.time_zone_defaulted:
                self.stdout.write(
                    f"Local times (if any) are read in {spec.time_zone}, the agency's time zone "
                    "(no --tz and none in the mapping)."
                )
            imp.refresh_from_db()
            self.stdout.write(f"Queued as a Celery task; status now: {imp.status}.")
            if imp.status in {"done", "failed"}:
                self._report(imp, None)
            return
        try:
            outcome = incident_import_run(import_id=imp.pk, path=path)
        except Exception as exc:
            raise CommandError(f"{path}: nothing was imported: {exc}") from exc
        imp.refresh_from_db()
        if imp.status == "failed":
            raise CommandError(f"{path}: {imp.error}")
        if spec.time_zone_defaulted and outcome.naive_times:
            self.stdout.write(
                f"Local times are read in {spec.time_zone}, the agency's time zone "
                "(no --tz and none in the mapping)."
            )
        self._report(imp, outcome, time.perf_counter() - started)

    def _report(
        self, imp: IncidentImport, outcome: ImportOutcome | None, seconds: float = 0.0
    ) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"imported {imp.imported:,} · duplicates {imp.duplicates:,} · "
                f"rejected {imp.rejected:,}"
            )
        )
        for r in imp.rejections[:SHOWN_REJECTIONS]:
            value = f" [{r['value']}]" if r.get("value") else ""
            self.stdout.write(f"  line {r['line']}: {r['reason']}{value}")
        if imp.rejected > SHOWN_REJECTIONS:
            self.stdout.write(
                f"  ... and {imp.rejected - SHOWN_REJECTIONS:,} more rejected rows "
                f"(the first {len(imp.rejections):,} are on the import's page)"
            )
        unknown = (imp.mapping or {}).get("unknown_offences") or {}
        if unknown:
            listed = ", ".join(f"'{v}' ({n:,})" for v, n in list(unknown.items())[:10])
            self.stdout.write(
                f"Unknown offences: {listed}. Map them with "
                '--offence-map "VALUE=code;..." and run the same command again.'
            )
        if outcome is not None:
            rate = imp.rows_total / seconds if seconds > 0 else 0.0
            how = {"copy": "COPY", "executemany": "INSERT .. ON CONFLICT"}.get(
                outcome.method, "nothing"
            )
            self.stdout.write(
                f"{imp.rows_total:,} rows in {seconds:.2f} s ({rate:,.0f} rows/s); "
                f"written by {how}."
            )
