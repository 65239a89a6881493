from __future__ import annotations

import time as clock
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import District
from backend.hotspots.demo import DEMO_PASSWORD, demo_city_seed
from backend.hotspots.models import AnalysisRun, Incident
from backend.hotspots.services import AnalysisParams, analysis_create, analysis_execute


class Command(BaseCommand):
    help = (
        "Build the demo city (Miami's five target neighbourhoods, 3 squads, two years of "
        "incidents). Deterministic for a given --seed and --end; re-running changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--incidents", type=int, default=200_000, help="How many incidents (default 200000)."
        )
        parser.add_argument(
            "--end",
            type=date.fromisoformat,
            default=None,
            help="Last day (exclusive) of the two years, YYYY-MM-DD (default: today, local).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the database already holds districts or incidents.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates demo logins: refused with PRESENCE_ENV=production"
            )
        if opts["incidents"] < 0:
            raise CommandError("--incidents must be zero or more")
        if opts["if_empty"] and (District.objects.exists() or Incident.objects.exists()):
            self.stdout.write("The database already holds data: demo city not loaded again.")
            return
        end = opts["end"] or datetime.now(ZoneInfo(settings.TIME_ZONE)).date()
        started = clock.perf_counter()
        result = demo_city_seed(seed=opts["seed"], incidents=opts["incidents"], end=end)
        published = ""
        if result.incidents_total and not AnalysisRun.objects.exists():
            # A demo city with hot spots on the map: the default analysis, published.
            run = analysis_create(params=AnalysisParams(as_of=end), publish=True)
            run = analysis_execute(run_id=run.pk)
            published = (
                f" Published {run.hotspots.count()} hot spots ({run.concentration['sentence']})."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo city ready in {clock.perf_counter() - started:.1f} s: "
                f"{result.users_created} users created, {result.incidents_created} incidents "
                f"added ({result.incidents_total} demo incidents in all). "
                f"Password for every demo login: {DEMO_PASSWORD}.{published}"
            )
        )
