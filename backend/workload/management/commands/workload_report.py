from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.workload.imports import district_find
from backend.workload.selectors import (
    CSV_HEADER,
    DEFAULT_DAYS,
    MAX_DAYS,
    report_csv_rows,
    workload_for,
)


class Command(BaseCommand):
    help = (
        "Write a district's (or 'citywide') workload as CSV: 168 rows, Monday 00 to Sunday 23, "
        "with the header " + ",".join(CSV_HEADER) + ". Figures come from the calls and "
        "rosters of the days --from..--to (default the 28 days up to yesterday), or from the "
        "imported matrices when there are none; flags are against PRESENCE_WORKLOAD_TARGET."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--district", required=True, help="A district's name or code, or 'citywide'."
        )
        parser.add_argument("--csv", required=True, type=Path, help="Write the rows here.")
        parser.add_argument("--from", dest="first", type=date.fromisoformat)
        parser.add_argument("--to", dest="last", type=date.fromisoformat)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            district = district_find(opts["district"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        last = opts["last"] or timezone.localdate() - timedelta(days=1)
        first = opts["first"] or last - timedelta(days=DEFAULT_DAYS - 1)
        if last < first:
            raise CommandError("--to is before --from")
        if (last - first).days + 1 > MAX_DAYS:
            raise CommandError(f"at most {MAX_DAYS} days at once")
        view = workload_for(district=district, first=first, last=last)
        out: Path = opts["csv"]
        try:
            with out.open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(report_csv_rows(view))
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from exc
        flags = view.flags
        self.stdout.write(
            f"{view.scope}, {first} to {last}: CFS from {view.cfs_source.text}; available from "
            f"{view.available_source.text}. {int(flags.high.sum())} hour blocks at or above "
            f"{view.targets.high_pct:g}%, {int(flags.low.sum())} at or below "
            f"{view.targets.low_pct:g}%, {int(flags.over_100.sum())} over 100%, "
            f"{len(flags.runs)} runs above {view.targets.run_pct:g}% for more than "
            f"{view.targets.run_max_hours} h. Wrote 168 rows to {out}."
        )
