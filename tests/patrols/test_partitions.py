"""Raw pings by day: partitions on PostgreSQL, exactly-once across them, and retention.

The exactly-once key of a fix is (party, recorded_at, client_uuid): a retry re-sends the same
fix, so it meets the stored row in the same partition. Retention removes only expired days that
are rolled up, and a rollup of a day whose pings are gone keeps that day's visits.
"""

from __future__ import annotations

import io
import itertools
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.config.localtime import agency_zone, local_day_bounds
from backend.patrols.ingest import avl_ingest, pings_ingest
from backend.patrols.models import PatrolSession, Ping, Visit
from backend.patrols.partitions import (
    ping_partitions,
    ping_partitions_ensure,
    pings_retention_apply,
)
from backend.patrols.rollup import session_rollup, visit_rebuild_for_day, visits_rebuild_day
from tests.factories import UserFactory
from tests.patrols.test_rollup import PROJ, make_hotspot, x_at

pytestmark = pytest.mark.django_db


def fix(when: datetime, client_uuid: uuid.UUID | None = None) -> dict[str, Any]:
    return {
        "client_uuid": str(client_uuid or uuid.uuid4()),
        "recorded_at": when.isoformat(),
        "lat": 25.8,
        "lon": -80.21,
        "accuracy_m": 5.0,
    }


def session_over(officer: Any, start: datetime, end: datetime | None) -> PatrolSession:
    return PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=start, ended_at=end
    )


def partition_of(ping_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM patrols_ping WHERE id = %s", [ping_id])
        return str(cursor.fetchone()[0])


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=agency_zone())


@pytest.mark.services
def test_pings_on_three_days_land_in_three_partitions(postgres: None) -> None:
    today = timezone.localdate()
    days = [today - timedelta(days=2), today - timedelta(days=1), today]
    ping_partitions_ensure(today=days[1])  # from the day before "today" on
    officer = UserFactory(role="officer")
    session_over(officer, local(days[0], 0), None)
    result = pings_ingest(officer=officer, items=[fix(local(d, 0, 30)) for d in days])
    assert [i.status for i in result.items] == ["accepted"] * 3
    homes = [partition_of(i.id) for i in result.items if i.id is not None]
    assert homes == [f"patrols_ping_p{d:%Y%m%d}" for d in days]


def test_a_retried_fix_near_midnight_is_a_duplicate_and_a_reused_uuid_at_another_time_is_not() -> (
    None
):
    """Runs on both databases; on PostgreSQL the two fixes sit on either side of a boundary."""
    day = timezone.localdate() - timedelta(days=1)
    midnight = local_day_bounds(day)[1]
    officer = UserFactory(role="officer")
    session_over(officer, midnight - timedelta(hours=1), None)
    before = midnight - timedelta(milliseconds=1)  # 23:59:59.999 local
    body = fix(before)
    first = pings_ingest(officer=officer, items=[body]).items[0]
    again = pings_ingest(officer=officer, items=[body]).items[0]
    # The same instant written in UTC is the same fix.
    as_utc = {**body, "recorded_at": before.astimezone(UTC).isoformat()}
    utc = pings_ingest(officer=officer, items=[as_utc]).items[0]
    assert (first.status, again.status, utc.status) == ("accepted", "duplicate", "duplicate")
    assert first.id == again.id == utc.id
    # A client that reuses a UUID for a fix at another time sent another fix: it is stored
    # (the key is party, time and UUID; docs/data-retention.md).
    reused = fix(midnight + timedelta(milliseconds=1), uuid.UUID(body["client_uuid"]))
    other = pings_ingest(officer=officer, items=[reused]).items[0]
    assert other.status == "accepted" and other.id != first.id
    # Duplicates are looked up by the whole key: a retry of the first fix still gets its own id.
    assert pings_ingest(officer=officer, items=[body]).items[0].id == first.id
    assert pings_ingest(officer=officer, items=[reused]).items[0].id == other.id
    assert Ping.objects.filter(officer=officer).count() == 2
    if connection.vendor == "postgresql" and ping_partitions():
        assert first.id is not None and other.id is not None
        assert partition_of(first.id) == f"patrols_ping_p{day:%Y%m%d}"
        assert partition_of(other.id) == f"patrols_ping_p{day + timedelta(days=1):%Y%m%d}"


