from __future__ import annotations

import csv
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.analytics.randomization import BalanceRow, new_seed
from backend.hotspots.selectors import analysis_run_active
from backend.missions.models import Blocking, Design, Experiment
from backend.missions.selectors import (
    allocation_compute,
    allocation_csv_rows,
    allocation_summary,
    experiment_reproduce,
    experiment_units,
)

DEFAULT_DAYS = 90


def _f(x: float, digits: int = 1) -> str:
    return "-" if x != x or x in (float("inf"), float("-inf")) else f"{x:.{digits}f}"


class Command(BaseCommand):
    help = (
        "Randomize the active hot spots (blocked, paired or place-day) from a seed, print the "
        "balance table and the minimum detectable effect, and write the allocation as CSV "
        "(hotspot_id,rank,district,block,arm,day). Writes nothing to the database. The same "
        "seed and options on the same hot spots always give the same allocation; with "
        "--experiment ID the stored experiment is re-run from its seed and compared."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--design", choices=Design.values)
        parser.add_argument("--seed", type=int, help="Default: a new seed from secrets.")
        parser.add_argument(
            "--blocks",
            choices=Blocking.values,
            default=Blocking.DISTRICT_TIER,
            help="Blocks of the blocked and place-day designs (default district+tier).",
        )
        parser.add_argument("--tiers", type=int, choices=[2, 3], default=2, help="Harm tiers.")
        parser.add_argument("--start", type=date.fromisoformat, help="First day (default today).")
        parser.add_argument(
            "--end", type=date.fromisoformat, help=f"Last day (default {DEFAULT_DAYS} days)."
        )
        parser.add_argument("--csv", help="Write the allocation to this path.")
        parser.add_argument(
            "--experiment", type=int, help="Re-run this stored experiment from its seed."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        found: Experiment | None = None
        if opts["experiment"] is not None:
            experiment = Experiment.objects.select_related("run").filter(pk=opts["experiment"])
            found = experiment.first()
            if found is None:
                raise CommandError(f"No experiment {opts['experiment']}")
            if found.seed is None:
                raise CommandError(f"Experiment {found.pk} has not been randomized")
            run, design, seed = found.run, found.design, found.seed
            blocking, tiers = found.blocking, found.harm_tiers
            start, end = found.starts_on, found.ends_on
        else:
            if not opts["design"]:
                raise CommandError("--design is required (or --experiment ID)")
            active = analysis_run_active()
            if active is None:
                raise CommandError("No hot spots are active: publish an analysis first")
            run = active
            design = opts["design"]
            seed = opts["seed"] if opts["seed"] is not None else new_seed()
            if not 0 <= seed < 2**63:
                raise CommandError("--seed must be from 0 to 2**63 - 1")
            blocking, tiers = opts["blocks"], opts["tiers"]
            start = opts["start"] or timezone.localdate()
            end = opts["end"] or start + timedelta(days=DEFAULT_DAYS - 1)
            if end < start:
                raise CommandError("--end is before --start")
        units = experiment_units(run=run)
        if not units:
            raise CommandError(f"Analysis {run.pk} has no hot spots")
        rows = allocation_compute(
            design=design,
            seed=seed,
            units=units,
            starts_on=start,
            ends_on=end,
            blocking=blocking,
            n_tiers=tiers,
        )
        summary = allocation_summary(
            rows=rows,
            units=units,
            design=design,
            starts_on=start,
            ends_on=end,
            pre_days=run.lookback_days,
        )
        blocks = "pairs by rank" if design == Design.PAIRED else f"blocks {blocking}"
        if design != Design.PAIRED and "tier" in blocking:
            blocks += f", {tiers} harm tiers"
        self.stdout.write(
            f"Design {design} ({blocks}), seed {seed}, {len(units)} hot spots of analysis "
            f"{run.pk}, {start} to {end}: {summary.treated_units} treated and "
            f"{summary.control_units} control {summary.unit}s."
        )
        self._balance(summary.balance.blocks if summary.balance else (), summary)
        self.stdout.write(summary.mde_sentence)
        if opts["csv"]:
            with open(opts["csv"], "w", newline="", encoding="utf-8") as out:
                csv.writer(out).writerows(allocation_csv_rows(rows))
            self.stdout.write(f"Wrote {len(rows)} allocation rows to {opts['csv']}.")
        if found is not None:  # --experiment: compare with the stored allocation
            result = experiment_reproduce(experiment=found)
            if result.identical:
                self.stdout.write(f"Identical to the stored allocation ({result.compared} rows).")
            else:
                raise CommandError(
                    f"{result.differences} rows differ from the stored allocation of experiment "
                    f"{found.pk}"
                )

    def _balance(self, rows: Any, summary: Any) -> None:
        header = (
            f"{'block':<24} {'n T':>5} {'n C':>5} {'count T':>8} {'count C':>8} {'d':>6} "
            f"{'harm T':>9} {'harm C':>9} {'d':>6}"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))

        def line(r: BalanceRow) -> str:
            return (
                f"{r.block[:24]:<24} {r.treatment.n:>5} {r.control.n:>5} "
                f"{_f(r.treatment.count_mean):>8} {_f(r.control.count_mean):>8} "
                f"{_f(r.count_std_diff, 2):>6} {_f(r.treatment.harm_mean, 0):>9} "
                f"{_f(r.control.harm_mean, 0):>9} {_f(r.harm_std_diff, 2):>6}"
            )

        for r in rows:
            self.stdout.write(line(r))
        if summary.balance is not None:
            self.stdout.write("-" * len(header))
            self.stdout.write(line(summary.balance.overall))
