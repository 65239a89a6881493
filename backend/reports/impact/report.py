"""The entry points: one experiment's impact (cached per day) and its CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from shapely.geometry import shape

from backend.gis.layers import Layer, spreadsheet_safe
from backend.hotspots.models import Hotspot
from backend.missions.models import Design, Experiment
from backend.reports.impact.common import (
    CACHE_SECONDS,
    CSV_COLUMNS,
    ImpactUnavailable,
)
from backend.reports.impact.fixed import fixed_arms_impact
from backend.reports.impact.placeday import (
    PLACEDAY_CSV_COLUMNS,
    placeday_impact,
)


def experiment_impact(
    *,
    experiment: Experiment,
    permutations: int = 10_000,
    seed: int | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Impact of ``experiment`` as a JSON-ready dict (see ``backend.reports.impact``).

    ``seed`` drives the re-randomizations (default: the experiment's stored seed, so anyone can
    reproduce the p-value); ``today`` is the agency-local evaluation day (default: today).
    Experiments not randomized and experiments with no full day yet give
    ``{"supported": False, "message": ...}`` with the contract keys set to None. Place-day
    results carry ``placeday`` and ``placeday_hotspots`` instead of ``counts``, ``harm``,
    ``displacement`` and ``hotspots``, and ``did`` is None.
    """
    today = today or timezone.localdate()
    seed = int(seed if seed is not None else (experiment.seed or 0))
    base: dict[str, Any] = {
        "experiment": {
            "id": experiment.pk,
            "name": experiment.name,
            "design": experiment.design,
            "status": experiment.status,
            "starts_on": experiment.starts_on.isoformat(),
            "ends_on": experiment.ends_on.isoformat(),
        },
        "evaluated_on": today.isoformat(),
        "seed": seed,
    }
    try:
        if experiment.design == Design.PLACEDAY:
            return base | placeday_impact(
                experiment=experiment, permutations=permutations, seed=seed, today=today
            )
        return base | fixed_arms_impact(
            experiment=experiment, permutations=permutations, seed=seed, today=today
        )
    except ImpactUnavailable as exc:
        return base | _unavailable(str(exc), permutations)


def _unavailable(message: str, permutations: int) -> dict[str, Any]:
    return {
        "supported": False,
        "message": message,
        "rate_ratio": None,
        "ci95": [None, None],
        "did": None,
        "p_randomization": None,
        "permutations": permutations,
        "sentence": message,
    }


def experiment_impact_cached(
    *, experiment: Experiment, permutations: int = 10_000, seed: int | None = None
) -> dict[str, Any]:
    """``experiment_impact`` cached per (experiment, local day, permutations, seed) for
    ``CACHE_SECONDS``."""
    today = timezone.localdate()
    key = f"impact:{experiment.pk}:{today.isoformat()}:{permutations}:{seed}"
    hit = cache.get(key)
    if hit is not None:
        return dict(hit)
    result = experiment_impact(
        experiment=experiment, permutations=permutations, seed=seed, today=today
    )
    cache.set(key, result, CACHE_SECONDS)
    return result


def impact_csv(result: dict[str, Any]) -> str:
    """The per-hot-spot table of an ``experiment_impact`` result as CSV text (place-day
    designs: per hot spot, incidents and harm on treated and on control days)."""
    placeday = "placeday_hotspots" in result
    columns = PLACEDAY_CSV_COLUMNS if placeday else CSV_COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in result.get("placeday_hotspots" if placeday else "hotspots", []):
        writer.writerow([spreadsheet_safe(row[c]) for c in columns])
    return buf.getvalue()


def impact_layer(result: dict[str, Any]) -> Layer:
    """The per-hot-spot table with each hot spot's polygon (EPSG:4326), for GeoPackage, GeoJSON
    or CSV through ``backend.gis``: the same columns as ``impact_csv``."""
    placeday = "placeday_hotspots" in result
    columns = PLACEDAY_CSV_COLUMNS if placeday else CSV_COLUMNS
    rows = result.get("placeday_hotspots" if placeday else "hotspots", [])
    shapes = dict(
        Hotspot.objects.filter(pk__in=[r["hotspot_id"] for r in rows]).values_list("pk", "geometry")
    )
    return Layer(
        name="impact",
        fields=list(columns),
        features=[
            (
                shape(shapes[r["hotspot_id"]]) if r["hotspot_id"] in shapes else None,
                {c: r[c] for c in columns},
            )
            for r in rows
        ],
    )
