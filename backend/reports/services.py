"""Report computations. Each recomputes from source rows and upserts: safe to run again."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely
from django.db import connection, transaction
from django.utils import timezone
from shapely.geometry import shape

from backend.accounts.models import District
from backend.config.localtime import local_day_bounds
from backend.hotspots.selectors import hotspots_active
from backend.incidents.models import Incident, OffenceType
from backend.incidents.selectors import harm_version_current, harm_weights_for, incident_points
from backend.reports.compliance import COLUMNS, compliance_compute
from backend.reports.models import (
    ComplianceDay,
    ComplianceRecompute,
    DailySnapshot,
    RecomputeStatus,
    Scope,
)

NOTABLE_COUNT = 5


TOP_OFFICERS = 5


def _snapshot_dose(day: date) -> dict[str, Any]:
    """The day's dose, compliance by squad and top officers, recomputed from the visit tables
    (not from stored compliance rows, so a late rollup never leaves the snapshot behind)."""
    keep = [c for c in COLUMNS if c not in ("officer_minutes", "patrol_minutes", "avl_minutes")]

    def pick(row: dict[str, Any]) -> dict[str, Any]:
        return {k: (round(row[k], 1) if isinstance(row[k], float) else row[k]) for k in keep}

    hotspots = compliance_compute(first=day, last=day, by="hotspot")
    squads = compliance_compute(first=day, last=day, by="squad").rows()
    officers = [
        r
        for r in compliance_compute(first=day, last=day, by="officer").rows()
        if r["delivered_minutes"] > 0
    ]
    officers.sort(key=lambda r: (-r["delivered_minutes"], -r["koper_visits"], r["label"]))
    return {
        "dose": pick(hotspots.totals()),
        "by_squad": [{"squad": r["label"], **pick(r)} for r in squads],
        "top_officers": [
            {"officer": r["label"], **pick(r), "officer_minutes": round(r["officer_minutes"], 1)}
            for r in officers[:TOP_OFFICERS]
        ],
    }


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
                    "occurred_local": f"{timezone.localtime(inc.occurred_at):%a %d %b %H:%M}",
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
            **_snapshot_dose(day),
            "weights_version": version.number,
        },
    )
    return snapshot


# ---------------------------------------------------------------------------------------------
# Compliance

COMPLIANCE_SCOPES = (
    (Scope.HOTSPOT, "hotspot-day", "hotspot_id"),
    (Scope.OFFICER, "officer-day", "officer_id"),
    (Scope.SQUAD, "squad-day", "squad_id"),
)


def _day_lock(day: date) -> None:
    """Serialize rebuilds of one day (delete + insert under partial unique constraints).

    PostgreSQL: a transaction-scoped advisory lock keyed by the day; SQLite serializes writers
    itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7301, day.toordinal()])


def compliance_day_rebuild(*, day: date) -> int:
    """Recompute agency-local ``day``'s compliance rows (hot spots, officers, squads) from the
    visits, device gaps, missions and allocations, and replace the day's rows as a whole.
    Idempotent: running it twice, or twice at once, leaves the same rows. Returns the number
    of rows."""
    return compliance_days_rebuild(first=day, last=day)


@transaction.atomic
def compliance_days_rebuild(*, first: date, last: date) -> int:
    """``compliance_day_rebuild`` for every day of ``[first, last]`` at once: one computation
    per scope over the range (rows split by day), one transaction. Returns the number of rows."""
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    for day in days:
        _day_lock(day)
    now = timezone.now()
    rows: list[ComplianceDay] = []
    for scope, by, field in COMPLIANCE_SCOPES:
        result = compliance_compute(first=first, last=last, by=by)
        for key, values in zip(result.keys, result.rows(), strict=True):
            ident, day = key  # type: ignore[misc]
            if scope == Scope.SQUAD and not ident:
                continue  # officers with no squad: counted under their own rows only
            metrics = {c: values[c] for c in COLUMNS if c != "pct_delivered"}
            arm = result.arms.arms.get((ident, day), "") if scope == Scope.HOTSPOT else ""
            rows.append(
                ComplianceDay(
                    day=day, scope=scope, arm=arm, computed_at=now, **{field: ident}, **metrics
                )
            )
    ComplianceDay.objects.filter(day__gte=first, day__lte=last).delete()
    ComplianceDay.objects.bulk_create(rows, batch_size=1_000)
    return len(rows)


# A recompute job rebuilds this many days per step: one computation per scope per step, and
# progress the page can show after each.
RECOMPUTE_STEP_DAYS = 7


def compliance_recompute_run(*, job_id: int) -> ComplianceRecompute:
    """Rebuild the days of a recompute job, oldest first, ``RECOMPUTE_STEP_DAYS`` at a time,
    saving progress after every step."""
    job = ComplianceRecompute.objects.get(pk=job_id)
    if job.status == RecomputeStatus.DONE:
        return job
    ComplianceRecompute.objects.filter(pk=job.pk).update(status=RecomputeStatus.RUNNING)
    try:
        for k in range(0, job.days_total, RECOMPUTE_STEP_DAYS):
            done = min(k + RECOMPUTE_STEP_DAYS, job.days_total)
            compliance_days_rebuild(
                first=job.first_day + timedelta(days=k),
                last=job.first_day + timedelta(days=done - 1),
            )
            ComplianceRecompute.objects.filter(pk=job.pk).update(days_done=done)
    except Exception as exc:
        ComplianceRecompute.objects.filter(pk=job.pk).update(
            status=RecomputeStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    ComplianceRecompute.objects.filter(pk=job.pk).update(
        status=RecomputeStatus.DONE, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job
