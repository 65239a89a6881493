"""``compliance_report``: prescribed against delivered dose for a range of days, as CSV."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.reports.compliance import MAX_REPORT_DAYS, REPORT_GROUPINGS, compliance_compute
from backend.reports.exports import compliance_csv_rows


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date like 2026-11-30") from exc


class Command(BaseCommand):
    help = (
        "Compliance of agency-local days FROM..TO (inclusive), recomputed from the visit tables, "
        "grouped by hot spot, officer, squad, shift, district or experiment arm, written as CSV."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="first", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", required=True, help="Last day, YYYY-MM-DD.")
        parser.add_argument("--by", required=True, choices=REPORT_GROUPINGS)
        parser.add_argument("--csv", required=True, help="Output file ('-' for standard output).")

    def handle(self, *args: Any, **opts: Any) -> None:
        first, last = _day(opts["first"]), _day(opts["last"])
        if last < first:
            raise CommandError(f"--to {last} is before --from {first}")
        if (last - first).days + 1 > MAX_REPORT_DAYS:
            raise CommandError(f"at most {MAX_REPORT_DAYS} days at once")
        result = compliance_compute(first=first, last=last, by=opts["by"])
        rows = list(compliance_csv_rows(result))
        if opts["csv"] == "-":
            csv.writer(sys.stdout).writerows(rows)
            return
        out = Path(opts["csv"])
        tmp = out.with_name(out.name + ".part")
        with tmp.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        tmp.replace(out)  # a reader never sees half a report
        self.stderr.write(
            f"{len(rows) - 2} rows and a total by {opts['by']} ({first}..{last}) -> {out}"
        )
