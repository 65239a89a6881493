"""Pieces shared by the fixed-arm and place-day impact reports: windows, point-in-polygon,
residual deterrence from officers' visits."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.utils import timezone

from backend.analytics.impact import residual_deterrence
from backend.missions.models import Experiment
from backend.patrols.models import Visit

DEFAULT_CATCHMENT_M = 150.0
DETERRENCE_HORIZON_S = 7 * 86_400.0  # a week: long enough to see the 24-hour share and medians
CACHE_SECONDS = 3600  # an hour: late imports of the same day show up within the hour
CSV_COLUMNS = [
    "hotspot_id",
    "rank",
    "district",
    "block",
    "arm",
    "incidents_before",
    "incidents_during",
    "harm_before",
    "harm_during",
]


def catchment_m() -> float:
    """Width of the catchment (buffer) ring in metres: ``PRESENCE_CATCHMENT_M``, default 150."""
    return float(getattr(settings, "PRESENCE_CATCHMENT_M", DEFAULT_CATCHMENT_M))


class ImpactUnavailable(Exception):
    """The experiment cannot be evaluated yet (or by this method); the message says why."""


@dataclass(frozen=True)
class Windows:
    """Local days and their UTC bounds; ``days`` per window."""

    before_first: date
    during_first: date
    during_last: date
    days: int

    @property
    def before_last(self) -> date:
        return self.during_first - timedelta(days=1)


def impact_windows(*, experiment: Experiment, today: date) -> Windows:
    """The before and during windows of ``experiment`` evaluated on local day ``today``: the
    during window ends at the earliest of ``ends_on``, yesterday and the local day the
    experiment was ended (an experiment ended early stops counting that day)."""
    last = min(experiment.ends_on, today - timedelta(days=1))
    if experiment.ended_at is not None:
        last = min(last, timezone.localdate(experiment.ended_at))
    if last < experiment.starts_on:
        raise ImpactUnavailable(
            f"The experiment starts on {experiment.starts_on:%d %b %Y}; impact can be measured "
            "once it has run for at least one full day."
        )
    days = (last - experiment.starts_on).days + 1
    return Windows(
        before_first=experiment.starts_on - timedelta(days=days),
        during_first=experiment.starts_on,
        during_last=last,
        days=days,
    )


def hotspot_owner(polygons: list[Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the polygon containing each point (-1: none); polygons and points in metres.
    A point in two polygons goes to the first (hot spots of one run do not overlap)."""
    owner = np.full(x.size, -1, dtype=np.int64)
    for k, poly in enumerate(polygons):
        minx, miny, maxx, maxy = poly.bounds
        cand = np.flatnonzero((owner < 0) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if cand.size:
            inside = shapely.contains_xy(poly, x[cand], y[cand])
            owner[cand[inside]] = k
    return owner


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def deterrence_report(
    *,
    ids: np.ndarray,
    treated: Callable[[int, date], bool],
    owner: np.ndarray,
    t: np.ndarray,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Residual deterrence after officers' visits to hot spots while treated (``treated(hot spot
    id, local day of the visit)``) during the experiment."""
    visits = [
        (h, exited, dwell)
        for h, day, exited, dwell in Visit.objects.filter(
            hotspot_id__in=[int(h) for h in ids],
            officer__isnull=False,
            exited_at__gte=start,
            exited_at__lt=end,
        ).values_list("hotspot_id", "day", "exited_at", "dwell_s")
        if treated(h, day)
    ]
    inside = owner >= 0
    bins = residual_deterrence(
        visit_hotspot=[v[0] for v in visits],
        visit_end_s=[v[1].timestamp() for v in visits],
        visit_dwell_s=[v[2] for v in visits],
        incident_hotspot=ids[owner[inside]],
        incident_t_s=t[inside],
        horizon_s=DETERRENCE_HORIZON_S,
        data_end_s=end.timestamp(),
    )
    rows = [b.to_dict() for b in bins]
    observed = [b for b in bins if b.visits and b.incident_free_24h is not None]
    if not visits:
        sentence = "No officer visits to treated hot spots were recorded during the experiment."
    elif observed:
        best = max(observed, key=lambda b: (b.incident_free_24h or 0.0, b.visits))
        sentence = (
            f"Of visits lasting {best.label}, {best.incident_free_24h:.0%} were followed by at "
            "least 24 hours without a crime in the hot spot, the best of any visit length "
            f"({plural(sum(b.visits for b in bins), 'officer visit')} to treated hot spots; time "
            "to the "
            "next incident by Kaplan-Meier, so visits near the end of the data still count)."
        )
    else:
        sentence = "Too little follow-up after the visits to estimate 24-hour deterrence yet."
    return {"horizon_hours": DETERRENCE_HORIZON_S / 3600, "bins": rows, "sentence": sentence}


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
