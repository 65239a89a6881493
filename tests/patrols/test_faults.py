"""Fault tests (issue 11, faults a and b): a worker killed mid-rollup and a broker restarted or
down lose no visits. Each uses a real worker process and a throwaway Redis of its own (never
the shared one), and prints its figures (``-s`` shows them).

The night shift below is the oracle: 8 hours from 20:00 local, a fix every 10 s (2,869 fixes),
walking 15 minutes inside each of three hot spots every hour; every visit is known beforehand.
"""

from __future__ import annotations

import math
import os
import signal
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.utils import timezone
from shapely.geometry import box, mapping

from backend.analytics.projection import LocalProjection
from backend.config.celery import app
from backend.config.localtime import local_day_bounds
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from backend.patrols.ingest import MAX_BATCH, pings_ingest
from backend.patrols.models import PatrolSession, Visit
from backend.patrols.rollup import session_rollup, visit_rebuild_for_day
from backend.patrols.selectors import ROLLUP_RESEND_AFTER, sessions_due_rollup
from backend.patrols.services import session_end
from backend.patrols.tasks import session_rollup_queue
from tests.conftest import (
    RedisServer,
    database_url_of_test_db,
    wait_until,
    worker_start,
    worker_stop,
)
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PROJ = LocalProjection(25.80, -80.21)
CENTRES = (-1000.0, 0.0, 1000.0)  # metres east of the origin; 150 m squares around each
SHIFT_HOURS = 8
STEP_S = 10
LAST_FIX_S = SHIFT_HOURS * 3600 - 120  # the last fix is on the drive back, outside
VISIT_FIELDS = (
    "hotspot__rank",
    "day",
    "entered_at",
    "exited_at",
    "dwell_s",
    "stopped_s",
    "gaps_s",
    "mode",
    "koper_compliant",
)


def night_start() -> datetime:
    """20:00 local, three evenings ago: the shift ends at 04:00 on the next local day."""
    day = timezone.localdate() - timedelta(days=3)
    start, _ = local_day_bounds(day)
    return start + timedelta(hours=20)


def position(t: float) -> tuple[float, float, float]:
    """(x, y, speed) at ``t`` seconds into the shift. Each hour: 15 minutes walking up and down
    inside hot spot 1, 5 minutes' drive to hot spot 2, 15 minutes inside, 5 minutes' drive to
    hot spot 3, 15 minutes inside, and 5 minutes' drive back, swinging 400 m north of hot spot
    2 so that the drive never crosses it."""
    m = (t % 3600) / 60.0

    def walk(centre: float, since: float) -> tuple[float, float, float]:
        s = (since * 60 * 1.2) % 240
        return centre - 60 + (s if s <= 120 else 240 - s), 0.0, 1.2

    if m < 15:
        return walk(CENTRES[0], m)
    if m < 20:
        return CENTRES[0] + (m - 15) / 5 * 1000, 0.0, 1000 / 300
    if m < 35:
        return walk(CENTRES[1], m - 20)
    if m < 40:
        return CENTRES[1] + (m - 35) / 5 * 1000, 0.0, 1000 / 300
    if m < 55:
        return walk(CENTRES[2], m - 40)
    f = (m - 55) / 5
    return CENTRES[2] - f * 2000, 400 * math.sin(math.pi * f), 2000 / 300


def expected_visits() -> int:
    """Independent count: maximal runs of at least two consecutive fixes inside the same square
    on the same local day (the day's rollup reads only that day's fixes; midnight falls 10 s
    into a visit, which leaves one fix on day one: no visit there)."""
    midnight = 4 * 3600
    runs: list[list[int]] = []
    last = None
    for t in range(0, LAST_FIX_S + 1, STEP_S):
        x, y, _ = position(t)
        inside = next((k for k, c in enumerate(CENTRES) if abs(x - c) <= 75 and abs(y) <= 75), None)
        if inside is not None and (inside != last or t == midnight):
            runs.append([])
        if inside is not None:
            runs[-1].append(t)
        last = inside
    return sum(1 for run in runs if len(run) >= 2)


def hotspots() -> None:
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of=date(2026, 1, 1), weights_version=version, is_active=True, status="done"
    )
    for rank, c in enumerate(CENTRES, start=1):
        lat, lon = PROJ.to_latlon(c, 0.0)
        Hotspot.objects.create(
            run=run,
            rank=rank,
            geometry=mapping(PROJ.geometry_to_lonlat(box(c - 75, -75, c + 75, 75))),
            centroid_lat=float(lat),
            centroid_lon=float(lon),
            harm=1,
            incident_count=1,
            gi_z_max=3,
        )


def pings(start: datetime, first_s: int, last_s: int) -> list[dict[str, Any]]:
    out = []
    for t in range(first_s, last_s + 1, STEP_S):
        x, y, speed = position(t)
        lat, lon = PROJ.to_latlon(x, y)
        out.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (start + timedelta(seconds=t)).isoformat(),
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": 5.0,
                "speed_mps": speed,
            }
        )
    return out


