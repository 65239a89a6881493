"""Writes for missions: the officer's draw, transitions, hand assignment, shift schedules, the
Mission Menu and experiments. Each top-level action owns a durable transaction and writes its
audit row (actor, before, after) in it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.models import Role, Squad, User
from backend.analytics.randomization import (
    ScheduledVisit,
    generator,
    koper_schedule,
    new_seed,
)
from backend.audit.services import audit_record
from backend.config.celery import task_send
from backend.config.dates import sane_date_problem
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import analysis_run_active, hotspots_active
from backend.missions.models import (
    OPEN_MISSION_STATUSES,
    Allocation,
    Blocking,
    DeclineReason,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionSource,
    MissionStatus,
    MissionType,
    ShiftPlan,
)
from backend.missions.selectors import (
    allocation_compute,
    draw_candidates,
    experiment_units,
    officers_assignable_by,
    squad_officers,
    squad_shift_window,
    treatment_on,
)
from backend.patrols.tasks import visit_rebuild_task
from backend.workload.selectors import ShiftCapacity, Tier, shift_capacity

DRAW_WINDOW_MINUTES = 60  # a drawn mission's window: time to get there and deliver the visit
MAX_MISSION_HOURS = 12
MAX_PLACEDAY_DAYS = 366
CLOCK_TOLERANCE = timedelta(minutes=5)  # a phone's "at" may run this far ahead of the server
ALLOCATION_INSERT_BATCH = 2_000  # 6 columns x 2,000 rows stays under SQLite's 32,766 parameters


class MissionConflict(Exception):
    """The request is valid but the current state forbids it (HTTP 409)."""


class ExperimentLocked(MissionConflict):
    """The experiment has started: its allocation can no longer change."""


@dataclass(frozen=True)
class Written:
    """A write that a client UUID makes exactly-once: ``created`` is False on a replay."""

    mission: Mission
    created: bool


@dataclass(frozen=True)
class DrawResult:
    """The draw's mission (None when nothing is due), whether it was created now (False for a
    replayed client UUID), and what the officer is told."""

    mission: Mission | None
    created: bool
    distance_m: float | None
    due_in_reach: int
    reach_m: float
    detail: str


def _mission_state(m: Mission) -> dict[str, Any]:
    return {
        "status": m.status,
        "officer": m.officer_id,
        "hotspot": m.hotspot_id,
        "window_start": m.window_start,
        "window_end": m.window_end,
        "decline_reason": m.decline_reason,
        "note": m.status_note,
    }


# ---------------------------------------------------------------------------------------------
# The draw


@transaction.atomic(durable=True)
def mission_draw(
    *,
    officer: User,
    lat: float,
    lon: float,
    client_uuid: uuid.UUID,
    now: datetime | None = None,
    reach_m: float | None = None,
) -> DrawResult:
    """The officer's "next hot spot": a new *assigned* mission at a randomly drawn hot spot.

    Candidates are the active hot spots within reach (``PRESENCE_DRAW_REACH_M``, default
    2,000 m, centroid distance) that are treated and due today, weighted by dose deficit
    (``selectors.hotspot_dose_today``). Treated means: allocated to treatment by the running
    experiment of the active run (for place-day, today's allocation); with no running
    experiment every active hot spot is treated, as there is no control. A control hot spot is
    never offered. A hot spot someone else is at or heading to right now (or that the officer
    already holds) is offered only when nothing else is due. The generator's seed is drawn from
    ``secrets`` and written to the audit row.

    Exactly-once: a retried draw with the same ``client_uuid`` returns the same mission; the
    unique constraint on ``Mission.client_uuid`` decides a race between two retries.

    Concurrency: the candidate hot spot rows are locked (``SELECT ... FOR UPDATE``, id order)
    before dose and "taken" are read, so two officers drawing at once among the same hot spots
    are served one after the other and the second never gets the hot spot the first just got
    while another is due. SQLite has no row locks; it serializes writers as a whole.
    """
    existing = Mission.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        return _draw_replay(existing, officer, reach_m)
    candidates = draw_candidates(lat=lat, lon=lon, now=now, reach_m=reach_m, for_update=True)
    now = candidates.now  # taken once the candidates are locked
    reach = candidates.reach_m
    due = int(candidates.due.sum())
    seed = new_seed()
    index = candidates.pick(generator(seed))
    if index is None:
        return DrawResult(
            mission=None,
            created=False,
            distance_m=None,
            due_in_reach=0,
            reach_m=reach,
            detail=f"No treated hot spot within {reach / 1000:g} km is due right now.",
        )
    treatment = candidates.treatment
    hotspot_id = int(candidates.hotspot_ids[index])
    distance = float(candidates.distance_m[index])
    try:
        with transaction.atomic():
            mission = Mission.objects.create(
                client_uuid=client_uuid,
                hotspot_id=hotspot_id,
                officer=officer,
                squad_id=officer.squad_id,
                experiment=treatment.experiment,
                source=MissionSource.DRAW,
                window_start=now,
                window_end=now + timedelta(minutes=DRAW_WINDOW_MINUTES),
                target_minutes=treatment.visit_minutes,
                created_by=officer,
            )
    except IntegrityError:
        return _draw_replay(Mission.objects.get(client_uuid=client_uuid), officer, reach_m)
    audit_record(
        actor=officer,
        action="mission.draw",
        obj=mission,
        subject=officer,
        after={
            **_mission_state(mission),
            "seed": seed,
            "distance_m": round(distance, 1),
            "due_in_reach": due,
            "taken_fallback": bool(candidates.taken[index]),
            "experiment": treatment.experiment.pk if treatment.experiment else None,
        },
    )
    return DrawResult(
        mission=mission,
        created=True,
        distance_m=distance,
        due_in_reach=due,
        reach_m=reach,
        detail=f"Hot spot {candidates.ranks[index]}, {distance:.0f} m away.",
    )


def _draw_replay(mission: Mission, officer: User, reach_m: float | None) -> DrawResult:
    if mission.officer_id != officer.pk:
        raise ValidationError({"client_uuid": "this client UUID belongs to another write"})
    return DrawResult(
        mission=mission,
        created=False,
        distance_m=None,
        due_in_reach=0,
        reach_m=float(reach_m) if reach_m is not None else 0.0,
        detail="The same draw again (client UUID seen before).",
    )


# ---------------------------------------------------------------------------------------------
# Transitions


@dataclass(frozen=True)
class _Move:
    action: str
    sources: tuple[str, ...]
    target: str
    by_officer: bool  # only the mission's officer; else its sergeant or a supervisor


MOVES = {
    "accept": _Move("accept", (MissionStatus.ASSIGNED,), MissionStatus.ACCEPTED, True),
    "arrive": _Move("arrive", (MissionStatus.ACCEPTED,), MissionStatus.ON_SCENE, True),
    "complete": _Move("complete", (MissionStatus.ON_SCENE,), MissionStatus.COMPLETED, True),
    "decline": _Move(
        "decline", (MissionStatus.ASSIGNED, MissionStatus.ACCEPTED), MissionStatus.DECLINED, True
    ),
    "interrupt": _Move(
        "interrupt",
        (MissionStatus.ACCEPTED, MissionStatus.ON_SCENE),
        MissionStatus.INTERRUPTED,
        True,
    ),
    "cancel": _Move("cancel", OPEN_MISSION_STATUSES, MissionStatus.CANCELLED, False),
}


def _may_supervise(actor: User, mission: Mission) -> bool:
    """The mission's squad's sergeant (or its officer's), supervisors and admins."""
    if actor.has_role(Role.SUPERVISOR):
        return True
    if actor.role != Role.SERGEANT or not actor.is_active:
        return False
    squads = {s for s in (mission.squad_id, mission.officer.squad_id) if s is not None}
    return Squad.objects.filter(pk__in=squads, sergeant=actor).exists()


@transaction.atomic(durable=True)
def _transition(
    *,
    mission_id: int,
    actor: User,
    action: str,
    reason: str = "",
    note: str = "",
    at: datetime | None = None,
) -> Written:
    move = MOVES[action]
    now = timezone.now()
    at = at or now
    if at.tzinfo is None:
        raise ValidationError({"at": "must include a UTC offset"})
    if at > now + CLOCK_TOLERANCE:
        raise ValidationError({"at": "is in the future"})
    mission = (
        Mission.objects.select_for_update(of=("self",)).select_related("officer").get(pk=mission_id)
    )
    if move.by_officer and mission.officer_id != actor.pk:
        raise PermissionError("Only the mission's officer can do this.")
    if not move.by_officer and not _may_supervise(actor, mission):
        raise PermissionError("Only the squad's sergeant or a supervisor can cancel a mission.")
    if mission.status == move.target:
        return Written(mission, False)  # a retried request: already done
    if mission.status not in move.sources:
        allowed = " or ".join(MissionStatus(s).label.lower() for s in move.sources)
        raise MissionConflict(
            f"Mission {mission.pk} is {mission.get_status_display().lower()}: it can be "
            f"{MissionStatus(move.target).label.lower()} only when {allowed}."
        )
    if action == "decline":
        if reason not in DeclineReason.values:
            raise ValidationError({"reason": f"one of: {', '.join(DeclineReason.values)}"})
        if reason == DeclineReason.OTHER and not note.strip():
            raise ValidationError({"note": "say why when the reason is 'other'"})
    before = _mission_state(mission)
    mission.status = move.target
    if action == "decline":
        mission.decline_reason = reason
    if note or action in ("decline", "interrupt", "cancel"):
        mission.status_note = note.strip()[:500]
    fields = ["status", "decline_reason", "status_note", "updated_at"]
    if move.target == MissionStatus.ACCEPTED:
        mission.accepted_at = at
        fields.append("accepted_at")
    elif move.target == MissionStatus.ON_SCENE:
        mission.on_scene_at = at
        fields.append("on_scene_at")
    else:
        mission.ended_at = at
        fields.append("ended_at")
    mission.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=f"mission.{action}",
        obj=mission,
        subject=mission.officer,
        before=before,
        after={**_mission_state(mission), "at": at},
    )
    return Written(mission, True)


def mission_accept(*, mission_id: int, actor: User, at: datetime | None = None) -> Written:
    """assigned -> accepted, by the mission's officer."""
    return _transition(mission_id=mission_id, actor=actor, action="accept", at=at)


def mission_arrive(*, mission_id: int, actor: User, at: datetime | None = None) -> Written:
    """accepted -> on scene, by the mission's officer."""
    return _transition(mission_id=mission_id, actor=actor, action="arrive", at=at)


def mission_complete(*, mission_id: int, actor: User, at: datetime | None = None) -> Written:
    """on scene -> completed, by the mission's officer. "Done" ends the mission but never
    creates dose: whether it was delivered is read from GPS dwell
    (``selectors.mission_deliveries``), so the officer's visits of the day are rolled up now
    rather than at the end of the patrol."""
    written = _transition(mission_id=mission_id, actor=actor, action="complete", at=at)
    if written.created:
        mission = written.mission
        day = timezone.localtime(mission.ended_at or timezone.now()).date().isoformat()
        transaction.on_commit(lambda: task_send(visit_rebuild_task, mission.officer_id, day))
    return written


def mission_decline(
    *, mission_id: int, actor: User, reason: str, note: str = "", at: datetime | None = None
) -> Written:
    """assigned or accepted -> declined with a reason (dispatched, unsafe, other + note)."""
    return _transition(
        mission_id=mission_id, actor=actor, action="decline", reason=reason, note=note, at=at
    )


def mission_interrupt(
    *, mission_id: int, actor: User, note: str = "", at: datetime | None = None
) -> Written:
    """accepted or on scene -> interrupted by a call, by the mission's officer."""
    return _transition(mission_id=mission_id, actor=actor, action="interrupt", note=note, at=at)


def mission_cancel(*, mission_id: int, actor: User, note: str = "") -> Written:
    """Any open mission -> cancelled, by its squad's sergeant or a supervisor."""
    return _transition(mission_id=mission_id, actor=actor, action="cancel", note=note)


# ---------------------------------------------------------------------------------------------
# Hand assignment


def _check_not_control(hotspot: Hotspot, day: date) -> None:
    treatment = treatment_on(day=day, hotspot_ids=[hotspot.pk])
    if not treatment.is_treated(hotspot.pk):
        raise ValidationError(
            {
                "hotspot": f"hot spot {hotspot.rank} is a control hot spot of experiment "
                f"'{treatment.experiment}' on {day}: a mission there would contaminate it"
            }
        )


@transaction.atomic(durable=True)
def mission_assign(
    *,
    actor: User,
    officer_id: int,
    hotspot_id: int,
    window_start: datetime,
    window_end: datetime,
    mission_type_id: int | None = None,
    client_uuid: uuid.UUID | None = None,
) -> Written:
    """A sergeant (for their squads' members) or a supervisor gives a mission by hand.

    Refused: a hot spot that is not active or is a control hot spot that day, a window that is
    empty or longer than 12 hours, and an officer who already has an open mission overlapping
    the window (``MissionConflict``). Exactly-once by ``client_uuid`` when given.
    """
    if client_uuid is not None:
        existing = Mission.objects.filter(client_uuid=client_uuid).first()
        if existing is not None:
            if existing.created_by_id != actor.pk:
                raise ValidationError({"client_uuid": "this client UUID belongs to another write"})
            return Written(existing, False)
    # Lock the officer: two assignments to one officer are checked for overlap one at a time.
    officer = (
        officers_assignable_by(user=actor).select_for_update(of=("self",)).filter(pk=officer_id)
    ).first()
    if officer is None:
        raise ValidationError({"officer": "not an active officer you may assign"})
    hotspot = hotspots_active().filter(pk=hotspot_id).first()
    if hotspot is None:
        raise ValidationError({"hotspot": "not an active hot spot"})
    errors = {}
    if window_start.tzinfo is None or window_end.tzinfo is None:
        errors["window_start"] = "times must include a UTC offset"
    elif window_end <= window_start:
        errors["window_end"] = "must be after the start"
    elif window_end - window_start > timedelta(hours=MAX_MISSION_HOURS):
        errors["window_end"] = f"a mission lasts at most {MAX_MISSION_HOURS} hours"
    mission_type = None
    if mission_type_id is not None:
        mission_type = MissionType.objects.filter(pk=mission_type_id, is_active=True).first()
        if mission_type is None:
            errors["mission_type"] = "not an active Mission Menu entry"
    if errors:
        raise ValidationError(errors)
    _check_not_control(hotspot, timezone.localdate(window_start))
    clash = Mission.objects.filter(
        officer=officer,
        status__in=OPEN_MISSION_STATUSES,
        window_start__lt=window_end,
        window_end__gt=window_start,
    ).first()
    if clash is not None:
        raise MissionConflict(
            f"{officer} already has mission {clash.pk} from "
            f"{timezone.localtime(clash.window_start):%H:%M} to "
            f"{timezone.localtime(clash.window_end):%H:%M}."
        )
    treatment = treatment_on(day=timezone.localdate(window_start), hotspot_ids=[hotspot.pk])
    minutes = mission_type.target_minutes if mission_type else treatment.visit_minutes
    uid = client_uuid or uuid.uuid4()
    try:
        with transaction.atomic():
            mission = Mission.objects.create(
                client_uuid=uid,
                hotspot=hotspot,
                officer=officer,
                squad_id=officer.squad_id,
                mission_type=mission_type,
                experiment=treatment.experiment,
                source=MissionSource.HAND,
                window_start=window_start,
                window_end=window_end,
                target_minutes=minutes,
                created_by=actor,
            )
    except IntegrityError:
        return Written(Mission.objects.get(client_uuid=uid), False)
    audit_record(
        actor=actor,
        action="mission.assign",
        obj=mission,
        subject=officer,
        after=_mission_state(mission),
    )
    return Written(mission, True)


# ---------------------------------------------------------------------------------------------
# Shift schedules


@dataclass(frozen=True)
class PlanResult:
    plan: ShiftPlan
    created: bool
    # Where the visits were placed against the district's workload (``backend.workload``):
    # a sentence for the board, and one warning per mission in an hour at or over 100%.
    capacity_note: str = ""
    capacity_warnings: tuple[str, ...] = ()


def _epoch(dt: datetime) -> int:
    return int(dt.timestamp())


@transaction.atomic(durable=True)
def shift_plan_generate(
    *,
    squad_id: int,
    day: date,
    actor: User,
    mission_type_id: int | None = None,
    replace: bool = False,
    seed: int | None = None,
) -> PlanResult:
    """Generate the Koper schedule of ``squad``'s shift starting on local ``day``.

    Every treated active hot spot of the squad's district gets N visits of T minutes (the
    running experiment's visits per shift and minutes per visit; 3 x 15 without one) at random
    whole minutes of the shift, consecutive visits to a hot spot at least 2 hours apart (start
    to start), shared among the squad's active officers in a random order with no officer
    given two visits at once (``analytics.randomization.koper_schedule``, seed from
    ``secrets``, stored on the plan; ``seed``, when given, is used instead, as the demo
    history does to be reproducible). Each visit becomes an assigned mission whose window is
    the visit.

    A plan already made for (squad, day) is returned as it is (``created`` False). With
    ``replace`` its missions are cancelled and a new schedule made, but only while none of them
    has been accepted (``MissionConflict`` otherwise: cancel or reassign missions one by one).
    """
    squad = (
        Squad.objects.select_for_update(of=("self",))
        .select_related("district")
        .filter(pk=squad_id)
        .first()
    )
    if squad is None:
        raise ValidationError({"squad": "no such squad"})
    leads = actor.role == Role.SERGEANT and squad.sergeant_id == actor.pk
    if not (actor.has_role(Role.SUPERVISOR) or (leads and actor.is_active)):
        raise PermissionError("Only the squad's sergeant or a supervisor plans its shift.")
    existing = ShiftPlan.objects.filter(squad=squad, day=day).first()
    if existing is not None and not replace:
        return PlanResult(existing, False)
    mission_type = None
    if mission_type_id is not None:
        mission_type = MissionType.objects.filter(pk=mission_type_id, is_active=True).first()
        if mission_type is None:
            raise ValidationError({"mission_type": "not an active Mission Menu entry"})
    start, end = squad_shift_window(squad=squad, day=day)
    district_ids = list(
        hotspots_active().filter(district=squad.district).values_list("pk", flat=True)
    )
    treatment = treatment_on(day=day, hotspot_ids=district_ids)
    treated = [h for h in district_ids if treatment.is_treated(h)]
    officers = list(squad_officers(squad=squad).values_list("pk", flat=True))
    if not treated:
        raise ValidationError(
            {"squad": f"no treated active hot spot lies in {squad.district.name} on {day}"}
        )
    if not officers:
        raise ValidationError({"squad": f"{squad.name} has no active officers"})
    if seed is not None and not 0 <= seed < 2**63:
        raise ValidationError({"seed": "must be a whole number from 0 to 2**63 - 1"})
    seed = new_seed() if seed is None else int(seed)
    # Prefer the hours whose calls leave spare capacity: each tier is tried from the same
    # seed, best first, and the whole shift is the last (so a plan is still made, and warned).
    capacity = shift_capacity(district=squad.district, start=start, end=end)
    tiers = capacity.tiers() if capacity is not None else [Tier("", None)]
    visits: tuple[ScheduledVisit, ...] = ()
    for k, tier in enumerate(tiers):
        try:
            visits = koper_schedule(
                generator(seed),
                treated,
                officers,
                _epoch(start),
                _epoch(end),
                visits_per_hotspot=treatment.visits_per_day,
                visit_minutes=treatment.visit_minutes,
                allowed_minutes=tier.minutes,
            )
        except ValueError as exc:
            if k == len(tiers) - 1:
                raise ValidationError({"squad": str(exc)}) from exc
            continue
        break
    capacity_note, warnings = _capacity_note(capacity, tier, visits)

    if existing is not None:
        under_way = existing.missions.exclude(
            status__in=[MissionStatus.ASSIGNED, MissionStatus.CANCELLED, MissionStatus.DECLINED]
        )
        if under_way.exists():
            raise MissionConflict(
                f"{under_way.count()} missions of this plan are under way or done: cancel or "
                "reassign missions one by one instead of replacing the plan."
            )
        for mission in existing.missions.filter(status=MissionStatus.ASSIGNED):
            before = _mission_state(mission)
            mission.status = MissionStatus.CANCELLED
            mission.ended_at = timezone.now()
            mission.status_note = "Shift schedule replaced."
            mission.plan = None
            mission.save(update_fields=["status", "ended_at", "status_note", "plan", "updated_at"])
            audit_record(
                actor=actor,
                action="mission.cancel",
                obj=mission,
                subject=mission.officer,
                before=before,
                after=_mission_state(mission),
            )
        existing.missions.update(plan=None)
        before_plan = {"seed": existing.seed, "created_by": existing.created_by_id}
        plan = existing
        plan.seed = seed
        plan.created_by = actor
        plan.created_at = timezone.now()
    else:
        before_plan = None
        plan = ShiftPlan(squad=squad, day=day, seed=seed, created_by=actor)
    plan.experiment = treatment.experiment
    plan.mission_type = mission_type
    plan.shift_start, plan.shift_end = start, end
    plan.visits_per_hotspot = treatment.visits_per_day
    plan.visit_minutes = treatment.visit_minutes
    plan.save()

    missions = Mission.objects.bulk_create(
        [
            Mission(
                hotspot_id=v.hotspot_id,
                officer_id=v.officer_id,
                squad=squad,
                plan=plan,
                mission_type=mission_type,
                experiment=treatment.experiment,
                source=MissionSource.SCHEDULE,
                window_start=datetime.fromtimestamp(v.start_s, tz=UTC),
                window_end=datetime.fromtimestamp(v.end_s, tz=UTC),
                target_minutes=treatment.visit_minutes,
                created_by=actor,
            )
            for v in visits
        ]
    )
    audit_record(
        actor=actor,
        action="shift_plan.replace" if before_plan else "shift_plan.create",
        obj=plan,
        before=before_plan,
        after={
            "squad": squad.pk,
            "day": day,
            "seed": seed,
            "missions": len(missions),
            "hotspots": len(treated),
            "officers": len(officers),
            "visits_per_hotspot": plan.visits_per_hotspot,
            "visit_minutes": plan.visit_minutes,
            "experiment": plan.experiment_id,
            "capacity": capacity_note,
        },
    )
    people = User.objects.in_bulk(officers)
    for mission in missions:
        audit_record(
            actor=actor,
            action="mission.assign",
            obj=mission,
            subject=people[mission.officer_id],
            after=_mission_state(mission),
        )
    return PlanResult(plan, True, capacity_note, warnings)


def _capacity_note(
    capacity: ShiftCapacity | None, tier: Tier, visits: tuple[ScheduledVisit, ...]
) -> tuple[str, tuple[str, ...]]:
    """The board's sentence on where the visits went, and the over-100% warnings."""
    if capacity is None:
        return ("No workload figures for this district: visits placed across the whole shift.", ())
    windows = [
        (datetime.fromtimestamp(v.start_s, tz=UTC), datetime.fromtimestamp(v.end_s, tz=UTC))
        for v in visits
    ]
    warnings = tuple(capacity.overloaded(windows))
    if tier.minutes is not None:
        note = f"Placed in {tier.label}."
    else:
        note = "No hours of this shift with spare capacity could hold the schedule: visits "
        note += "placed across the whole shift."
    return note, warnings


# ---------------------------------------------------------------------------------------------
# Mission Menu


MISSION_TYPE_FIELDS = ("name", "objective", "target_minutes", "tactics", "is_active")


def _type_state(t: MissionType) -> dict[str, Any]:
    return {f: getattr(t, f) for f in MISSION_TYPE_FIELDS}


def _type_validate(t: MissionType) -> None:
    errors: dict[str, list[str]] = {}
    if not 1 <= int(t.target_minutes or 0) <= 240:
        errors["target_minutes"] = ["must be from 1 to 240"]
    try:
        t.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field != "__all__" or not errors:  # the range constraint is said once, above
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic(durable=True)
def mission_type_create(
    *,
    actor: User,
    name: str,
    objective: str,
    target_minutes: int = 15,
    tactics: str = "",
    is_active: bool = True,
) -> MissionType:
    """A new Mission Menu entry (names unique, 1-240 target minutes); audited."""
    mission_type = MissionType(
        name=name.strip(),
        objective=objective.strip(),
        target_minutes=target_minutes,
        tactics=tactics.strip(),
        is_active=is_active,
    )
    _type_validate(mission_type)
    mission_type.save()
    audit_record(
        actor=actor, action="mission_type.create", obj=mission_type, after=_type_state(mission_type)
    )
    return mission_type


@transaction.atomic(durable=True)
def mission_type_update(*, actor: User, mission_type_id: int, **fields: Any) -> MissionType:
    """Change a Mission Menu entry's ``name``, ``objective``, ``target_minutes``, ``tactics``
    or ``is_active``; audited with the old and new values. Missions keep their entry."""
    unknown = set(fields) - set(MISSION_TYPE_FIELDS)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
    mission_type = MissionType.objects.select_for_update().get(pk=mission_type_id)
    before = _type_state(mission_type)
    for field, value in fields.items():
        setattr(mission_type, field, value.strip() if isinstance(value, str) else value)
    _type_validate(mission_type)
    mission_type.save()
    audit_record(
        actor=actor,
        action="mission_type.update",
        obj=mission_type,
        before=before,
        after=_type_state(mission_type),
    )
    return mission_type


# ---------------------------------------------------------------------------------------------
# Experiments


def _experiment_state(e: Experiment) -> dict[str, Any]:
    return {
        "name": e.name,
        "design": e.design,
        "status": e.status,
        "seed": e.seed,
        "run": e.run_id,
        "starts_on": e.starts_on,
        "ends_on": e.ends_on,
        "blocking": e.blocking,
        "harm_tiers": e.harm_tiers,
        "visits_per_shift": e.visits_per_shift,
        "minutes_per_visit": e.minutes_per_visit,
    }


@transaction.atomic(durable=True)
def experiment_create(
    *,
    actor: User,
    name: str,
    design: str,
    starts_on: date,
    ends_on: date,
    visits_per_shift: int = 3,
    minutes_per_visit: int = 15,
    blocking: str = Blocking.DISTRICT_TIER,
    harm_tiers: int = 2,
) -> Experiment:
    """A draft experiment on the active hot spots (the active analysis run); audited."""
    run = analysis_run_active()
    if run is None:
        raise ValidationError({"run": "no hot spots are active: publish an analysis first"})
    experiment = Experiment(
        name=name.strip(),
        design=design,
        run=run,
        starts_on=starts_on,
        ends_on=ends_on,
        visits_per_shift=visits_per_shift,
        minutes_per_visit=minutes_per_visit,
        blocking=blocking,
        harm_tiers=harm_tiers,
        created_by=actor,
    )
    errors = {
        field: problem
        for field, day in (("starts_on", starts_on), ("ends_on", ends_on))
        if (problem := sane_date_problem(day))
    }
    if not errors and ends_on < starts_on:
        errors["ends_on"] = "must be on or after the start"
    elif (
        not errors
        and design == Design.PLACEDAY
        and (ends_on - starts_on).days + 1 > MAX_PLACEDAY_DAYS
    ):
        errors["ends_on"] = f"a place-day experiment lasts at most {MAX_PLACEDAY_DAYS} days"
    if not 1 <= visits_per_shift <= 12:
        errors["visits_per_shift"] = "must be from 1 to 12"
    if not 1 <= minutes_per_visit <= 240:
        errors["minutes_per_visit"] = "must be from 1 to 240"
    if harm_tiers not in (2, 3):
        errors["harm_tiers"] = "must be 2 or 3"
    if errors:
        raise ValidationError(errors)
    experiment.full_clean()
    experiment.save()
    audit_record(
        actor=actor,
        action="experiment.create",
        obj=experiment,
        after=_experiment_state(experiment),
    )
    return experiment


@transaction.atomic(durable=True)
def experiment_randomize(*, experiment_id: int, actor: User, seed: int | None = None) -> Experiment:
    """(Re)draw a draft experiment's allocation from a new seed (from ``secrets``; or ``seed``).

    The seed is stored; the rows are ``selectors.allocation_compute`` of the run's hot spots.
    ``ExperimentLocked`` once the experiment has started: the allocation never changes then.
    """
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ExperimentLocked(
            f"Experiment '{experiment.name}' is {experiment.get_status_display().lower()}: "
            "its allocation is locked."
        )
    if seed is not None and not 0 <= seed < 2**63:
        raise ValidationError({"seed": "must be a whole number from 0 to 2**63 - 1"})
    units = experiment_units(run=experiment.run)
    if not units:
        raise ValidationError({"run": "the experiment's analysis has no hot spots"})
    before = {
        "seed": experiment.seed,
        "treated": experiment.allocations.filter(arm="treatment").count(),
        "rows": experiment.allocations.count(),
    }
    seed = new_seed() if seed is None else int(seed)
    rows = allocation_compute(
        design=experiment.design,
        seed=seed,
        units=units,
        starts_on=experiment.starts_on,
        ends_on=experiment.ends_on,
        blocking=experiment.blocking,
        n_tiers=experiment.harm_tiers,
    )
    experiment.allocations.all().delete()
    Allocation.objects.bulk_create(
        [
            Allocation(
                experiment=experiment,
                hotspot_id=r.hotspot_id,
                day=r.day,
                arm=r.arm,
                block=r.block[:60],
            )
            for r in rows
        ],
        batch_size=ALLOCATION_INSERT_BATCH,
    )
    experiment.seed = seed
    experiment.randomized_at = timezone.now()
    experiment.save(update_fields=["seed", "randomized_at"])
    audit_record(
        actor=actor,
        action="experiment.randomize",
        obj=experiment,
        before=before,
        after={"seed": seed, "treated": sum(r.arm == "treatment" for r in rows), "rows": len(rows)},
    )
    return experiment


@transaction.atomic(durable=True)
def experiment_start(*, experiment_id: int, actor: User) -> Experiment:
    """draft -> running: the allocation is locked from now on and decides treatment.

    Needs an allocation, an active run (its hot spots are the ones missions use) and no other
    running experiment on that run (``MissionConflict``).
    """
    # Locks the run too: a publish cannot deactivate it while the experiment starts.
    experiment = Experiment.objects.select_for_update().select_related("run").get(pk=experiment_id)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ExperimentLocked(f"Experiment '{experiment.name}' has already started.")
    if experiment.seed is None or not experiment.allocations.exists():
        raise MissionConflict("Randomize the experiment before starting it.")
    if not experiment.run.is_active:
        raise MissionConflict(
            "Its analysis is no longer the active one: create the experiment again on the "
            "active hot spots."
        )
    other = Experiment.objects.filter(run=experiment.run, status=ExperimentStatus.RUNNING).first()
    if other is not None:
        raise MissionConflict(f"Experiment '{other.name}' is already running on these hot spots.")
    before = _experiment_state(experiment)
    experiment.status = ExperimentStatus.RUNNING
    experiment.started_at = timezone.now()
    experiment.save(update_fields=["status", "started_at"])
    audit_record(
        actor=actor,
        action="experiment.start",
        obj=experiment,
        before=before,
        after=_experiment_state(experiment),
    )
    return experiment


@transaction.atomic(durable=True)
def experiment_end(*, experiment_id: int, actor: User) -> Experiment:
    """running -> ended: its allocation stays, as the record of what was run."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment_id)
    if experiment.status != ExperimentStatus.RUNNING:
        raise MissionConflict(
            f"Experiment '{experiment.name}' is {experiment.get_status_display().lower()}, "
            "not running."
        )
    before = _experiment_state(experiment)
    experiment.status = ExperimentStatus.ENDED
    experiment.ended_at = timezone.now()
    experiment.save(update_fields=["status", "ended_at"])
    audit_record(
        actor=actor,
        action="experiment.end",
        obj=experiment,
        before=before,
        after=_experiment_state(experiment),
    )
    return experiment
