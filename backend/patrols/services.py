"""Patrol sessions and activities: the officer's own writes, each exactly once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.audit.services import audit_record
from backend.patrols.models import Activity, ActivityType, PatrolSession
from backend.patrols.tasks import session_rollup_queue

MAX_CLIENT_LAG = timedelta(hours=12)  # a start or end tapped offline and sent this much later


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
    ip: str | None = None,
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
            audit_record(
                actor=officer,
                action="patrol.start",
                obj=session,
                subject=officer,
                after={"started_at": start},
                ip=ip,
            )
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
    ip: str | None = None,
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
        audit_record(
            actor=officer,
            action="patrol.end",
            obj=session,
            subject=officer,
            after={"ended_at": end},
            ip=ip,
        )
    if session.rolled_up_at is None:
        # A retried end re-sends the message too; the sweep covers a broker that is down.
        transaction.on_commit(lambda: session_rollup_queue(session_id=session.pk), robust=True)
    return session


# Whether a mission id names one of the officer's missions. Missions sit above patrols, so the
# missions app registers the check at start-up (MissionsConfig.ready); with none registered, an
# activity cannot name a mission.
MissionCheck = Callable[[Any, int], bool]
_mission_checks: list[MissionCheck] = []


def activity_mission_check_register(check: MissionCheck) -> None:
    """Add ``check(officer, mission_id) -> bool``; an activity's mission must pass every one."""
    if check not in _mission_checks:
        _mission_checks.append(check)


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
    if mission_id is not None and not (
        _mission_checks and all(check(officer, mission_id) for check in _mission_checks)
    ):
        errors["mission"] = f"mission {mission_id} is not yours"
    if errors:
        raise ValidationError(errors)
    assert activity_type is not None  # else errors["kind"] was raised just above
    session = (
        PatrolSession.objects.filter(officer=officer, started_at__lte=recorded_at)
        .exclude(ended_at__lt=recorded_at)
        .order_by("-started_at")
        .first()
    )
    if session is None and lat is not None:
        raise ValidationError(
            {"lat": "a position is recorded only during a patrol session you started"}
        )
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                officer=officer,
                client_uuid=client_uuid,
                kind=activity_type,
                recorded_at=recorded_at,
                received_at=timezone.now(),
                note=note[:2000],
                lat=lat,
                lon=lon,
                mission_id=mission_id,
                session=session,
            )
    except IntegrityError:
        return Written(Activity.objects.get(officer=officer, client_uuid=client_uuid), False)
    return Written(activity, True)
