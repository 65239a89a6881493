"""Celery task for hot spot analyses (registered from HotspotsConfig.ready)."""

from __future__ import annotations

from celery import shared_task

from backend.hotspots.services import analysis_execute


@shared_task(name="hotspots.analysis_execute", acks_late=True, reject_on_worker_lost=True)
def analysis_execute_task(run_id: int) -> int:
    """Compute analysis run ``run_id`` (idempotent: a finished run is left as it is)."""
    return analysis_execute(run_id=run_id).pk


@shared_task(name="hotspots.sweep_due_analyses", ignore_result=True, acks_late=True)
def sweep_due_analyses_task() -> int:
    """Beat job (every minute): send every analysis run whose message was lost."""
    from backend.config.celery import task_resend_due
    from backend.hotspots.selectors import analyses_due

    return task_resend_due(analysis_execute_task, analyses_due())
