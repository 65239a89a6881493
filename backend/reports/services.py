"""Report computations. Each recomputes from source rows and upserts: safe to run again."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from django.conf import settings
from django.db import transaction
from shapely.geometry import shape

from backend.accounts.models import District
from backend.hotspots.models import Incident, OffenceType
from backend.hotspots.selectors import (
    harm_version_current,
    harm_weights_for,
    hotspots_active,
    incident_points,
)
from backend.reports.models import DailySnapshot

NOTABLE_COUNT = 5


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC-aware [start, end) of agency-local ``day`` (23 or 25 hours across DST)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end


@transaction.atomic
def snapshot_build(*, day: date) -> DailySnapshot:
    """Compute the daily snapshot of agency-local ``day`` from the incident rows and upsert it.

    Harm uses the current harm index version; "in hot spots" means inside a polygon of an
    active hot spot.
    """
    version = harm_version_current()
    start, end = local_day_bounds(day)
    arr = incident_points(start=start, end=end)
    weights = harm_weights_for(version=version)
    harm = np.array([weights.get(int(o), 0.0) for o in arr.offence_id], dtype=np.float64)

    in_hotspot = np.zeros(arr.ids.shape[0], dtype=bool)
    polygons = [shape(g) for g in hotspots_active().values_list("geometry", flat=True)]
    if polygons and arr.ids.size:
        area = shapely.union_all(polygons)
        in_hotspot = shapely.contains_xy(area, arr.lon, arr.lat)

    names = dict(District.objects.values_list("id", "name"))
    by_district = []
    for did in np.unique(arr.district_id):
        sel = arr.district_id == did
        by_district.append(
            {
                "district": names.get(int(did), "Outside every district"),
                "incidents": int(sel.sum()),
                "harm": float(harm[sel].sum()),
            }
        )
    by_district.sort(key=lambda d: (-d["harm"], d["district"]))

    groups = dict(OffenceType.objects.values_list("id", "group"))
    by_group: dict[str, int] = {}
    for oid, n in zip(*np.unique(arr.offence_id, return_counts=True), strict=True):
        g = groups[int(oid)]
        by_group[g] = by_group.get(g, 0) + int(n)

    notable = []
    if arr.ids.size:
        order = np.lexsort((arr.ids, -harm))[:NOTABLE_COUNT]
        incidents = Incident.objects.select_related("offence", "district").in_bulk(
            [int(i) for i in arr.ids[order]]
        )
        for i in order:
            inc = incidents[int(arr.ids[i])]
            notable.append(
                {
                    "id": inc.pk,
                    "source_id": inc.source_id,
                    "occurred_at": inc.occurred_at.isoformat(),
                    "offence": inc.offence.name,
                    "district": inc.district.name if inc.district else None,
                    "harm": float(harm[i]),
                    "in_hotspot": bool(in_hotspot[i]),
                }
            )

    snapshot, _ = DailySnapshot.objects.update_or_create(
        day=day,
        defaults={
            "incidents": int(arr.ids.size),
            "harm": float(harm.sum()),
            "incidents_in_hotspots": int(in_hotspot.sum()),
            "harm_in_hotspots": float(harm[in_hotspot].sum()),
            "by_district": by_district,
            "by_group": by_group,
            "notable": notable,
            "weights_version": version.number,
        },
    )
    return snapshot
