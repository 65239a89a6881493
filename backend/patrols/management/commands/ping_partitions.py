from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.patrols.partitions import (
    ping_partitions,
    ping_partitions_ensure,
    pings_retention_apply,
    pings_retention_cutoff,
)


class Command(BaseCommand):
    help = (
        "Make the coming days' pings partitions (PostgreSQL; what the hourly beat job does), "
        "list them, and with --retention remove the raw pings of expired, rolled-up days (what "
        "the nightly beat job does; on SQLite it deletes those days' rows)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ahead",
            type=int,
            default=None,
            help="Days to make ahead of today (default PRESENCE_PING_PARTITIONS_AHEAD, "
            f"now {settings.PRESENCE_PING_PARTITIONS_AHEAD}).",
        )
        parser.add_argument(
            "--retention",
            action="store_true",
            help="Also remove expired days (older than PRESENCE_PING_RETENTION_DAYS, now "
            f"{settings.PRESENCE_PING_RETENTION_DAYS}) whose visits are rolled up.",
        )
        parser.add_argument("--list", action="store_true", help="List the day partitions.")

    def handle(self, *args: Any, **opts: Any) -> None:
        ahead = opts["ahead"]
        if ahead is not None and not 0 <= ahead <= 366:
            raise CommandError("--ahead must be in 0..366")
        created = ping_partitions_ensure(days_ahead=ahead)
        for name in created:
            self.stdout.write(f"created {name}")
        if opts["retention"]:
            result = pings_retention_apply()
            self.stdout.write(f"retention: days before {result.cutoff} are expired")
            for day, rows in sorted(result.removed.items()):
                self.stdout.write(f"removed the raw pings of {day} ({rows} rows)")
            for day in result.kept_not_rolled_up:
                self.stdout.write(f"kept {day}: a patrol session of that day is not rolled up")
        if opts["list"]:
            parts = ping_partitions()
            if not parts:
                self.stdout.write("pings are not partitioned here (SQLite keeps one table)")
            for p in parts:
                self.stdout.write(f"{p.name}  {p.start.isoformat()}  {p.end.isoformat()}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(created)} partitions created; raw pings are kept from "
                f"{pings_retention_cutoff()}"
            )
        )
