from __future__ import annotations

import logging
import time as clock
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import District
from backend.config.localtime import agency_zone
from backend.hotspots.demo import (
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    demo_city_seed,
    demo_incidents_release,
)
from backend.hotspots.models import AnalysisRun
from backend.hotspots.services import AnalysisParams, analysis_create, analysis_execute
from backend.incidents.models import Incident
from backend.missions.demo import mission_menu_seed
from backend.reports.demo import (
    EFFECT_SHARE,
    HISTORY_DAYS,
    demo_effect,
    demo_experiment_ensure,
    demo_history_simulate,
)


class Command(BaseCommand):
    help = (
        "Build the demo city (Miami's five target neighbourhoods, 3 squads, two years of "
        "incidents) and its history: an experiment started --history-days ago with a true "
        "effect, and that many days of patrols, missions and activities. Deterministic for a "
        "given --seed and --end; re-running changes nothing."
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
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help=f"Days of patrol history before --end, the experiment's age (default "
            f"{HISTORY_DAYS}; 0: no experiment and no history).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates demo logins: refused with PRESENCE_ENV=production"
            )
        if opts["incidents"] < 0:
            raise CommandError("--incidents must be zero or more")
        history_days = opts["history_days"]
        if not 0 <= history_days <= 365:
            raise CommandError("--history-days must be from 0 to 365")
        if opts["if_empty"] and (District.objects.exists() or Incident.objects.exists()):
            self.stdout.write("The database already holds data: demo city not loaded again.")
            return
        today = datetime.now(agency_zone()).date()
        end = opts["end"] or today
        if history_days and end > today:
            raise CommandError(
                "--end is in the future: patrol history can only be simulated in the past "
                "(give --history-days 0 for a city without history)"
            )
        seed, n = opts["seed"], opts["incidents"]
        # The experiment starts history_days before the end; its hot spots come from the
        # analysis as of that day, so from data before it started.
        starts_on = end - timedelta(days=history_days)
        started = clock.perf_counter()
        result = demo_city_seed(
            seed=seed, incidents=n, end=end, hold_from=starts_on if history_days else None
        )
        mission_menu_seed()  # before the analysis: its briefings suggest the menu's tactics
        timing = {"city": clock.perf_counter() - started}
        published = ""
        if result.incidents_total and not AnalysisRun.objects.exists():
            # A demo city with hot spots on the map: the default analysis, published.
            t = clock.perf_counter()
            run = analysis_create(params=AnalysisParams(as_of=starts_on), publish=True)
            run = analysis_execute(run_id=run.pk)
            published = (
                f" Published {run.hotspots.count()} hot spots as of {starts_on} "
                f"({run.concentration['sentence']})."
            )
            timing["analysis"] = clock.perf_counter() - t
        created, total = result.incidents_created, result.incidents_total
        history = ""
        if history_days:
            t = clock.perf_counter()
            experiment = demo_experiment_ensure(seed=seed, starts_on=starts_on)
            release = demo_incidents_release(
                seed=seed,
                incidents=n,
                end=end,
                hold_from=starts_on,
                withhold=demo_effect(seed=seed, experiment=experiment) if experiment else None,
            )
            created, total = created + release.created, release.total
            timing["experiment"] = clock.perf_counter() - t
            if experiment is None:
                history = " No hot spots, so no experiment and no patrol history."
            else:
                # Ending each simulated session runs its rollup task eagerly (no broker): one
                # log line per session would bury the summary.
                trace = logging.getLogger("celery.app.trace")
                level = trace.level
                trace.setLevel(logging.WARNING)
                try:
                    h = demo_history_simulate(seed=seed, experiment=experiment, end=end)
                finally:
                    trace.setLevel(level)
                timing["history"] = h.seconds["total"]
                missions = ", ".join(f"{v} {k}" for k, v in sorted(h.missions.items()))
                steps = ", ".join(f"{k} {v:.1f} s" for k, v in h.seconds.items() if k != "total")
                history = (
                    f" Experiment '{experiment.name}' running since {experiment.starts_on} "
                    f"({release.withheld} incidents in treatment hot spots since then withheld:"
                    f" a true effect of {EFFECT_SHARE:.0%}). History of {h.days} days: "
                    f"{h.sessions} patrol sessions, {h.pings} pings, {h.avl_pings} AVL pings, "
                    f"{h.visits} visits, {h.avl_visits} AVL visits, {h.activities} activities; "
                    f"missions: {missions or 'none'} ({steps})."
                )
        timing["total"] = clock.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo city ready in {timing['total']:.1f} s: "
                f"{result.users_created} users created, {created} incidents "
                f"added ({total} demo incidents in all). "
                f"Password for every demo login: {DEMO_PASSWORD}. Staff logins (sergeants, "
                f"supervisor, analyst, admin) also ask for a code: add the authenticator secret "
                f"{DEMO_TOTP_SECRET} to an authenticator app, or run manage.py demo_code."
                f"{published}{history} "
                "Timing: " + ", ".join(f"{k} {v:.1f} s" for k, v in timing.items()) + "."
            )
        )
