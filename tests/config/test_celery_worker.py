"""A real task through Redis and a real worker process, its result written to the database."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime

import pytest

from backend.incidents.models import OffenceType
from backend.reports.models import DailySnapshot
from backend.reports.tasks import snapshot_build_task
from tests.conftest import Worker
from tests.factories import DistrictFactory, IncidentFactory


@pytest.mark.services
def test_snapshot_task_runs_in_a_real_worker_and_stores_its_result(
    celery_worker: Worker, settings: object
) -> None:
    from django.db import connection

    district = DistrictFactory(name="Downtown", code="downtown")
    robbery = OffenceType.objects.get(code="robbery-personal")  # 365 days in the default index
    larceny = OffenceType.objects.get(code="larceny")  # 5 days
    # 2026-03-10 in New York (EDT from 2026-03-08) runs 04:00 UTC to 04:00 UTC next day.
    IncidentFactory(
        occurred_at=datetime(2026, 3, 10, 4, 0, tzinfo=UTC), offence=robbery, district=district
    )
    IncidentFactory(
        occurred_at=datetime(2026, 3, 11, 3, 59, tzinfo=UTC), offence=larceny, district=district
    )
    IncidentFactory(occurred_at=datetime(2026, 3, 11, 4, 0, tzinfo=UTC), offence=robbery)
    IncidentFactory(occurred_at=datetime(2026, 3, 10, 3, 59, tzinfo=UTC), offence=robbery)

    result = snapshot_build_task.apply_async(args=["2026-03-10"], queue=celery_worker.queue)
    snapshot_id = result.get(timeout=60)

    snapshot = DailySnapshot.objects.get(pk=snapshot_id)
    assert snapshot.day == date(2026, 3, 10)
    assert snapshot.incidents == 2
    assert snapshot.harm == 365 + 5
    assert snapshot.by_district == [{"district": "Downtown", "incidents": 2, "harm": 370.0}]
    # The worker logs "succeeded" just after it stores the result: allow it a moment.
    deadline = time.monotonic() + 10
    while b"succeeded" not in celery_worker.log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert b"succeeded" in celery_worker.log.read_bytes()
    from tests.conftest import REQUIRE_SERVICES

    if REQUIRE_SERVICES:
        assert connection.vendor == "postgresql"


@pytest.mark.services
def test_healthz_canary_round_trips_through_the_worker(
    celery_worker: Worker, client: object
) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory(role="admin"))  # type: ignore[attr-defined]
    response = client.get("/healthz")  # type: ignore[attr-defined]
    body = response.json()
    assert response.status_code == 200, body
    assert body["broker"] == "ok"
    assert body["canary"] == "ok"


@pytest.mark.services
def test_anonymous_healthz_floods_send_one_canary_per_refresh(celery_worker: Worker) -> None:
    """60 anonymous calls from 6 threads at once: the worker receives one canary, not 60."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections
    from django.test import Client

    from backend.config import health

    health._results.clear()

    def call(_: int) -> tuple[int, dict[str, str]]:
        try:
            response = Client().get("/healthz")
            return response.status_code, response.json()
        finally:
            connections.close_all()  # this thread's connection, or the test database stays busy

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(call, range(60)))
    elapsed = time.monotonic() - started
    assert answers == [(200, {"status": "ok"})] * 60
    deadline = time.monotonic() + 10
    while b"succeeded" not in celery_worker.log.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.1)
    received = len(
        re.findall(rb"presence\.canary\[[^\]]+\] received", celery_worker.log.read_bytes())
    )
    # One canary per refresh period that the flood spanned (it normally spans one).
    allowed = 1 + int(elapsed // health.REFRESH_AFTER_S)
    print(f"60 anonymous /healthz calls in {elapsed:.2f} s sent {received} canary task(s)")
    assert 1 <= received <= allowed


def test_the_suite_runs_on_postgresql_when_services_are_required(postgres: None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    assert int(version.split(".")[0]) >= 13
