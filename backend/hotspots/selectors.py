"""Reads of analyses and hot spots."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone

from backend.analytics.projection import LocalProjection
from backend.config.celery import RESEND_AFTER
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import ImportStatus


def hotspots_active() -> QuerySet[Hotspot]:
    """Hot spots of the published (active) analysis runs, best rank first."""
    return Hotspot.objects.filter(run__is_active=True).select_related("district").order_by("rank")


def hotspots_nearby(*, lat: float, lon: float, radius_m: float) -> list[tuple[Hotspot, float]]:
    """Active hot spots whose centroid lies within ``radius_m`` metres, nearest first.

    Distances are in the local metric projection; a bounding box on the indexed centroid
    columns keeps the candidate set small. The hot spots come without their district and with
    ``cells``, ``profile_24x7``, ``counts_by_offence`` and ``note`` deferred.
    """
    proj = LocalProjection(lat, lon)
    dlat = radius_m / proj.metres_per_degree_lat
    dlon = radius_m / proj.metres_per_degree_lon
    candidates = list(
        hotspots_active()
        .filter(
            centroid_lat__gte=lat - dlat,
            centroid_lat__lte=lat + dlat,
            centroid_lon__gte=lon - dlon,
            centroid_lon__lte=lon + dlon,
        )
        # An officer's phone asks every 30 s: leave out the district (its boundary polygon) and
        # the analysis detail no answer shows (cells, hourly profile, offence counts).
        .select_related(None)
        .defer("cells", "profile_24x7", "counts_by_offence", "note")
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


def analyses_due(*, now: datetime | None = None) -> list[int]:
    """Analysis runs still pending ``RESEND_AFTER`` after they were recorded (their message
    was lost). Oldest first, at most 100 a sweep."""
    before = (now or timezone.now()) - RESEND_AFTER
    return list(
        AnalysisRun.objects.filter(status=ImportStatus.PENDING, created_at__lt=before)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )
