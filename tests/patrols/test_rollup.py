"""The visit rollup: pings -> visits, replaced per officer-day, idempotent and race-safe."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from shapely.geometry import box, mapping

from backend.analytics.projection import LocalProjection
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from backend.patrols.ingest import pings_ingest
from backend.patrols.models import PatrolSession, Visit
from backend.patrols.rollup import visit_rebuild_for_day, visits_rebuild_day
from backend.patrols.services import session_end
from tests.factories import UserFactory

PROJ = LocalProjection(25.80, -80.21)
# A recent day: the ingest refuses fixes older than the raw pings' retention (90 days).
DAY = date.today() - timedelta(days=10)
T0 = datetime.combine(DAY, time(15, 0), tzinfo=UTC)  # 10:00 (11:00 in summer) in New York


@pytest.fixture
def hotspot(db: None) -> Hotspot:
    """One active hot spot: the 150 m square centred on the projection origin."""
    return make_hotspot()


def make_hotspot() -> Hotspot:
    # get_or_create: a transactional test may start after another one's flush, without the
    # default harm index the data migration wrote (only the run's foreign key needs one here).
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of=DAY, weights_version=version, is_active=True, status="done"
    )
    square = PROJ.geometry_to_lonlat(box(-75, -75, 75, 75))
    return Hotspot.objects.create(
        run=run,
        rank=1,
        geometry=mapping(square),
        centroid_lat=25.8,
        centroid_lon=-80.21,
        harm=1,
        incident_count=1,
        gi_z_max=3,
    )


def x_at(t: float) -> float:
    """Metres east of the centre at t seconds: 2 min outside, 12 min walking up and down the
    hot spot at 1.2 m/s between -60 and +60 m, then 2 min outside."""
    if t < 120:
        return -300.0
    if t > 840:
        return 300.0
    s = ((t - 120) * 1.2) % 240
    return -60 + (s if s <= 120 else 240 - s)


def patrol(officer: Any) -> PatrolSession:
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=T0 - timedelta(minutes=1)
    )
    items = []
    for t in range(0, 961, 10):
        lat, lon = PROJ.to_latlon(x_at(t), 0.0)
        when = (T0 + timedelta(seconds=t)).isoformat()
        items.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": when,
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": 5.0,
                "speed_mps": 1.2,
            }
        )
    result = pings_ingest(officer=officer, items=items)
    assert result.counts()["accepted"] == 97
    return session


def visit_rows(officer: Any) -> list[tuple[Any, ...]]:
    return list(
        Visit.objects.filter(officer=officer)
        .order_by("entered_at")
        .values_list(
            "hotspot",
            "day",
            "entered_at",
            "exited_at",
            "dwell_s",
            "stopped_s",
            "gaps_s",
            "mode",
            "koper_compliant",
        )
    )


def test_ending_a_session_rolls_up_a_koper_compliant_foot_visit(
    hotspot: Hotspot, django_capture_on_commit_callbacks: Any
) -> None:
    officer = UserFactory(role="officer")
    session = patrol(officer)
    with django_capture_on_commit_callbacks(execute=True):
        session_end(officer=officer, session_id=session.pk)  # ended now: rolls up every day since
    # Inside fixes run from t = 120 s to t = 840 s: a 720 s dwell, between 600 and 960 s.
    assert visit_rows(officer) == [
        (
            hotspot.pk,
            DAY,
            T0 + timedelta(seconds=120),
            T0 + timedelta(seconds=840),
            720.0,
            0.0,
            0.0,
            "foot",
            True,
        ),
    ]


def test_running_the_rollup_twice_gives_the_same_visits(hotspot: Hotspot) -> None:
    officer = UserFactory(role="officer")
    patrol(officer)
    assert visit_rebuild_for_day(officer_id=officer.pk, day=DAY) == 1
    first = visit_rows(officer)
    assert visit_rebuild_for_day(officer_id=officer.pk, day=DAY) == 1
    assert visit_rows(officer) == first
    assert visit_rebuild_for_day(officer_id=officer.pk, day=DAY + timedelta(days=1)) == 0
    assert visit_rows(officer) == first  # another day's rollup leaves this day alone


def test_the_whole_day_rollup_equals_the_per_officer_rollups(hotspot: Hotspot) -> None:
    officers = [UserFactory(role="officer") for _ in range(3)]
    for officer in officers[:2]:  # the third officer did not patrol
        patrol(officer)
    for officer in officers:
        visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    per_officer = {o.pk: visit_rows(o) for o in officers}
    Visit.objects.all().delete()
    assert visits_rebuild_day(day=DAY) == 2
    assert {o.pk: visit_rows(o) for o in officers} == per_officer
    assert per_officer[officers[2].pk] == []


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_rollups_give_the_same_visits(postgres: None) -> None:
    from django.db import connection

    make_hotspot()
    officer = UserFactory(role="officer")
    patrol(officer)
    visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    expected = visit_rows(officer)
    connection.close()
    errors: list[BaseException] = []

    def rollup() -> None:
        try:
            visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=rollup) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert visit_rows(officer) == expected
    assert len(expected) == 1


def test_device_gaps_are_stored_with_the_hot_spot_they_hid(hotspot: Hotspot) -> None:
    """Fixes every 10 s inside the hot spot for 5 min, nothing for 6 min (a device gap, the
    tolerance being 120 s), 5 more min inside, then a gap of 3 min that starts inside and ends
    300 m away (the officer left: a gap, but not at the hot spot)."""
    from backend.patrols.models import DeviceGap

    officer = UserFactory(role="officer")
    PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=T0 - timedelta(minutes=1)
    )
    times = [*range(0, 301, 10), *range(660, 961, 10)]
    items = []
    for t in times:
        lat, lon = PROJ.to_latlon(0.0, 0.0)
        items.append(
            {"client_uuid": str(uuid.uuid4()), "t": t, "lat": float(lat), "lon": float(lon)}
        )
    lat, lon = PROJ.to_latlon(300.0, 0.0)
    items.append(
        {"client_uuid": str(uuid.uuid4()), "t": 1140, "lat": float(lat), "lon": float(lon)}
    )
    for item in items:
        item["recorded_at"] = (T0 + timedelta(seconds=item.pop("t"))).isoformat()
        item["accuracy_m"] = 5.0
    assert pings_ingest(officer=officer, items=items).counts()["accepted"] == len(items)
    visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    gaps = list(
        DeviceGap.objects.filter(officer=officer).values_list("hotspot", "started_at", "ended_at")
    )
    assert gaps == [
        (hotspot.pk, T0 + timedelta(seconds=300), T0 + timedelta(seconds=660)),
        (None, T0 + timedelta(seconds=960), T0 + timedelta(seconds=1140)),
    ]
    visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    assert DeviceGap.objects.filter(officer=officer).count() == 2  # replaced, not added


def test_the_time_between_two_patrol_sessions_is_not_a_device_gap(hotspot: Hotspot) -> None:
    """Two sessions an hour apart, fixes every 10 s in each: no device gap (the officer was off
    patrol, not out of signal)."""
    from backend.patrols.models import DeviceGap

    officer = UserFactory(role="officer")
    lat, lon = PROJ.to_latlon(0.0, 0.0)
    for start in (0, 3600 + 300):
        PatrolSession.objects.create(
            officer=officer,
            client_uuid=uuid.uuid4(),
            started_at=T0 + timedelta(seconds=start),
            ended_at=T0 + timedelta(seconds=start + 300),
        )
        items = [
            {
                "client_uuid": str(uuid.uuid4()),
                "lat": float(lat),
                "lon": float(lon),
                "recorded_at": (T0 + timedelta(seconds=start + t)).isoformat(),
                "accuracy_m": 5.0,
            }
            for t in range(0, 301, 10)
        ]
        assert pings_ingest(officer=officer, items=items).counts()["accepted"] == 31
    assert visit_rebuild_for_day(officer_id=officer.pk, day=DAY) == 2
    assert not DeviceGap.objects.filter(officer=officer).exists()


# Segment k of the race below starts SEGMENT_START[k] half-hours after T0: the pings arrive out
# of time order (late pings land before pings already rolled up). All 20 segments fall on DAY
# in New York: the last one ends at 15:00 UTC + 9.5 h + 16 min = 00:46 UTC, 19:46 in New York.
SEGMENT_START = [0, 13, 4, 19, 8, 1, 16, 11, 6, 2, 18, 9, 14, 3, 17, 7, 12, 5, 15, 10]


def segment_items(k: int) -> list[dict[str, Any]]:
    """The 97 pings (one every 10 s for 16 min) of ``x_at`` shifted to segment ``k``'s start."""
    base = T0 + timedelta(minutes=30 * SEGMENT_START[k])
    items = []
    for t in range(0, 961, 10):
        lat, lon = PROJ.to_latlon(x_at(t), 0.0)
        when = (base + timedelta(seconds=t)).isoformat()
        items.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": when,
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": 5.0,
                "speed_mps": 1.2,
            }
        )
    return items


