"""Requests that record work and queue its Celery task once the row is committed.

Kept apart from ``services``: ``tasks`` imports the services that do the work, so the service
that queues a task cannot live beside them without an import cycle.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from backend.audit.services import audit_record
from backend.config.celery import task_send
from backend.reports.compliance import MAX_REPORT_DAYS
from backend.reports.models import ComplianceRecompute
from backend.reports.tasks import compliance_recompute_task, snapshot_build_task


def compliance_recompute_request(*, first: date, last: date, actor: Any) -> ComplianceRecompute:
    """Record a recomputation of ``[first, last]`` and queue it after the commit."""
    if last < first:
        raise ValidationError({"last_day": "The last day is before the first day."})
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ValidationError({"last_day": f"At most {MAX_REPORT_DAYS} days at once."})
    with transaction.atomic():
        job = ComplianceRecompute.objects.create(first_day=first, last_day=last, requested_by=actor)
        audit_record(
            actor=actor,
            action="compliance.recompute",
            obj=job,
            after={"first_day": first.isoformat(), "last_day": last.isoformat()},
        )
        transaction.on_commit(lambda: task_send(compliance_recompute_task, job.pk))
    return job


def snapshot_rebuild_request(*, day: date) -> None:
    """Queue a recomputation of ``day``'s daily snapshot, sent once the caller's transaction
    commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(snapshot_build_task, day.isoformat()))
