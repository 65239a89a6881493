"""Visit rollups: per (officer, local day), recomputed from the pings, replaced as a whole."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from backend.config.localtime import local_day_bounds
from backend.patrols.models import PatrolSession

logger = logging.getLogger(__name__)


@shared_task(
    name="patrols.visit_rebuild",
    acks_late=True,
    reject_on_worker_lost=True,  # idempotent: recomputes from pings and replaces the day
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def visit_rebuild_task(officer_id: int, day: str) -> int:
    """Recompute one officer-day's visits; returns how many visits it now has."""
    from backend.patrols.rollup import visit_rebuild_for_day

    return visit_rebuild_for_day(officer_id=officer_id, day=date.fromisoformat(day))


@shared_task(
    name="patrols.unit_visit_rebuild", acks_late=True, reject_on_worker_lost=True, max_retries=5
)
def unit_visit_rebuild_task(unit_id: int, day: str) -> int:
    """Recompute one AVL unit-day's visits."""
    from backend.patrols.rollup import visit_rebuild_for_unit_day

    return visit_rebuild_for_unit_day(unit_id=unit_id, day=date.fromisoformat(day))


@shared_task(name="patrols.sweep_open_sessions", acks_late=True)
def sweep_open_sessions_task() -> int:
    """Beat job (every 10 minutes): roll up today for every officer still on patrol and every
    AVL unit heard from today."""
    from backend.patrols.models import PatrolSession, Ping

    today = timezone.localdate()
    officer_ids = set(
        PatrolSession.objects.filter(ended_at__isnull=True).values_list("officer_id", flat=True)
    )
    for officer_id in officer_ids:
        visit_rebuild_task.delay(officer_id, today.isoformat())
    start, end = local_day_bounds(today)
    unit_ids = set(
        Ping.objects.filter(unit__isnull=False, recorded_at__gte=start, recorded_at__lt=end)
        .values_list("unit_id", flat=True)
        .distinct()
    )
    for unit_id in unit_ids:
        unit_visit_rebuild_task.delay(unit_id, today.isoformat())
    return len(officer_ids) + len(unit_ids)


@shared_task(
    name="patrols.session_rollup",
    ignore_result=True,  # nothing waits on it: a result subscription would need the backend up
    acks_late=True,
    reject_on_worker_lost=True,  # idempotent: each day is recomputed and replaced
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def session_rollup_task(session_id: int) -> int:
    """Roll up the visits of an ended session's days and mark the session rolled up."""
    from backend.patrols.rollup import session_rollup

    return session_rollup(session_id=session_id)


@shared_task(name="patrols.sweep_due_rollups", ignore_result=True, acks_late=True)
def sweep_due_rollups_task() -> int:
    """Beat job (every minute): send the rollup of every ended session still owed one."""
    from backend.patrols.selectors import sessions_due_rollup

    due = sessions_due_rollup()
    for session_id in due:
        session_rollup_queue(session_id=session_id)
    return len(due)


@shared_task(name="patrols.visits_rebuild_yesterday", acks_late=True, reject_on_worker_lost=True)
def visits_rebuild_yesterday_task() -> int:
    """Beat job: reconcile yesterday's visits of every officer in one pass (late pings that
    arrived after their session's rollup are counted here)."""
    from backend.patrols.rollup import visits_rebuild_day

    return visits_rebuild_day(day=timezone.localdate() - timedelta(days=1))


@shared_task(name="patrols.ping_partitions_ensure", ignore_result=True, acks_late=True)
def ping_partitions_ensure_task() -> int:
    """Beat job (hourly): make the coming days' pings partitions (PostgreSQL); returns how many
    were created."""
    from backend.patrols.partitions import ping_partitions_ensure

    return len(ping_partitions_ensure())


@shared_task(name="patrols.pings_retention", ignore_result=True, acks_late=True)
def pings_retention_task() -> int:
    """Beat job (nightly): remove the raw pings of expired, rolled-up days; returns the number
    of days removed."""
    from backend.patrols.partitions import pings_retention_apply

    return len(pings_retention_apply().removed)


def session_rollup_queue(*, session_id: int) -> bool:
    """Send the ended session's rollup; False (logged, not raised) when the broker is down.

    The message only accelerates work the session row already records as due: the
    ``patrols.sweep_due_rollups`` beat job sends it again within a minute of the broker's return.
    It lives beside the task it sends, so ``services`` (which calls it when a session ends)
    and the tasks never import each other.
    """
    try:
        session_rollup_task.delay(session_id)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning(
            "rollup of session %s not queued (%s); the sweep will send it", session_id, exc
        )
        return False
    PatrolSession.objects.filter(pk=session_id).update(rollup_queued_at=timezone.now())
    return True