def expected_visits(hotspot_pk: int, segments: int) -> list[tuple[Any, ...]]:
    """Worked by hand, not by the rollup: each segment is 2 min at -300 m, 12 min walking the
    hot spot (inside fixes from +120 s to +840 s: a 720 s foot visit, Koper-compliant, no stop
    at 1.2 m/s), 2 min at +300 m; segments are 30 min apart, so each is one visit of its own."""
    rows = []
    for k in range(segments):
        base = T0 + timedelta(minutes=30 * SEGMENT_START[k])
        enter, leave = base + timedelta(seconds=120), base + timedelta(seconds=840)
        rows.append((hotspot_pk, DAY, enter, leave, 720.0, 0.0, 0.0, "foot", True))
    return sorted(rows, key=lambda r: r[2])


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_late_pings_arriving_while_two_rollups_run_are_never_lost(
    postgres: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 rounds on real PostgreSQL connections. Each round, at a barrier: rollup A starts and
    is held between its read of the pings and the rest of its work (until the round's last
    rollup has finished, at most 0.5 s); rollup B starts; a phone's batch of late pings
    (segment k) is stored once A has read; then the rollup the new pings call for runs (C).
    After the round, the officer's visits must be those of every ping stored so far, worked by
    hand. A rollup that read its pings outside its lock (A) would write its stale visits over
    C's; reading inside the lock, A holds C off until it commits, and C then reads segment k."""
    from django.db import connection

    import backend.patrols.rollup as rollup

    hotspot = make_hotspot()
    officer = UserFactory(role="officer")
    PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=T0 - timedelta(minutes=1)
    )
    assert pings_ingest(officer=officer, items=segment_items(0)).counts()["accepted"] == 97
    visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    assert visit_rows(officer) == expected_visits(hotspot.pk, 1)
    connection.close()

    real_analyze = rollup.analyze_tracks
    a_has_read = threading.Event()
    c_done = threading.Event()

    def held_analyze(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "rollup-A":
            a_has_read.set()
            c_done.wait(timeout=0.5)  # released by C in the old order; a timeout otherwise
        return real_analyze(*args, **kwargs)

    monkeypatch.setattr(rollup, "analyze_tracks", held_analyze)
    errors: list[BaseException] = []

    def guarded(body: Any) -> Any:
        def run() -> None:
            try:
                body()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        return run

    for k in range(1, 20):
        barrier = threading.Barrier(3)
        a_has_read.clear()
        c_done.clear()

        def rollup_after_barrier(barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)
            visit_rebuild_for_day(officer_id=officer.pk, day=DAY)

        def phone(k: int = k, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=30)
            a_has_read.wait(timeout=10)
            result = pings_ingest(officer=officer, items=segment_items(k))
            assert result.counts()["accepted"] == 97
            try:
                visit_rebuild_for_day(officer_id=officer.pk, day=DAY)  # C
            finally:
                c_done.set()

        threads = [
            threading.Thread(target=guarded(rollup_after_barrier), name="rollup-A"),
            threading.Thread(target=guarded(rollup_after_barrier), name="rollup-B"),
            threading.Thread(target=guarded(phone), name="phone"),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == [], f"round {k}: {errors!r}"
        assert visit_rows(officer) == expected_visits(hotspot.pk, k + 1), f"round {k}"
        connection.close()

    # After the last ping, one more rollup leaves exactly the clean result on all 20 segments.
    visit_rebuild_for_day(officer_id=officer.pk, day=DAY)
    assert visit_rows(officer) == expected_visits(hotspot.pk, 20)
