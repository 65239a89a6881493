"""Reads of analyses and hot spots."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import numpy as np
from django.db.models import QuerySet
from django.utils import timezone
from shapely.geometry import shape

from backend.analytics.projection import LocalProjection
from backend.config.celery import RESEND_AFTER
from backend.config.memo import Memo, hot_read_seconds
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import ImportStatus


def hotspots_active() -> QuerySet[Hotspot]:
    """Hot spots of the published (active) analysis runs, best rank first."""
    return Hotspot.objects.filter(run__is_active=True).select_related("district").order_by("rank")


@dataclass(frozen=True)
class ActiveHotspots:
    """The active hot spots as a phone's look-up needs them: the rows (district left out;
    ``cells``, ``profile_24x7``, ``counts_by_offence`` and ``note`` deferred) and, in the same
    order, their centroids (degrees, WGS84) and ranks as arrays."""

    hotspots: list[Hotspot]
    centroid_lat: np.ndarray
    centroid_lon: np.ndarray
    rank: np.ndarray

    @cached_property
    def polygons(self) -> np.ndarray:
        """The hot spots' shapely geometries (lon, lat), same order; built on first use."""
        return np.array([shape(h.geometry) for h in self.hotspots], dtype=object)


def _active_hotspots_load(run_ids: Hashable) -> ActiveHotspots:
    assert isinstance(run_ids, tuple)
    return _active_hotspots_of(Hotspot.objects.filter(run_id__in=run_ids))


def _active_hotspots_of(rows: QuerySet[Hotspot]) -> ActiveHotspots:
    spots = list(
        rows.order_by("rank")
        # What a phone's answer shows: not the district (its boundary polygon) nor the analysis
        # detail (cells, hourly profile, offence counts).
        .defer("cells", "profile_24x7", "counts_by_offence", "note")
    )
    return ActiveHotspots(
        hotspots=spots,
        centroid_lat=np.array([h.centroid_lat for h in spots], dtype=float),
        centroid_lon=np.array([h.centroid_lon for h in spots], dtype=float),
        rank=np.array([h.rank for h in spots], dtype=np.int64),
    )


def _active_run_ids_load(_key: Hashable) -> tuple[int, ...]:
    return tuple(
        AnalysisRun.objects.filter(is_active=True).order_by("pk").values_list("pk", flat=True)
    )


# Every phone asks every 30 s. A process checks which runs are active at most every
# PRESENCE_HOT_READ_SECONDS and keeps their hot spots until that changes; it reads them again
# after SNAPSHOT_MAX_AGE_S anyway (an address filled in after publication).
SNAPSHOT_MAX_AGE_S = 300.0
_ACTIVE_RUN_IDS: Memo[tuple[int, ...]] = Memo(_active_run_ids_load)
_ACTIVE_HOTSPOTS: Memo[ActiveHotspots] = Memo(
    _active_hotspots_load,
    max_age=lambda: SNAPSHOT_MAX_AGE_S if hot_read_seconds() > 0 else 0.0,
)


def hotspots_active_snapshot() -> ActiveHotspots:
    """``ActiveHotspots``, as this process read them for the analysis runs it found active at
    most ``PRESENCE_HOT_READ_SECONDS`` ago (a newly published run shows within that time). The
    rows are shared between threads: read them, never save them."""
    return _ACTIVE_HOTSPOTS.get(_ACTIVE_RUN_IDS.get("active"))


def hotspots_nearby(*, lat: float, lon: float, radius_m: float) -> list[tuple[Hotspot, float]]:
    """Active hot spots whose centroid lies within ``radius_m`` metres, nearest first (ties by
    rank), with that distance in metres.

    Distances are in the local metric projection centred on (``lat``, ``lon``), computed with
    numpy over ``hotspots_active_snapshot()`` when hot reads are on (no query while it is
    fresh), else over the hot spots read from the square of half-side ``radius_m``. The hot
    spots come without their district and with ``cells``, ``profile_24x7``,
    ``counts_by_offence`` and ``note`` deferred.
    """
    proj = LocalProjection(lat, lon)
    dlat = radius_m / proj.metres_per_degree_lat
    dlon = radius_m / proj.metres_per_degree_lon
    if hot_read_seconds() > 0:
        snap = hotspots_active_snapshot()
    else:  # no memory kept: read only the candidates (the indexed centroid columns' square)
        snap = _active_hotspots_of(
            Hotspot.objects.filter(
                run__is_active=True,
                centroid_lat__gte=lat - dlat,
                centroid_lat__lte=lat + dlat,
                centroid_lon__gte=lon - dlon,
                centroid_lon__lte=lon + dlon,
            )
        )
    if not snap.hotspots:
        return []
    box = (
        (snap.centroid_lat >= lat - dlat)
        & (snap.centroid_lat <= lat + dlat)
        & (snap.centroid_lon >= lon - dlon)
        & (snap.centroid_lon <= lon + dlon)
    )
    idx = np.flatnonzero(box)
    if not idx.size:
        return []
    x, y = proj.to_xy(snap.centroid_lat[idx], snap.centroid_lon[idx])
    dist = np.hypot(x, y)
    order = np.lexsort((snap.rank[idx], dist))
    return [(snap.hotspots[idx[i]], float(dist[i])) for i in order if dist[i] <= radius_m]


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