def ingest(officer: Any, items: list[dict[str, Any]]) -> None:
    for i in range(0, len(items), MAX_BATCH):
        result = pings_ingest(officer=officer, items=items[i : i + MAX_BATCH])
        assert result.counts()["accepted"] == len(items[i : i + MAX_BATCH])


def night_shift(officer: Any, start: datetime) -> PatrolSession:
    """The officer's whole night shift, its session still open."""
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=start - timedelta(minutes=1)
    )
    ingest(officer, pings(start, 0, LAST_FIX_S))
    return session


def visits(officer: Any) -> list[tuple[Any, ...]]:
    return list(
        Visit.objects.filter(officer=officer).order_by("entered_at").values_list(*VISIT_FIELDS)
    )


def duplicates(officer: Any) -> int:
    rows = Visit.objects.filter(officer=officer).values_list("hotspot", "entered_at")
    return len(rows) - len(set(rows))


def clean_run(start: datetime) -> list[tuple[Any, ...]]:
    """The same shift by a twin officer, rolled up in this process with nothing failing."""
    twin = UserFactory(role="officer")
    session = night_shift(twin, start)
    PatrolSession.objects.filter(pk=session.pk).update(ended_at=start + timedelta(hours=8))
    session_rollup(session_id=session.pk)
    return visits(twin)


def age_unacked_messages(server: RedisServer, seconds: float) -> int:
    """Move the broker's clock: the unacknowledged deliveries look ``seconds`` older, as they
    would be once the visibility timeout has run out. Returns how many there were."""
    import redis

    with app.connection_for_write(server.url) as conn:
        key = conn.default_channel.unacked_index_key
    client = redis.Redis.from_url(server.url)
    tags = client.zrange(key, 0, -1, withscores=True)
    for tag, score in tags:
        client.zadd(key, {tag: score - seconds})
    return len(tags)


def test_a_worker_killed_mid_rollup_leaves_the_visits_of_a_clean_run(
    real_broker: RedisServer, tmp_path: Path, settings: Any
) -> None:
    hotspots()
    start = night_start()
    second_day = timezone.localtime(start + timedelta(hours=5)).date()
    officer = UserFactory(role="officer")
    session = night_shift(officer, start)
    # The 10-minute sweep of open sessions rolled up the small hours already: day two has
    # visits the final rollup must replace, not add to.
    assert visit_rebuild_for_day(officer_id=officer.pk, day=second_day) > 0

    log = tmp_path / "worker.log"
    worker = worker_start(redis_url=real_broker.url, queue="fault-a", log=log)
    # Hold the rollup half-way, deterministically: this connection locks day two's visit rows,
    # so the worker commits day one and then waits to delete day two's rows.
    holder = psycopg.connect(database_url_of_test_db())
    try:
        holder.execute(
            "SELECT id FROM patrols_visit WHERE officer_id = %s AND day = %s FOR UPDATE",
            [officer.pk, second_day],
        )

        def worker_waits_on_day_two() -> bool:
            with psycopg.connect(database_url_of_test_db(), autocommit=True) as probe:
                row = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE 'DELETE FROM \"patrols_visit\"%%'"
                ).fetchone()
                return bool(row and row[0])

        end = start + timedelta(hours=SHIFT_HOURS)
        session_end(officer=officer, session_id=session.pk, ended_at=end, now=end)
        wait_until(worker_waits_on_day_two, 60, "the rollup reaching day two", log)
        first_day_written = Visit.objects.filter(
            officer=officer, day=timezone.localtime(start).date()
        ).count()
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        killed_at = time.monotonic()
    finally:
        holder.rollback()
        holder.close()
    session.refresh_from_db()
    assert session.rolled_up_at is None  # killed mid-way: the rollup is still owed

    # Past the visibility timeout the broker hands the unacknowledged rollup to a worker again.
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert age_unacked_messages(real_broker, visibility + 1) >= 1
    worker = worker_start(redis_url=real_broker.url, queue="fault-a", log=log)
    try:

        def rolled_up() -> bool:
            session.refresh_from_db()
            return session.rolled_up_at is not None

        wait_until(rolled_up, 120, "the redelivered rollup", log)
        recovered_s = time.monotonic() - killed_at
    finally:
        worker_stop(worker)

    clean = clean_run(start)
    got = visits(officer)
    print(
        f"\nfault (a) worker SIGKILLed mid-rollup: {first_day_written} visits of day one written "
        f"before the kill; redelivered after the {visibility} s visibility timeout (broker clock "
        f"moved); recovered {recovered_s:.1f} s after the kill; visits {len(got)} (clean run "
        f"{len(clean)}, expected {expected_visits()}); duplicates {duplicates(officer)}"
    )
    assert got == clean
    assert len(got) == expected_visits()
    assert duplicates(officer) == 0


