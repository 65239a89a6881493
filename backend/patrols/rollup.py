"""Visit rollup: recompute a party-day's visits from its pings and replace them atomically.

A party is an officer (phone pings) or an AVL unit (vehicle pings). Visits are derived data:
the rollup never increments anything, so running it twice, or twice at once, leaves the same
rows. Pings are taken over the agency-local day; a visit that spans midnight is split there.
One transaction locks the parties, loads their pings as numbers (one query), runs one
``analyze_tracks`` call for every track and swaps the visits, whether for one officer (the
minute after a session ends) or for every officer of a day (the reconciliation job).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from shapely.geometry import shape

from backend.accounts.models import User
from backend.analytics.projection import LocalProjection
from backend.analytics.tracks import MODE_NAMES, HotspotIndex, analyze_tracks, build_hotspot_index
from backend.config.localtime import local_day_bounds
from backend.hotspots.selectors import analysis_run_active
from backend.patrols.models import AvlUnit, DeviceGap, PatrolSession, Ping, Visit
from backend.patrols.signals import visits_rebuilt

VISIT_INSERT_BATCH = 1_000


def _active_index(run_id: int) -> tuple[tuple[int, ...], HotspotIndex]:
    """Hot spot ids of a published run and their raster index in the local projection."""
    from backend.hotspots.models import Hotspot

    rows = list(
        Hotspot.objects.filter(run_id=run_id).order_by("rank").values_list("pk", "geometry")
    )
    key = json.dumps([rows, list(settings.PRESENCE_ORIGIN)], sort_keys=True)
    return tuple(pk for pk, _ in rows), _index_for(key)


@lru_cache(maxsize=4)
def _index_for(key: str) -> HotspotIndex:
    """Rasterized once per process and set of polygons: 200 hot spots cost ~0.1 s to index."""
    rows, origin = json.loads(key)
    proj = LocalProjection(*origin)
    return build_hotspot_index([proj.geometry_to_xy(shape(g)) for _, g in rows])


def _rebuild(*, column: str, ids: list[int] | None, day: date, lock_model: Any) -> int:
    """Replace the visits and device gaps of ``ids`` (every party with pings that day when
    ``None``) on ``day``, reading the pings inside the transaction that holds the parties' locks.

    Order: lock the parties' rows, read their pings, delete the day's visits and gaps of the
    parties that have pings, write the new rows, commit. A party with no pings that day keeps
    its visits: visits come only from pings, so a day without pings that has visits is a day
    whose raw pings retention removed (``partitions.py``), and a rollup of it (a late sweep, a
    supervisor's recompute) must not erase what was derived while they existed. A second
    rollup of the same parties waits for the lock and then reads every ping committed before
    it got it, so the rollup that commits last always saw the latest pings: a
    rollup that read early can no longer overwrite a later one's visits. On PostgreSQL the
    transaction runs at READ COMMITTED, whatever the connection's default: under REPEATABLE
    READ the snapshot would date from the lock request, before the wait, and miss the pings
    committed meanwhile. The lock is ``FOR NO KEY UPDATE``, which the ping ingest's foreign-key
    checks (``FOR KEY SHARE``) do not wait for: pings keep arriving while a rollup runs. On
    SQLite the transaction begins IMMEDIATE (settings), taking the database's write lock before
    the read (the same guarantee; SQLite has one writer at a time).
    """
    start, end = local_day_bounds(day)
    pg = connection.vendor == "postgresql"
    if pg:
        epoch = "EXTRACT(EPOCH FROM recorded_at)::float8"
    else:  # SQLite stores UTC text
        epoch = "(julianday(recorded_at) - 2440587.5) * 86400.0"
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(start), adapt(end)]
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if pg and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        if ids is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT DISTINCT {column} FROM {Ping._meta.db_table} WHERE {column} IS NOT "
                    "NULL AND recorded_at >= %s AND recorded_at < %s",
                    bounds,
                )
                parties = sorted(int(r[0]) for r in cursor.fetchall())
        else:
            parties = sorted(set(ids))
        # Serialize rollups of the same parties: the second waits, then reads afresh.
        list(
            lock_model.objects.select_for_update(no_key=True)
            .filter(pk__in=parties)
            .order_by("pk")
            .values("pk")
        )
        a = _read_pings(column, parties, epoch, bounds)
        with_pings = sorted({int(v) for v in np.unique(a[:, 0])})
        Visit.objects.filter(**{f"{column}__in": with_pings}, day=day).delete()
        DeviceGap.objects.filter(**{f"{column}__in": with_pings}, day=day).delete()
        without = sorted(set(parties) - set(with_pings))
        kept = Visit.objects.filter(**{f"{column}__in": without}, day=day).count() if without else 0
        visits, gaps = _derive(column, day, a)
        Visit.objects.bulk_create(visits, batch_size=VISIT_INSERT_BATCH)
        DeviceGap.objects.bulk_create(gaps, batch_size=VISIT_INSERT_BATCH)
        transaction.on_commit(lambda: visits_rebuilt.send(sender=Visit, day=day))
    return len(visits) + kept


def _read_pings(column: str, parties: list[int], epoch: str, bounds: list[Any]) -> np.ndarray:
    """The parties' pings of the day as rows (party, epoch s, lat, lon, accuracy, speed or
    NaN, session or 0), ordered by party, time and id."""
    if not parties:
        return np.zeros((0, 7), dtype=np.float64)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column}, {epoch}, lat, lon, accuracy_m, COALESCE(speed_mps, 'NaN'), "
            "COALESCE(session_id, 0) "
            f"FROM {Ping._meta.db_table} "
            f"WHERE {column} IN ({', '.join(['%s'] * len(parties))}) "
            f"AND recorded_at >= %s AND recorded_at < %s ORDER BY {column}, recorded_at, id",
            [*parties, *bounds],
        )
        a = np.array(cursor.fetchall(), dtype=np.float64).reshape(-1, 7)
    a[:, 1] = np.round(a[:, 1], 3)  # julianday arithmetic on SQLite leaves microsecond noise
    return a


def _derive(column: str, day: date, a: np.ndarray) -> tuple[list[Visit], list[DeviceGap]]:
    """Visits and device gaps of the pings ``a`` (rows of ``_read_pings``)."""
    run = analysis_run_active()
    visits: list[Visit] = []
    gaps: list[DeviceGap] = []
    if a.size and run is not None:
        hotspot_ids, index = _active_index(run.pk)
        proj = LocalProjection(*settings.PRESENCE_ORIGIN)
        x, y = proj.to_xy(a[:, 2], a[:, 3])
        result = analyze_tracks(
            a[:, 0].astype(np.int64), a[:, 1], x, y, index, accuracy_m=a[:, 4], speed_mps=a[:, 5]
        )
        v, modes = result.visits, result.modes
        visits = [
            Visit(
                **{column: int(v.track[k])},
                hotspot_id=hotspot_ids[int(v.hotspot[k])],
                day=day,
                entered_at=datetime.fromtimestamp(float(v.entered_at[k]), tz=UTC),
                exited_at=datetime.fromtimestamp(float(v.exited_at[k]), tz=UTC),
                dwell_s=float(v.dwell_s[k]),
                stopped_s=float(modes.stopped_s[k]),
                gaps_s=float(v.gaps_s[k]),
                mode=MODE_NAMES[int(modes.mode[k])],
                koper_compliant=bool(result.koper_compliant[k]),
            )
            for k in range(len(v))
        ]
        # Between two patrol sessions the officer was off patrol, not out of signal.
        before = result.kept[result.gaps.before]
        in_session = a[before, 6] == a[result.kept[result.gaps.before + 1], 6]
        gaps = _device_gaps(
            column,
            day,
            result.gaps,
            _gap_hotspots(result, x, y, index),
            hotspot_ids,
            in_session,
        )
    return visits, gaps


def _gap_hotspots(result: Any, x: np.ndarray, y: np.ndarray, index: HotspotIndex) -> np.ndarray:
    """Per device gap, the index of the hot spot holding the fixes on both of its sides, or -1."""
    before = result.kept[result.gaps.before]
    after = result.kept[result.gaps.before + 1]
    out = np.full(before.size, -1, dtype=np.int64)
    if not before.size:
        return out
    where = []
    for fixes in (before, after):
        inside = np.full(fixes.size, -1, dtype=np.int64)
        fix, hot = index.locate(x[fixes], y[fixes])
        inside[fix[::-1]] = hot[::-1]  # the lowest hot spot index where polygons overlap
        where.append(inside)
    same = (where[0] >= 0) & (where[0] == where[1])
    out[same] = where[0][same]
    return out


def _device_gaps(
    column: str,
    day: date,
    g: Any,
    hot: np.ndarray,
    hotspot_ids: tuple[int, ...],
    keep: np.ndarray,
) -> list[DeviceGap]:
    return [
        DeviceGap(
            **{column: int(g.track[k])},
            day=day,
            hotspot_id=hotspot_ids[int(hot[k])] if hot[k] >= 0 else None,
            started_at=datetime.fromtimestamp(float(g.start[k]), tz=UTC),
            ended_at=datetime.fromtimestamp(float(g.end[k]), tz=UTC),
        )
        for k in range(g.track.size)
        if keep[k]
    ]


def visit_rebuild_for_day(*, officer_id: int, day: date) -> int:
    """Replace officer ``officer_id``'s visits on agency-local ``day``; returns their number."""
    return _rebuild(column="officer_id", ids=[officer_id], day=day, lock_model=User)