@pytest.mark.services
def test_a_fix_for_a_day_without_partition_is_stored_and_stays_once_when_its_partition_is_made(
    postgres: None,
) -> None:
    day = timezone.localdate() - timedelta(days=20)
    assert f"patrols_ping_p{day:%Y%m%d}" not in {p.name for p in ping_partitions()}
    officer = UserFactory(role="officer")
    session_over(officer, local(day, 9), local(day, 11))
    body = fix(local(day, 10))
    stored = pings_ingest(officer=officer, items=[body]).items[0]
    assert stored.status == "accepted" and stored.id is not None
    assert partition_of(stored.id) == "patrols_ping_default"
    created = ping_partitions_ensure()
    assert f"patrols_ping_p{day:%Y%m%d}" in created
    assert partition_of(stored.id) == f"patrols_ping_p{day:%Y%m%d}"
    retry = pings_ingest(officer=officer, items=[body]).items[0]
    assert (retry.status, retry.id) == ("duplicate", stored.id)
    assert Ping.objects.filter(officer=officer).count() == 1


@pytest.mark.services
def test_the_command_makes_the_coming_days_partitions_once(postgres: None) -> None:
    out = io.StringIO()
    call_command("ping_partitions", "--ahead", "9", "--list", stdout=out)
    assert "partitions created" in out.getvalue()
    names = {p.name for p in ping_partitions()}
    today = timezone.localdate()
    for k in range(10):
        assert f"patrols_ping_p{today + timedelta(days=k):%Y%m%d}" in names
    assert ping_partitions_ensure(days_ahead=9) == []
    bounds = [(p.start, p.end) for p in ping_partitions()]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(bounds))  # no overlap


def test_a_fix_older_than_the_retention_period_is_refused_with_the_reason(settings: Any) -> None:
    settings.PRESENCE_PING_RETENTION_DAYS = 30
    officer = UserFactory(role="officer")
    today = timezone.localdate()
    session_over(officer, local(today - timedelta(days=40), 0), None)
    client = Client()
    client.force_login(officer)
    old, kept = local(today - timedelta(days=31), 12), local(today - timedelta(days=30), 0, 1)
    response = client.post(
        reverse("api-pings-batch"),
        json.dumps([fix(old), fix(kept)]),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert items[0]["status"] == "rejected"
    assert "raw pings are kept 30 days" in items[0]["reason"]
    assert items[0]["reason"].startswith(
        f"recorded_at is before {local(today - timedelta(days=30), 0).isoformat()}"
    )
    assert items[1]["status"] == "accepted"  # the first minute of the oldest day kept
    avl = avl_ingest(items=[{**fix(old), "unit": "CAR-1"}]).items[0]
    assert avl.status == "rejected" and "raw pings are kept 30 days" in avl.reason


def patrol_on(officer: Any, day: date, *, rolled_up: bool) -> PatrolSession:
    """A 17-minute patrol at 10:00 local on ``day`` with one visit to the hot spot."""
    t0 = local(day, 10)
    session = session_over(officer, t0 - timedelta(minutes=1), t0 + timedelta(minutes=17))
    items = []
    for t in range(0, 961, 10):
        lat, lon = PROJ.to_latlon(x_at(t), 0.0)
        items.append(
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (t0 + timedelta(seconds=t)).isoformat(),
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": 5.0,
                "speed_mps": 1.2,
            }
        )
    assert pings_ingest(officer=officer, items=items).counts()["accepted"] == 97
    if rolled_up:
        assert session_rollup(session_id=session.pk) == 1
    return session


