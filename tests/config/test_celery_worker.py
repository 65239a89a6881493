"""A real task through Redis and a real worker process, its result written to the database."""

from __future__ import annotations

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
    IncidentFactory(occurred_at=datetime(2026, 3, 10, 4, 0, tzinfo=UTC), offence=robbery,
                    district=district)  # fmt: skip
    IncidentFactory(occurred_at=datetime(2026, 3, 11, 3, 59, tzinfo=UTC), offence=larceny,
                    district=district)  # fmt: skip
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
    response = client.get("/healthz")  # type: ignore[attr-defined]
    body = response.json()
    assert response.status_code == 200, body
    assert body["broker"] == "ok"
    assert body["canary"] == "ok"


def test_the_suite_runs_on_postgresql_when_services_are_required(postgres: None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    assert int(version.split(".")[0]) >= 13
