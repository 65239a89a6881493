from __future__ import annotations

import csv
import json
import time as clock
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.models import District
from backend.hotspots.exports import grid_csv_rows, hotspots_geojson
from backend.hotspots.services import AnalysisParams, analysis_create, analysis_execute


class Command(BaseCommand):
    help = (
        "Find harm-weighted micro hot spots: Gi* on a grid of square cells over the look-back "
        "before --as-of, top K cells per district with z >= 1.96, touching cells merged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            required=True,
            help="The look-back ends at the start of this local day (YYYY-MM-DD).",
        )
        parser.add_argument("--lookback-days", type=int, default=365)
        parser.add_argument("--cell-size", type=float, default=150.0, help="Metres.")
        parser.add_argument("--top", type=int, default=20, help="Cells per district.")
        parser.add_argument("--district", help="Only this district (name or code).")
        parser.add_argument("--window", default="", help='e.g. "Fri-Sat 20:00-04:00"')
        parser.add_argument("--geojson", help="Write the hot spots as GeoJSON to this path.")
        parser.add_argument("--grid-csv", help="Write every non-empty cell as CSV to this path.")
        parser.add_argument(
            "--publish",
            action="store_true",
            help="Make these hot spots the active ones that missions use.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        district_id = None
        if opts["district"]:
            d = District.objects.filter(name__iexact=opts["district"]).first() or (
                District.objects.filter(code=opts["district"]).first()
            )
            if d is None:
                names = ", ".join(District.objects.values_list("name", flat=True)) or "none"
                raise CommandError(f"No district {opts['district']!r}; districts: {names}")
            district_id = d.pk
        params = AnalysisParams(
            as_of=opts["as_of"],
            lookback_days=opts["lookback_days"],
            cell_size_m=opts["cell_size"],
            top_k=opts["top"],
            window=opts["window"],
            district_id=district_id,
        )
        started = clock.perf_counter()
        try:
            run = analysis_create(params=params, publish=opts["publish"])
        except ValidationError as exc:
            raise CommandError(
                "; ".join(
                    f"--{k.replace('_', '-')}: {' '.join(v)}" for k, v in exc.message_dict.items()
                )
            ) from exc
        run = analysis_execute(run_id=run.pk)
        elapsed = clock.perf_counter() - started

        self.stdout.write(
            f"Analysis {run.pk}: {run.incidents_analysed:,} incidents, {run.hotspots.count()} hot "
            f"spots in {elapsed:.2f} s (harm index v{run.weights_version.number})."
        )
        if run.concentration:
            self.stdout.write(f"Concentration: {run.concentration['sentence']}.")
        if run.stability.get("cells_before"):
            self.stdout.write(
                f"Stability: {100 * run.stability['retained_share']:.0f}% of hot spot cells were "
                "hot spot cells in the previous period."
            )
        self.stdout.write(f"{'rank':>4}  {'harm':>10}  {'count':>6}  {'gi_z':>6}  cells  district")
        for h in run.hotspots.select_related("district").order_by("rank"):
            self.stdout.write(
                f"{h.rank:>4}  {h.harm:>10,.0f}  {h.incident_count:>6}  {h.gi_z_max:>6.2f}  "
                f"{len(h.cells):>5}  {h.district.name if h.district else '-'}"
            )
        if opts["geojson"]:
            with open(opts["geojson"], "w") as f:
                json.dump(hotspots_geojson(run), f)
            self.stdout.write(f"Wrote {opts['geojson']}")
        if opts["grid_csv"]:
            with open(opts["grid_csv"], "w", newline="") as f:
                csv.writer(f).writerows(grid_csv_rows(run))
            self.stdout.write(f"Wrote {opts['grid_csv']}")
        if run.is_active:
            self.stdout.write(self.style.SUCCESS("Published: these are now the active hot spots."))