def short_patrol(officer: Any, hotspot: Hotspot, start: datetime) -> PatrolSession:
    """16 minutes from ``start``: 2 outside, 12 walking inside ``hotspot`` (the 150 m square on
    the origin), 2 outside; its visit is inside from 120 s to 840 s (a 720 s dwell)."""
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=start - timedelta(minutes=1)
    )
    items = []
    for t in range(0, 961, STEP_S):
        x = -300.0 if t < 120 else 300.0 if t > 840 else position(t - 120 + 20 * 60)[0]
        lat, lon = PROJ.to_latlon(x, 0.0)
        items.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (start + timedelta(seconds=t)).isoformat(),
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": 5.0,
                "speed_mps": 1.2,
            }
        )
    ingest(officer, items)
    return session


def end_through_the_api(officer: Any, session: PatrolSession) -> int:
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(officer)
    response = client.post(
        f"/api/v1/patrols/sessions/{session.pk}/end", {}, content_type="application/json"
    )
    assert response["Content-Type"] == "application/json"
    return response.status_code


def the_hand_worked_visit(officer: Any, start: datetime) -> bool:
    rows = list(
        Visit.objects.filter(officer=officer).values_list("hotspot__rank", "entered_at", "dwell_s")
    )
    return rows == [(2, start + timedelta(seconds=120), 720.0)]


def sweep_as_beat_would_at(now: datetime) -> int:
    """The body of the every-minute ``patrols.sweep_due_rollups`` job, run at ``now``."""
    due = sessions_due_rollup(now=now)
    for session_id in due:
        session_rollup_queue(session_id=session_id)
    return len(due)


def test_rollups_queued_when_redis_restarts_empty_all_complete(
    real_broker: RedisServer, tmp_path: Path
) -> None:
    import redis

    hotspots()
    hotspot = Hotspot.objects.get(rank=2)
    start = (timezone.now() - timedelta(minutes=30)).replace(microsecond=0)
    officers = [UserFactory(role="officer") for _ in range(12)]
    for officer in officers:
        session = short_patrol(officer, hotspot, start)
        assert end_through_the_api(officer, session) == 200  # queued; no worker is running
    queued = redis.Redis.from_url(real_broker.url).llen("celery")
    assert queued == len(officers)

    real_broker.stop()  # no persistence: the queued rollups are gone with it
    real_broker.start()
    assert redis.Redis.from_url(real_broker.url).llen("celery") == 0
    assert PatrolSession.objects.filter(rolled_up_at__isnull=True).count() == len(officers)

    log = tmp_path / "worker.log"
    worker = worker_start(redis_url=real_broker.url, queue="fault-b", log=log)
    try:
        # Beat's sweep, once the 5 minutes it allows a sent rollup have passed, sends them again.
        assert sweep_as_beat_would_at(timezone.now()) == 0  # sent under 5 minutes ago: in flight
        later = timezone.now() + ROLLUP_RESEND_AFTER + timedelta(minutes=1)
        assert sweep_as_beat_would_at(later) == len(officers)
        done_s = wait_until(
            lambda: not PatrolSession.objects.filter(rolled_up_at__isnull=True).exists(),
            120,
            "every rollup",
            log,
        )
    finally:
        worker_stop(worker)
    complete = sum(the_hand_worked_visit(officer, start) for officer in officers)
    print(
        f"\nfault (b) Redis restarted empty with {queued} rollups queued: beat's sweep resent "
        f"{len(officers)}; {complete} complete with their hand-worked visit {done_s:.1f} s "
        f"later; lost {len(officers) - complete}"
    )
    assert complete == len(officers)


def test_a_session_ended_while_redis_is_down_gets_its_visits_once_redis_is_back(
    real_broker: RedisServer, tmp_path: Path
) -> None:
    from backend.patrols.tasks import sweep_due_rollups_task

    hotspots()
    hotspot = Hotspot.objects.get(rank=2)
    start = (timezone.now() - timedelta(minutes=30)).replace(microsecond=0)
    officer = UserFactory(role="officer")
    session = short_patrol(officer, hotspot, start)
    log = tmp_path / "worker.log"
    worker = worker_start(redis_url=real_broker.url, queue="fault-b2", log=log)
    try:
        real_broker.stop()
        assert end_through_the_api(officer, session) == 200
        session.refresh_from_db()
        assert session.ended_at is not None and session.rollup_queued_at is None
        real_broker.start()  # same port; the worker reconnects by itself
        back = time.monotonic()
        sweep_due_rollups_task.delay()  # what beat sends every minute, through the broker

        def rolled_up() -> bool:
            session.refresh_from_db()
            return session.rolled_up_at is not None

        after_s = wait_until(rolled_up, 120, "the swept rollup", log)
    finally:
        worker_stop(worker)
    print(
        f"\nfault (b) session ended with Redis down: answered 200; visits {after_s:.1f} s after "
        f"beat's first sweep once Redis was back (beat sweeps every 60 s: within "
        f"{60 + after_s:.0f} s of Redis's return); visit rows "
        f"{Visit.objects.filter(officer=officer).count()}"
    )
    assert time.monotonic() - back >= after_s
    assert the_hand_worked_visit(officer, start)
