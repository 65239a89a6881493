"""Visit rollup: recompute one party-day's visits from its pings and replace them atomically.

A party is an officer (phone pings) or an AVL unit (vehicle pings). Visits are derived data:
the rollup never increments anything, so running it twice, or twice at once, leaves the same
rows. Pings are taken over the agency-local day; a visit that spans midnight is split there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from shapely.geometry import shape

from backend.accounts.models import User
from backend.analytics.projection import LocalProjection
from backend.analytics.tracks import MODE_NAMES, analyze_tracks, build_hotspot_index
from backend.hotspots.selectors import hotspots_active
from backend.patrols.models import AvlUnit, Ping, Visit
from backend.reports.services import local_day_bounds

VISIT_INSERT_BATCH = 1_000


def _rebuild(*, party: dict[str, int], lock_model: Any, day: date) -> int:
    start, end = local_day_bounds(day)
    rows = list(
        Ping.objects.filter(**party, recorded_at__gte=start, recorded_at__lt=end)
        .order_by("recorded_at", "id")
        .values_list("recorded_at", "lat", "lon", "accuracy_m", "speed_mps")
    )
    hotspots = list(hotspots_active().values_list("pk", "geometry"))
    visits: list[Visit] = []
    if rows and hotspots:
        proj = LocalProjection(*settings.PRESENCE_ORIGIN)
        t = np.array([r[0].timestamp() for r in rows])
        x, y = proj.to_xy(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
        accuracy = np.array([r[3] for r in rows], dtype=float)
        speed = np.array([np.nan if r[4] is None else r[4] for r in rows], dtype=float)
        index = build_hotspot_index([proj.geometry_to_xy(shape(g)) for _, g in hotspots])
        result = analyze_tracks(
            np.zeros(t.size, dtype=np.int64), t, x, y, index, accuracy_m=accuracy, speed_mps=speed
        )
        v, modes = result.visits, result.modes
        for k in range(len(v)):
            visits.append(
                Visit(
                    **party,
                    hotspot_id=hotspots[int(v.hotspot[k])][0],
                    day=day,
                    entered_at=datetime.fromtimestamp(float(v.entered_at[k]), tz=UTC),
                    exited_at=datetime.fromtimestamp(float(v.exited_at[k]), tz=UTC),
                    dwell_s=float(v.dwell_s[k]),
                    stopped_s=float(modes.stopped_s[k]),
                    gaps_s=float(v.gaps_s[k]),
                    mode=MODE_NAMES[int(modes.mode[k])],
                    koper_compliant=bool(result.koper_compliant[k]),
                )
            )
    with transaction.atomic():
        # Serialize rollups of the same party: the second waits, then replaces the same rows.
        lock_model.objects.select_for_update().filter(pk=next(iter(party.values()))).first()
        Visit.objects.filter(**party, day=day).delete()
        Visit.objects.bulk_create(visits, batch_size=VISIT_INSERT_BATCH)
    return len(visits)


def visit_rebuild_for_day(*, officer_id: int, day: date) -> int:
    """Replace officer ``officer_id``'s visits on agency-local ``day``; returns their number."""
    return _rebuild(party={"officer_id": officer_id}, lock_model=User, day=day)


def visit_rebuild_for_unit_day(*, unit_id: int, day: date) -> int:
    """Replace AVL unit ``unit_id``'s visits on ``day`` (background presence, contamination)."""
    return _rebuild(party={"unit_id": unit_id}, lock_model=AvlUnit, day=day)
