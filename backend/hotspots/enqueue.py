"""Requests that record an analysis and queue its Celery task once the run is committed.

Kept apart from ``services``: ``analysis_tasks`` imports the service that computes a run, so the
service that queues the task cannot live beside it without an import cycle.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backend.config.celery import task_send
from backend.hotspots.analysis_tasks import analysis_execute_task
from backend.hotspots.models import AnalysisRun
from backend.hotspots.services import AnalysisParams, analysis_create


def analysis_submit(
    *, params: AnalysisParams, actor: Any = None, publish: bool = False
) -> AnalysisRun:
    """``analysis_create``, then ``analysis_execute`` on a worker once the run is committed.

    ValidationError (from ``analysis_create``) stores nothing and queues nothing.
    """
    with transaction.atomic():
        run = analysis_create(params=params, actor=actor, publish=publish)
        pk = run.pk
        transaction.on_commit(lambda: task_send(analysis_execute_task, pk))
    return run
