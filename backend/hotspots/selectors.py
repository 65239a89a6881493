"""Reads of incidents, harm weights and hot spots, as rows or as numpy arrays for analytics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import QuerySet

from backend.hotspots.models import HarmWeight, HarmWeightVersion, Hotspot, Incident


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
class IncidentArrays:
    """Incidents as parallel arrays; times are UTC epoch seconds, harm in days of custody."""

    ids: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offence_id: np.ndarray
    district_id: np.ndarray  # -1 where the incident lies in no district
    harm: np.ndarray


def incident_arrays(
    *, start: datetime, end: datetime, version: HarmWeightVersion, district_id: int | None = None
) -> IncidentArrays:
    """Incidents with ``start <= occurred_at < end`` (optionally one district) as arrays."""
    qs = Incident.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    if district_id is not None:
        qs = qs.filter(district_id=district_id)
    rows = list(qs.values_list("id", "occurred_at", "lat", "lon", "offence_id", "district_id"))
    weights = harm_weights_for(version=version)
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    t = np.fromiter((r[1].timestamp() for r in rows), dtype=np.float64, count=n)
    lat = np.fromiter((r[2] for r in rows), dtype=np.float64, count=n)
    lon = np.fromiter((r[3] for r in rows), dtype=np.float64, count=n)
    offence = np.fromiter((r[4] for r in rows), dtype=np.int64, count=n)
    district = np.fromiter((r[5] if r[5] is not None else -1 for r in rows), np.int64, count=n)
    harm = np.fromiter((weights.get(int(o), 0.0) for o in offence), dtype=np.float64, count=n)
    return IncidentArrays(ids, t, lat, lon, offence, district, harm)


def hotspots_active() -> QuerySet[Hotspot]:
    """Hot spots of the published (active) analysis runs, best rank first."""
    return Hotspot.objects.filter(run__is_active=True).select_related("district").order_by("rank")
