from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.analytics.randomization import new_seed
from backend.missions.models import Experiment
from backend.reports.impact import (
    CountsCsvError,
    counts_csv_parse,
    counts_impact,
    experiment_impact,
)

MAX_PERMUTATIONS = 1_000_000  # 1M x 200 places is about 10 s; more buys nothing a p-value needs


class Command(BaseCommand):
    help = (
        "Impact of an experiment, or of counts from a CSV, as JSON: rate ratio with its 95% CI "
        "(cluster-robust), difference in differences, randomization p-value (re-randomizing "
        "within blocks) and a sentence saying what it means. --experiment ID reads the stored "
        "allocation and the incidents (before vs during windows, harm, displacement buffers, "
        "residual deterrence, weekly series); --counts CSV reads place,block,arm,before,during "
        "(block optional; arm treatment|control). Bad rows are listed by line and nothing is "
        "written. --json - writes to standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--experiment", type=int, help="Experiment id.")
        source.add_argument("--counts", help="CSV file: place,block,arm,before,during.")
        parser.add_argument("--json", required=True, help="Output path, or - for stdout.")
        parser.add_argument("--permutations", type=int, default=10_000)
        parser.add_argument(
            "--seed",
            type=int,
            help="Seed of the re-randomizations (default: the experiment's seed; for --counts "
            "a new one from secrets, printed in the JSON).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        permutations = opts["permutations"]
        if not 0 <= permutations <= MAX_PERMUTATIONS:
            raise CommandError(f"--permutations must be from 0 to {MAX_PERMUTATIONS:,}")
        seed = opts["seed"]
        if seed is not None and not 0 <= seed < 2**63:
            raise CommandError("--seed must be from 0 to 2**63 - 1")
        if opts["experiment"] is not None:
            experiment = (
                Experiment.objects.select_related("run").filter(pk=opts["experiment"]).first()
            )
            if experiment is None:
                raise CommandError(f"No experiment {opts['experiment']}")
            result = experiment_impact(experiment=experiment, permutations=permutations, seed=seed)
        else:
            path = Path(opts["counts"])
            try:
                text = path.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {path}: {exc}") from exc
            try:
                table = counts_csv_parse(text=text)
                result = counts_impact(
                    table=table,
                    permutations=permutations,
                    seed=seed if seed is not None else new_seed(),
                )
            except CountsCsvError as exc:
                raise CommandError(
                    f"{path}: {len(exc.errors)} bad row(s), nothing written:\n"
                    + "\n".join(exc.errors)
                ) from exc
            except ValueError as exc:
                raise CommandError(f"{path}: {exc}; nothing written") from exc
        text_out = json.dumps(result, indent=2, allow_nan=False) + "\n"
        if opts["json"] == "-":
            self.stdout.write(text_out, ending="")
            return
        out = Path(opts["json"])
        try:
            out.write_text(text_out, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {out}: {exc}") from exc
        self.stderr.write(f"Wrote {out}: {result.get('sentence', '')}")