def day_pings(day: date) -> int:
    start, end = local_day_bounds(day)
    return Ping.objects.filter(recorded_at__gte=start, recorded_at__lt=end).count()


def test_retention_removes_only_expired_days_that_are_rolled_up_and_keeps_their_visits(
    settings: Any,
) -> None:
    """On PostgreSQL by dropping the day's partition, on SQLite by deleting the day's rows."""
    make_hotspot()
    today = timezone.localdate()
    rolled, owing, recent = (today - timedelta(days=k) for k in (6, 5, 1))
    a, b, c = (UserFactory(role="officer") for _ in range(3))
    patrol_on(a, rolled, rolled_up=True)
    patrol_on(b, owing, rolled_up=False)
    patrol_on(c, recent, rolled_up=True)
    settings.PRESENCE_PING_RETENTION_DAYS = 3  # days before today - 3 are expired

    result = pings_retention_apply()

    assert result.cutoff == today - timedelta(days=3)
    assert result.removed == {rolled: 97}
    assert result.kept_not_rolled_up == [owing]
    assert (day_pings(rolled), day_pings(owing), day_pings(recent)) == (0, 97, 97)
    assert Visit.objects.filter(officer=a, day=rolled).count() == 1
    if connection.vendor == "postgresql":
        names = {p.name for p in ping_partitions()}
        assert f"patrols_ping_p{rolled:%Y%m%d}" not in names
        assert f"patrols_ping_p{owing:%Y%m%d}" in names
    # Once b's patrol is rolled up, the next run removes its day too.
    PatrolSession.objects.filter(officer=b).update(rolled_up_at=timezone.now())
    assert pings_retention_apply().removed == {owing: 97}


def test_a_rollup_of_a_day_whose_pings_are_gone_keeps_that_days_visits(settings: Any) -> None:
    make_hotspot()
    day = timezone.localdate() - timedelta(days=6)
    officer = UserFactory(role="officer")
    session = patrol_on(officer, day, rolled_up=True)
    visit = Visit.objects.get(officer=officer, day=day)
    settings.PRESENCE_PING_RETENTION_DAYS = 3
    assert pings_retention_apply().removed == {day: 97}

    assert visit_rebuild_for_day(officer_id=officer.pk, day=day) == 1
    visits_rebuild_day(day=day)
    PatrolSession.objects.filter(pk=session.pk).update(rolled_up_at=None)
    session_rollup(session_id=session.pk)  # a late sweep of the ended session

    assert list(Visit.objects.filter(officer=officer, day=day)) == [visit]
    assert Visit.objects.get(pk=visit.pk).dwell_s == visit.dwell_s


def test_beat_makes_partitions_hourly_and_applies_retention_nightly(settings: Any) -> None:
    from backend.config.celery import app
    from backend.patrols.tasks import ping_partitions_ensure_task, pings_retention_task

    tasks = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"patrols.ping_partitions_ensure", "patrols.pings_retention"} <= tasks
    assert {"patrols.ping_partitions_ensure", "patrols.pings_retention"} <= set(app.tasks)
    assert ping_partitions_ensure_task.delay().get() >= 0
    assert pings_retention_task.delay().get() == 0  # nothing expired here


@pytest.mark.services
def test_the_admin_list_of_raw_pings_never_counts_the_whole_table(
    postgres: None, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test.utils import CaptureQueriesContext

    from backend.patrols.admin import EstimatedCountPaginator

    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_COUNT_BELOW", 0)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/patrols/ping/")
    assert response.status_code == 200
    sent = [
        q["sql"].upper() for q in queries.captured_queries if "PATROLS_PING" in q["sql"].upper()
    ]
    assert any(s.startswith("EXPLAIN") for s in sent)
    assert not any("COUNT(" in s for s in sent)
    assert "recorded_at__gte" in response.content.decode()  # the day filter's links
