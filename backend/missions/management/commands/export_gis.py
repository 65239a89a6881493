"""``export_gis LAYER --format gpkg|geojson|csv --out PATH``: files that ArcGIS and QGIS open.

Layers: ``hotspots`` (the active analysis, or ``--run ID``), ``districts``, ``beats``, ``arms``
(of the running experiment, or ``--experiment ID``). Every format carries the same readable
fields and declares EPSG:4326. It lives in missions, the highest app whose layers it writes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.accounts.selectors import beats_layer, districts_layer
from backend.gis.layers import FORMATS, Layer, layer_write
from backend.hotspots.exports import hotspots_layer
from backend.hotspots.models import AnalysisRun
from backend.missions.models import Experiment, ExperimentStatus
from backend.missions.selectors import experiment_arms_layer

LAYERS = ("hotspots", "districts", "beats", "arms")


class Command(BaseCommand):
    help = "Write a GIS layer (hotspots, districts, beats, arms) as GeoPackage, GeoJSON or CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("layer", choices=LAYERS)
        parser.add_argument(
            "--format",
            dest="fmt",
            choices=FORMATS,
            default=None,
            help="default: from the --out file's extension",
        )
        parser.add_argument("--out", required=True, help="file to write (replaced if it exists)")
        parser.add_argument("--run", type=int, help="hotspots: this analysis run, not the active")
        parser.add_argument("--experiment", type=int, help="arms: this experiment, not the running")
        parser.add_argument("--day", type=date.fromisoformat, help="arms of a place-day design")

    def handle(self, *args: Any, **opts: Any) -> None:
        out = Path(opts["out"])
        fmt = opts["fmt"] or out.suffix.lstrip(".").lower()
        if fmt not in FORMATS:
            raise CommandError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
        layer = self._layer(opts)
        n = layer_write(layer, fmt=fmt, path=out)
        if layer.name in {"hotspots", "arms"} and not layer.features:
            self.stderr.write(f"warning: the {layer.name} layer is empty")
        self.stdout.write(f"{layer.name}: {n} features -> {out} ({fmt}, EPSG:4326)")

    def _layer(self, opts: dict[str, Any]) -> Layer:
        name = opts["layer"]
        if name == "districts":
            return districts_layer()
        if name == "beats":
            return beats_layer()
        if name == "hotspots":
            runs = AnalysisRun.objects.all()
            run = (
                runs.filter(pk=opts["run"]).first()
                if opts["run"]
                else runs.filter(is_active=True).first()
            )
            if run is None:
                raise CommandError("no such analysis run (and none is published)")
            return hotspots_layer(run)
        experiments = Experiment.objects.select_related("run")
        if opts["experiment"]:
            experiment = experiments.filter(pk=opts["experiment"]).first()
        else:
            experiment = (
                experiments.filter(status=ExperimentStatus.RUNNING).order_by("-starts_on").first()
            )
        if experiment is None:
            raise CommandError("no such experiment (and none is running): pass --experiment ID")
        return experiment_arms_layer(experiment=experiment, day=opts["day"])
