"""Reactions of reports to lower apps' events (they never import reports)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction


def queue_compliance_rebuild(sender: Any, *, day: date, **kwargs: Any) -> None:
    """After a visit rollup of ``day`` commits, recompute that day's compliance rows."""
    from backend.reports.tasks import compliance_day_rebuild_task

    transaction.on_commit(lambda: compliance_day_rebuild_task.delay(day.isoformat()))
