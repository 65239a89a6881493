"""The chain on real services: a patrol ends -> the rollup -> that day's compliance, in a real
Celery worker on PostgreSQL and Redis; the snapshot task run twice stores one snapshot."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.patrols.ingest import pings_ingest
from backend.patrols.models import PatrolSession, Visit
from backend.patrols.services import session_end
from backend.reports.models import ComplianceDay, DailySnapshot, Scope
from backend.reports.tasks import snapshot_build_task
from tests.conftest import REQUIRE_SERVICES, Worker
from tests.factories import UserFactory
from tests.patrols.test_rollup import PROJ, make_hotspot, x_at


def _wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the worker")
        time.sleep(0.25)


@pytest.mark.services
def test_ending_a_patrol_updates_that_days_compliance_once(celery_worker: Worker) -> None:
    from django.db import connection

    if REQUIRE_SERVICES:
        assert connection.vendor == "postgresql"
    hotspot = make_hotspot()
    officer = UserFactory(role="officer")
    t0 = timezone.now() - timedelta(minutes=20)
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=t0 - timedelta(minutes=1)
    )
    items = []
    for t in range(0, 961, 10):  # 12 minutes walking inside the hot spot (test_rollup.x_at)
        lat, lon = PROJ.to_latlon(x_at(t), 0.0)
        when = (t0 + timedelta(seconds=t)).isoformat()
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
    assert pings_ingest(officer=officer, items=items).counts()["accepted"] == 97
    assert not ComplianceDay.objects.exists()

    session_end(officer=officer, session_id=session.pk)  # queues the rollup on commit

    day = timezone.localtime(t0 + timedelta(seconds=120)).date()

    def done() -> bool:
        return ComplianceDay.objects.filter(
            scope=Scope.OFFICER, officer=officer, day=day, delivered_visits=1
        ).exists()

    _wait_for(done)
    visit = Visit.objects.get(officer=officer)
    assert visit.dwell_s == 720.0 and visit.koper_compliant
    rows = ComplianceDay.objects.filter(day=day)
    assert rows.filter(scope=Scope.OFFICER, officer=officer).count() == 1
    spot = rows.get(scope=Scope.HOTSPOT, hotspot=hotspot)
    # No experiment runs: the hot spot is treated with the default 3 x 15 minutes.
    assert (spot.prescribed_visits, spot.delivered_visits, spot.koper_visits) == (3, 1, 1)
    assert spot.delivered_minutes == pytest.approx(12.0)
    assert b"reports.compliance_day_rebuild" in celery_worker.log.read_bytes()


@pytest.mark.services
def test_the_snapshot_task_twice_gives_one_snapshot(celery_worker: Worker) -> None:
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    first = snapshot_build_task.apply_async(args=[day], queue=celery_worker.queue).get(timeout=60)
    second = snapshot_build_task.apply_async(args=[day], queue=celery_worker.queue).get(timeout=60)
    assert first == second
    assert DailySnapshot.objects.filter(day=day).count() == 1
