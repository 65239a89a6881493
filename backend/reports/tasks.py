from __future__ import annotations

from datetime import date, datetime, timedelta

from celery import shared_task

from backend.config.localtime import agency_zone
from backend.reports.services import (
    compliance_day_rebuild,
    compliance_recompute_run,
    snapshot_build,
)


@shared_task(
    name="reports.snapshot_build",
    acks_late=True,
    reject_on_worker_lost=True,  # idempotent: a redelivered snapshot recomputes the same row
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def snapshot_build_task(day: str) -> int:
    """Recompute the daily snapshot of ``day`` (ISO date); returns the snapshot's id."""
    return snapshot_build(day=date.fromisoformat(day)).pk


@shared_task(name="reports.snapshot_build_yesterday", acks_late=True, reject_on_worker_lost=True)
def snapshot_build_yesterday_task() -> int:
    """Beat job: yesterday's snapshot in the agency's time zone."""
    today = datetime.now(agency_zone()).date()
    return snapshot_build(day=today - timedelta(days=1)).pk


@shared_task(
    name="reports.compliance_day_rebuild",
    acks_late=True,
    reject_on_worker_lost=True,  # idempotent: recomputes the day and replaces its rows
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def compliance_day_rebuild_task(day: str) -> int:
    """Recompute one agency-local day's compliance rows; returns their number."""
    return compliance_day_rebuild(day=date.fromisoformat(day))


@shared_task(
    name="reports.compliance_rebuild_yesterday", acks_late=True, reject_on_worker_lost=True
)
def compliance_rebuild_yesterday_task() -> int:
    """Beat job (nightly, after the visit reconciliation): yesterday's compliance rows."""
    today = datetime.now(agency_zone()).date()
    return compliance_day_rebuild(day=today - timedelta(days=1))


@shared_task(name="reports.compliance_recompute", acks_late=True, reject_on_worker_lost=True)
def compliance_recompute_task(job_id: int) -> int:
    """Run a recompute job requested from the compliance page; returns days done."""
    return compliance_recompute_run(job_id=job_id).days_done


@shared_task(name="reports.sweep_due_recomputes", ignore_result=True, acks_late=True)
def sweep_due_recomputes_task() -> int:
    """Beat job (every minute): send every compliance recomputation whose message was lost."""
    from backend.config.celery import task_resend_due
    from backend.reports.selectors import recomputes_due

    return task_resend_due(compliance_recompute_task, recomputes_due())