def visit_rebuild_for_unit_day(*, unit_id: int, day: date) -> int:
    """Replace AVL unit ``unit_id``'s visits on ``day`` (background presence, contamination)."""
    return _rebuild(column="unit_id", ids=[unit_id], day=day, lock_model=AvlUnit)


def visits_rebuild_day(*, day: date) -> int:
    """Replace every officer's visits on ``day`` in one pass; returns the number of visits."""
    return _rebuild(column="officer_id", ids=None, day=day, lock_model=User)


def session_rollup(*, session_id: int) -> int:
    """Recompute the visits of every local day the ended session touched, then mark it done.

    Idempotent (each day is replaced as a whole), so a duplicate message or sweep costs only time.
    Returns the number of visits on those days.
    """
    session = PatrolSession.objects.filter(pk=session_id, ended_at__isnull=False).first()
    if session is None:
        return 0
    assert session.ended_at is not None
    day = timezone.localtime(session.started_at).date()
    last = timezone.localtime(session.ended_at).date()
    visits = 0
    while day <= last:
        visits += visit_rebuild_for_day(officer_id=session.officer_id, day=day)
        day += timedelta(days=1)
    PatrolSession.objects.filter(pk=session_id, rolled_up_at__isnull=True).update(
        rolled_up_at=timezone.now()
    )
    return visits
