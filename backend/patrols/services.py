"""Patrol sessions and activities: the officer's own writes, each exactly once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from backend.audit.services import audit_record
from backend.patrols.models import Activity, ActivityType, PatrolSession

MAX_CLIENT_LAG = timedelta(hours=12)  # a start or end tapped offline and sent this much later
ROLLUP_RESEND_AFTER = timedelta(minutes=5)  # a sent rollup not done by then is sent again

logger = logging.getLogger(__name__)


class SessionConflict(Exception):
    """The officer already has an open session (returned so the phone can resume it)."""

    def __init__(self, session: PatrolSession) -> None:
        super().__init__(f"patrol session {session.pk} is still open: end it first")
        self.session = session


@dataclass(frozen=True)
class Written:
    obj: Any
    created: bool


def _client_time(value: datetime | None, now: datetime, field: str) -> datetime:
    if value is None:
        return now
    if value.tzinfo is None:
        raise ValidationError({field: "must include a UTC offset"})
    if value > now + timedelta(minutes=5) or value < now - MAX_CLIENT_LAG:
        raise ValidationError({field: "must be within the last 12 hours, not in the future"})
    return value


def session_start(
    *,
    officer: Any,
    client_uuid: uuid.UUID,
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> Written:
    """Start the officer's patrol session; a retry with the same client UUID returns it.

    Location is recorded only inside a session the officer started. A second open session is
    refused with ``SessionConflict`` carrying the open one. ``now`` is the server's clock
    (default ``timezone.now()``); the demo history passes a simulated one.
    """
    existing = PatrolSession.objects.filter(officer=officer, client_uuid=client_uuid).first()
    if existing is not None:
        return Written(existing, False)
    start = _client_time(started_at, now or timezone.now(), "started_at")
    try:
        with transaction.atomic():
            session = PatrolSession.objects.create(
                officer=officer, client_uuid=client_uuid, started_at=start
            )
            audit_record(actor=officer, action="patrol.start", obj=session, subject=officer,
                         after={"started_at": start})  # fmt: skip
    except IntegrityError:
        # Lost a race with a concurrent retry of the same start, or another session is open.
        again = PatrolSession.objects.filter(officer=officer, client_uuid=client_uuid).first()
        if again is not None:
            return Written(again, False)
        open_session = PatrolSession.objects.get(officer=officer, ended_at__isnull=True)
        raise SessionConflict(open_session) from None
    return Written(session, True)


def session_end(
    *,
    officer: Any,
    session_id: int,
    ended_at: datetime | None = None,
    now: datetime | None = None,
) -> PatrolSession:
    """End the officer's own session (idempotent) and queue its day's visit rollup.

    ``now`` is the server's clock (default ``timezone.now()``); the demo history passes a
    simulated one.
    """
    with transaction.atomic():
        session = (
            PatrolSession.objects.select_for_update().filter(pk=session_id, officer=officer).first()
        )
        if session is None:
            raise PatrolSession.DoesNotExist(f"no patrol session {session_id} of yours")
        if session.ended_at is not None:
            return session
        end = _client_time(ended_at, now or timezone.now(), "ended_at")
        if end < session.started_at:
            raise ValidationError({"ended_at": "must not be before the session started"})
        session.ended_at = end
        session.save(update_fields=["ended_at"])
        audit_record(actor=officer, action="patrol.end", obj=session, subject=officer,
                     after={"ended_at": end})  # fmt: skip
    if session.rolled_up_at is None:
        # A retried end re-sends the message too; the sweep covers a broker that is down.
        transaction.on_commit(lambda: session_rollup_queue(session_id=session.pk), robust=True)
    return session


def session_rollup_queue(*, session_id: int) -> bool:
    """Send the ended session's rollup; False (logged, not raised) when the broker is down.

    The message only accelerates work the session row already records as due: the
    ``patrols.sweep_due_rollups`` beat job sends it again within a minute of the broker's return.
    """
    from kombu.exceptions import OperationalError as BrokerError

    from backend.patrols.tasks import session_rollup_task

    try:
        session_rollup_task.delay(session_id)
    except (BrokerError, ConnectionError, OSError) as exc:
        logger.warning(
            "rollup of session %s not queued (%s); the sweep will send it", session_id, exc
        )
        return False
    PatrolSession.objects.filter(pk=session_id).update(rollup_queued_at=timezone.now())
    return True


def session_rollup(*, session_id: int) -> int:
    """Recompute the visits of every local day the ended session touched, then mark it done.

    Idempotent (each day is replaced as a whole), so a duplicate message or sweep costs only time.
    Returns the number of visits on those days.
    """
    from backend.patrols.rollup import visit_rebuild_for_day

    session = PatrolSession.objects.filter(pk=session_id, ended_at__isnull=False).first()
    if session is None:
        return 0
    assert session.ended_at is not None
    day = timezone.localtime(session.started_at).date()
    last = timezone.localtime(session.ended_at).date()
    visits = 0
    while day <= last:
        visits += visit_rebuild_for_day(officer_id=session.officer_id, day=day)
        day += timedelta(days=1)
    PatrolSession.objects.filter(pk=session_id, rolled_up_at__isnull=True).update(
        rolled_up_at=timezone.now()
    )
    return visits


def sessions_due_rollup(*, now: datetime | None = None) -> list[int]:
    """Ended sessions whose rollup has not run and was not sent in the last 5 minutes."""
    resend_before = (now or timezone.now()) - ROLLUP_RESEND_AFTER
    return list(
        PatrolSession.objects.filter(ended_at__isnull=False, rolled_up_at__isnull=True)
        .filter(Q(rollup_queued_at__isnull=True) | Q(rollup_queued_at__lt=resend_before))
        .order_by("ended_at")
        .values_list("pk", flat=True)[:1000]
    )


ACTIVITY_NOTE_MAX = 280  # a short observation typed on a phone ("broken light")
ACTIVITY_UNDO_MINUTES = 10  # undo is offered for 10 s; queued offline it may arrive later


def activity_undo(*, officer: Any, client_uuid: uuid.UUID, now: datetime | None = None) -> bool:
    """Delete the officer's own activity (the phone's 10-second undo); True if one was deleted.
    An activity received more than ``ACTIVITY_UNDO_MINUTES`` ago is kept (ValidationError)."""
    now = now or timezone.now()
    activity = Activity.objects.filter(officer=officer, client_uuid=client_uuid).first()
    if activity is None:
        return False
    if now - activity.received_at > timedelta(minutes=ACTIVITY_UNDO_MINUTES):
        raise ValidationError(
            f"activity {client_uuid} was logged over {ACTIVITY_UNDO_MINUTES} minutes ago: "
            "ask your sergeant to correct it"
        )
    before = {
        "kind": activity.kind.code,
        "recorded_at": activity.recorded_at,
        "note": activity.note,
    }
    with transaction.atomic():
        audit_record(
            actor=officer, action="activity.undo", obj=activity, subject=officer, before=before
        )
        activity.delete()
    return True


def activity_record(
    *,
    officer: Any,
    client_uuid: uuid.UUID,
    kind: str,
    recorded_at: datetime,
    note: str = "",
    lat: float | None = None,
    lon: float | None = None,
    mission_id: int | None = None,
) -> Written:
    """Log an activity exactly once; a replay returns the stored activity unchanged."""
    existing = Activity.objects.filter(officer=officer, client_uuid=client_uuid).first()
    if existing is not None:
        return Written(existing, False)
    errors: dict[str, str] = {}
    activity_type = ActivityType.objects.filter(code=kind, is_active=True).first()
    if activity_type is None:
        codes = ", ".join(
            ActivityType.objects.filter(is_active=True).values_list("code", flat=True)
        )
        errors["kind"] = f"unknown activity {kind!r}; one of: {codes}"
    if recorded_at.tzinfo is None:
        errors["recorded_at"] = "must include a UTC offset"
    if len(note) > ACTIVITY_NOTE_MAX:
        errors["note"] = f"at most {ACTIVITY_NOTE_MAX} characters (got {len(note)})"
    if (lat is None) != (lon is None):
        errors["lat"] = "give both lat and lon, or neither"
    elif lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        errors["lat"] = "lat/lon out of range"
    if mission_id is not None:
        from backend.missions.models import Mission

        if not Mission.objects.filter(pk=mission_id, officer=officer).exists():
            errors["mission"] = f"mission {mission_id} is not yours"
    if errors:
        raise ValidationError(errors)
    session = (
        PatrolSession.objects.filter(officer=officer, started_at__lte=recorded_at)
        .exclude(ended_at__lt=recorded_at).order_by("-started_at").first()
    )  # fmt: skip
    if session is None and lat is not None:
        raise ValidationError(
            {"lat": "a position is recorded only during a patrol session you started"}
        )
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                officer=officer, client_uuid=client_uuid, kind=activity_type,
                recorded_at=recorded_at, received_at=timezone.now(), note=note[:2000],
                lat=lat, lon=lon, mission_id=mission_id, session=session,
            )  # fmt: skip
    except IntegrityError:
        return Written(Activity.objects.get(officer=officer, client_uuid=client_uuid), False)
    return Written(activity, True)
