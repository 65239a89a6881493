"""Reads of incidents, harm weights and hot spots, as rows or as numpy arrays for analytics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db import connection
from django.db.models import QuerySet

from backend.hotspots.models import (
    AnalysisRun,
    HarmWeight,
    HarmWeightVersion,
    Hotspot,
    Incident,
)


def harm_version_current() -> HarmWeightVersion:
    """The newest harm index version (the default table is version 1, made by a migration)."""
    version = HarmWeightVersion.objects.order_by("-number").first()
    if version is None:
        raise LookupError("No harm index version exists; run `python manage.py migrate`.")
    return version


def harm_weights_for(*, version: HarmWeightVersion) -> dict[int, float]:
    """{offence type id: harm in days of custody} for ``version``."""
    return dict(HarmWeight.objects.filter(version=version).values_list("offence_id", "days"))


@dataclass(frozen=True)
class IncidentPoints:
    """Incidents for analysis, as arrays: UTC epoch seconds, WGS84 degrees, ids (-1 = none)."""

    ids: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offence_id: np.ndarray
    district_id: np.ndarray

    @property
    def size(self) -> int:
        return int(self.ids.size)


def incident_points(
    *, start: datetime, end: datetime, district_id: int | None = None
) -> IncidentPoints:
    """Incidents with ``start <= occurred_at < end`` (optionally one district) as arrays.

    One raw query returning numbers only: building a million model instances or datetimes
    would cost seconds, the numbers a fraction of that.
    """
    if connection.vendor == "postgresql":
        epoch = "EXTRACT(EPOCH FROM occurred_at)::float8"
    else:  # SQLite stores UTC text; julianday is exact to the millisecond
        epoch = "(julianday(occurred_at) - 2440587.5) * 86400.0"
    table = Incident._meta.db_table
    sql = (
        f"SELECT id, {epoch}, lat, lon, offence_id, COALESCE(district_id, -1) FROM {table} "
        "WHERE occurred_at >= %s AND occurred_at < %s"
    )
    # Adapt like the ORM does: SQLite compares datetimes as text in Django's own format.
    adapt = connection.ops.adapt_datetimefield_value
    params: list[str | int | None] = [adapt(start), adapt(end)]
    if district_id is not None:
        sql += " AND district_id = %s"
        params.append(district_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return IncidentPoints(
        ids=a[:, 0].astype(np.int64),
        t=np.round(a[:, 1], 3),
        lat=a[:, 2],
        lon=a[:, 3],
        offence_id=a[:, 4].astype(np.int64),
        district_id=a[:, 5].astype(np.int64),
    )


def hotspots_active() -> QuerySet[Hotspot]:
    """Hot spots of the published (active) analysis runs, best rank first."""
    return Hotspot.objects.filter(run__is_active=True).select_related("district").order_by("rank")


def hotspots_nearby(*, lat: float, lon: float, radius_m: float) -> list[tuple[Hotspot, float]]:
    """Active hot spots whose centroid lies within ``radius_m`` metres, nearest first.

    Distances are in the local metric projection; a bounding box on the indexed centroid
    columns keeps the candidate set small.
    """
    from backend.analytics.projection import LocalProjection

    proj = LocalProjection(lat, lon)
    dlat = radius_m / proj.metres_per_degree_lat
    dlon = radius_m / proj.metres_per_degree_lon
    candidates = list(
        hotspots_active().filter(
            centroid_lat__gte=lat - dlat,
            centroid_lat__lte=lat + dlat,
            centroid_lon__gte=lon - dlon,
            centroid_lon__lte=lon + dlon,
        )
    )
    if not candidates:
        return []
    x, y = proj.to_xy(
        np.array([h.centroid_lat for h in candidates]),
        np.array([h.centroid_lon for h in candidates]),
    )
    dist = np.hypot(x, y)
    order = np.lexsort((np.array([h.rank for h in candidates]), dist))
    return [(candidates[i], float(dist[i])) for i in order if dist[i] <= radius_m]


def analysis_runs() -> QuerySet[AnalysisRun]:
    return AnalysisRun.objects.select_related("district", "created_by", "weights_version")


def analysis_run_active() -> AnalysisRun | None:
    return analysis_runs().filter(is_active=True).first()
