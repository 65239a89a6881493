"""Reactions of reports to lower apps' events (they never import reports)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.db import transaction

_state = threading.local()


@contextmanager
def compliance_rebuilds_deferred() -> Iterator[None]:
    """Within this block (this thread), rollups do not queue compliance rebuilds: for bulk work
    (the demo's weeks of history) that rebuilds each day once at the end instead."""
    before = getattr(_state, "deferred", False)
    _state.deferred = True
    try:
        yield
    finally:
        _state.deferred = before


def queue_compliance_rebuild(sender: Any, *, day: date, **kwargs: Any) -> None:
    """After a visit rollup of ``day`` commits, recompute that day's compliance rows."""
    from backend.config.celery import task_send
    from backend.reports.tasks import compliance_day_rebuild_task

    if getattr(_state, "deferred", False):
        return
    transaction.on_commit(lambda: task_send(compliance_day_rebuild_task, day.isoformat()))
