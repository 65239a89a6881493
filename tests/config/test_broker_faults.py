"""Fault (b) for every job a person asks for (issue 11): an incident upload, an analysis and a
compliance recomputation requested while Redis is down answer as usual, the rows record the
work as due, and after Redis comes back empty the every-minute sweeps send it all: every job
completes. A real worker and a throwaway Redis of the test's own (never the shared one).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.config.celery import RESEND_AFTER
from backend.hotspots.analysis_tasks import sweep_due_analyses_task
from backend.hotspots.models import AnalysisRun
from backend.incidents.models import IncidentImport
from backend.incidents.parsing import stored_file_path
from backend.incidents.selectors import imports_due
from backend.incidents.tasks import sweep_due_imports_task
from backend.reports.models import ComplianceRecompute
from backend.reports.tasks import sweep_due_recomputes_task
from tests.conftest import RedisServer, wait_until, worker_start, worker_stop
from tests.factories import UserFactory

INCIDENTS = """id,when,lat,lon,type
F1,2026-05-01 21:30,25.80,-80.21,robbery
F2,2026-05-02 10:00,25.81,-80.20,burglary
F3,2026-05-03 10:00,25.79,-80.22,burglary
"""


def client_for(role: str) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(role=role))
    return client


def six_minutes_pass() -> None:
    """Every job was recorded long enough ago for the sweeps to call its message lost."""
    back = RESEND_AFTER + timedelta(minutes=1)
    IncidentImport.objects.update(created_at=F("created_at") - back)
    AnalysisRun.objects.update(created_at=F("created_at") - back)
    ComplianceRecompute.objects.update(created_at=F("created_at") - back)


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_jobs_requested_while_redis_is_down_all_complete_once_it_is_back(
    real_broker: RedisServer, tmp_path: Path
) -> None:
    # The worker reads the upload from the default MEDIA_ROOT (its settings are its own): the
    # file is removed at the end.
    key = uuid.uuid4()
    try:
        jobs_requested_while_redis_is_down_complete(real_broker, tmp_path, key)
    finally:
        stored = stored_file_path(key)
        if stored is not None:
            stored.unlink()


def jobs_requested_while_redis_is_down_complete(
    real_broker: RedisServer, tmp_path: Path, key: uuid.UUID
) -> None:
    analyst, supervisor = client_for("analyst"), client_for("supervisor")
    real_broker.stop()

    upload = analyst.post(
        reverse("api-imports"),
        {
            "file": SimpleUploadedFile("rms.csv", INCIDENTS.encode(), content_type="text/csv"),
            "client_uuid": str(key),
            "columns": '{"id": "id", "occurred_at": "when", "lat": "lat", "lon": "lon"}',
            "column_offence": "type",
            "tz": "America/New_York",
        },
    )
    assert upload.status_code == 202, upload.content
    analysis = analyst.post(
        reverse("api-analyses"),
        json.dumps({"as_of": "2026-06-01", "lookback_days": 60}),
        content_type="application/json",
    )
    assert analysis.status_code == 202, analysis.content
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    recompute = supervisor.post(reverse("reports:compliance-recompute"), {"from": day, "to": day})
    assert recompute.status_code == 302  # back to the page, not a 500
    statuses = (
        IncidentImport.objects.get().status,
        AnalysisRun.objects.get().status,
        ComplianceRecompute.objects.get().status,
    )
    assert statuses == ("pending", "pending", "queued")  # recorded as due, nothing sent

    real_broker.start()  # empty: had anything been queued, it would be gone
    log = tmp_path / "worker.log"
    worker = worker_start(redis_url=real_broker.url, queue="fault-jobs", log=log)
    try:
        assert imports_due() == []  # recorded under 5 minutes ago: not yet called lost
        six_minutes_pass()
        sent = sweep_due_imports_task() + sweep_due_analyses_task() + sweep_due_recomputes_task()
        assert sent == 3
        # Beat's next minute: each job was just sent, so none is sent twice.
        assert sweep_due_imports_task() + sweep_due_analyses_task() == 0

        def all_finished() -> bool:
            return (
                IncidentImport.objects.filter(status="done").count() == 1
                and AnalysisRun.objects.filter(status__in=["done", "failed"]).count() == 1
                and ComplianceRecompute.objects.filter(status="done").count() == 1
            )

        took = wait_until(all_finished, 120, "every job", log)
    finally:
        worker_stop(worker)
    imp = IncidentImport.objects.get()
    run = AnalysisRun.objects.get()
    print(
        f"\nfault (b) jobs requested with Redis down: upload 202, analysis 202, recompute 302; "
        f"after Redis came back empty the sweeps sent {sent}; all finished {took:.1f} s later "
        f"(import {imp.status}, {imp.imported} incidents; analysis {run.status}; "
        f"recompute {ComplianceRecompute.objects.get().status}); lost 0"
    )
    assert imp.imported == 3
    assert run.status == "done", run.error
