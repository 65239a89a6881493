"""Celery tasks of the incidents app: interfaces that take ids and call one service each."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from backend.incidents.writing import incident_import_run


@shared_task(
    # The name predates the incidents app: queued messages and worker routes know it by it.
    name="hotspots.import_run",
    acks_late=True,
    # Idempotent: a redelivered run of a done import is a no-op, and a half-finished one left
    # nothing behind (its rows are written in one transaction), so it simply runs again.
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=3,
)
def import_run_task(import_id: int) -> str:
    """Run incident import ``import_id`` from its stored file; returns its final status."""
    return incident_import_run(import_id=import_id).status


@shared_task(name="incidents.sweep_due_imports", ignore_result=True, acks_late=True)
def sweep_due_imports_task() -> int:
    """Beat job (every minute): send the run of every import whose message was lost."""
    from backend.config.celery import task_resend_due
    from backend.incidents.selectors import imports_due

    return task_resend_due(import_run_task, imports_due())
