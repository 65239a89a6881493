"""Celery task for hot spot analyses (registered from HotspotsConfig.ready)."""

from __future__ import annotations

from celery import shared_task

from backend.hotspots.services import analysis_execute


@shared_task(name="hotspots.analysis_execute", acks_late=True, reject_on_worker_lost=True)
def analysis_execute_task(run_id: int) -> int:
    """Compute analysis run ``run_id`` (idempotent: a finished run is left as it is)."""
    return analysis_execute(run_id=run_id).pk
