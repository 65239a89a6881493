"""Reads of patrol data. Every read of another officer's location is audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.audit.services import audit_record
from backend.config.localtime import local_day_bounds
from backend.patrols.models import PatrolSession, Ping

ROLLUP_RESEND_AFTER = timedelta(minutes=5)  # a sent rollup not done by then is sent again


def session_current(*, officer: Any) -> PatrolSession | None:
    return PatrolSession.objects.filter(officer=officer, ended_at__isnull=True).first()


def officers_visible_to(*, viewer: Any) -> QuerySet[User]:
    """Officers whose tracks ``viewer`` may read: their own; a sergeant's squads; supervisors
    and admins all. Analysts read aggregates only, never raw tracks."""
    officers = User.objects.filter(is_active=True)
    if viewer.role in (Role.SUPERVISOR, Role.ADMIN):
        return officers
    if viewer.role == Role.SERGEANT:
        return officers.filter(squad__sergeant=viewer) | officers.filter(pk=viewer.pk)
    if viewer.role == Role.OFFICER:
        return officers.filter(pk=viewer.pk)
    return officers.none()


def track_for_day(
    *, viewer: Any, officer_id: int, day: date, ip: str | None = None
) -> QuerySet[Ping]:
    """The pings of ``officer_id`` on agency-local ``day``, if ``viewer`` may read them.

    Raises ``PermissionError`` otherwise. A read of someone else's track writes an audit row
    (who, whose, which day) before any location is returned.
    """
    officer = officers_visible_to(viewer=viewer).filter(pk=officer_id).first()
    if officer is None:
        raise PermissionError("You may not read this officer's track.")
    start, end = local_day_bounds(day)
    if officer.pk != viewer.pk:
        audit_record(
            actor=viewer,
            action="track.read",
            obj=officer,
            subject=officer,
            after={"day": day.isoformat()},
            ip=ip,
        )
    return Ping.objects.filter(
        officer=officer, recorded_at__gte=start, recorded_at__lt=end
    ).order_by("recorded_at")


def sessions_due_rollup(*, now: datetime | None = None) -> list[int]:
    """Ended sessions whose rollup has not run and was not sent in the last 5 minutes."""
    resend_before = (now or timezone.now()) - ROLLUP_RESEND_AFTER
    return list(
        PatrolSession.objects.filter(ended_at__isnull=False, rolled_up_at__isnull=True)
        .filter(Q(rollup_queued_at__isnull=True) | Q(rollup_queued_at__lt=resend_before))
        .order_by("ended_at")
        .values_list("pk", flat=True)[:1000]
    )
