"""Mission services: the draw, transitions, hand assignment, shift schedules, experiments."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from scipy import stats

from backend.accounts.models import Role
from backend.analytics.randomization import generator
from backend.audit.models import AuditEvent
from backend.hotspots.models import Hotspot
from backend.missions.models import (
    Allocation,
    Arm,
    Design,
    ExperimentStatus,
    Mission,
    MissionSource,
    MissionStatus,
    ShiftPlan,
)
from backend.missions.selectors import (
    allocation_rows,
    draw_candidates,
    experiment_reproduce,
)
from backend.missions.services import (
    ExperimentLocked,
    MissionConflict,
    experiment_create,
    experiment_randomize,
    experiment_start,
    mission_accept,
    mission_arrive,
    mission_assign,
    mission_cancel,
    mission_complete,
    mission_decline,
    mission_draw,
    mission_interrupt,
    shift_plan_generate,
)
from tests.factories import DistrictFactory, UserFactory
from tests.missions.builders import (
    PROJ,
    analysis_run,
    at_metres,
    city,
    hotspot,
    mission,
    running_experiment,
    squad_with_officers,
    visit,
)

pytestmark = pytest.mark.django_db
ORIGIN = at_metres(0, 0)


def distance_m(h: Hotspot, lat: float, lon: float) -> float:
    hx, hy = PROJ.to_xy(h.centroid_lat, h.centroid_lon)
    ox, oy = PROJ.to_xy(lat, lon)
    return float(np.hypot(hx - ox, hy - oy))


# --- the draw -------------------------------------------------------------------------------


def draw_world() -> dict[str, Any]:
    """Around the origin: four due treated hot spots with deficits 3, 2, 1 and 2 (the last
    has a GPS visit and a mission marked completed, which is not dose), one treated hot spot
    already dosed, two control hot spots, one treated hot spot in the search square but out of
    reach, one far away, and one of an inactive run on the origin."""
    run = analysis_run()
    spots = {
        "t1": hotspot(run, rank=1, x=300, y=0),
        "t2": hotspot(run, rank=2, x=0, y=800),
        "t3": hotspot(run, rank=3, x=-1200, y=-500),
        "t4": hotspot(run, rank=4, x=500, y=500),
        "dosed": hotspot(run, rank=5, x=100, y=100),
        "c1": hotspot(run, rank=6, x=200, y=-200),
        "c2": hotspot(run, rank=7, x=-300, y=300),
        "corner": hotspot(run, rank=8, x=1900, y=1900),  # 2,687 m: in the square, not in reach
        "far": hotspot(run, rank=9, x=2500, y=0),
    }
    old = analysis_run(active=False)
    spots["inactive"] = hotspot(old, rank=1, x=0, y=0)
    treated = [spots[k] for k in ("t1", "t2", "t3", "t4", "dosed", "corner", "far")]
    experiment = running_experiment(run, treated=treated, control=[spots["c1"], spots["c2"]])
    visit(spots["t2"])
    visit(spots["t3"])
    visit(spots["t3"])
    mission(spots["t4"], status=MissionStatus.COMPLETED)
    visit(spots["t4"])
    for _ in range(3):
        visit(spots["dosed"])
    return {"run": run, "experiment": experiment, **spots}


DUE_WEIGHTS = {"t1": 3, "t2": 2, "t3": 1, "t4": 2}


def test_ten_thousand_draws_never_offer_control_or_out_of_reach_and_follow_the_weights() -> None:
    world = draw_world()
    # The candidates and the pick are exactly what mission_draw uses; drawing 10,000 times
    # through them (without writing 10,000 missions) tests the service's own path.
    candidates = draw_candidates(lat=ORIGIN[0], lon=ORIGIN[1], reach_m=2000)
    ids = candidates.hotspot_ids.tolist()
    assert world["corner"].pk in ids and not candidates.in_reach[ids.index(world["corner"].pk)]
    assert world["far"].pk not in ids and world["inactive"].pk not in ids
    rng = generator(20260101)
    picks = Counter(ids[candidates.pick(rng)] for _ in range(10_000))  # type: ignore[index]

    names = {world[k].pk: k for k in DUE_WEIGHTS}
    assert set(picks) == set(names), "only due, treated, in-reach hot spots are drawn"
    for pk in picks:
        assert distance_m(Hotspot.objects.get(pk=pk), *ORIGIN) <= 2000
    observed = [picks[world[k].pk] for k in DUE_WEIGHTS]
    total = sum(DUE_WEIGHTS.values())
    expected = [10_000 * w / total for w in DUE_WEIGHTS.values()]
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_the_draw_service_gives_an_assigned_mission_at_a_due_treated_hot_spot_in_reach() -> None:
    world = draw_world()
    officer = UserFactory(role=Role.OFFICER)
    allowed = {world[k].pk for k in DUE_WEIGHTS}
    seen = Counter()
    for _ in range(200):
        result = mission_draw(
            officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4()
        )
        m = result.mission
        assert m is not None and result.created
        assert m.hotspot_id in allowed
        assert (m.status, m.source, m.officer_id) == ("assigned", "draw", officer.pk)
        assert m.experiment_id == world["experiment"].pk
        seen[m.hotspot_id] += 1
        m.delete()  # keep the hot spot free for the next draw
    assert set(seen) == allowed  # 200 draws reach all four (each has weight >= 1/8)


def test_the_draw_is_audited_with_the_officer_and_the_seed() -> None:
    draw_world()
    officer = UserFactory(role=Role.OFFICER)
    m = mission_draw(officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4())
    event = AuditEvent.objects.get(action="mission.draw", object_id=str(m.mission.pk))  # type: ignore[union-attr]
    assert event.actor == officer and event.subject == officer
    assert event.after["status"] == "assigned" and isinstance(event.after["seed"], int)
    assert "lat" not in event.after  # the officer's position is not copied into the audit log


def test_a_retried_draw_with_the_same_client_uuid_returns_the_same_mission() -> None:
    draw_world()
    officer = UserFactory(role=Role.OFFICER)
    key = uuid.uuid4()
    first = mission_draw(officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=key)
    again = mission_draw(officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=key)
    assert first.created and not again.created
    assert again.mission == first.mission
    assert Mission.objects.count() == 2  # the draw's mission and the completed one of the world
    with pytest.raises(ValidationError):
        mission_draw(officer=UserFactory(), lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=key)


def test_a_hot_spot_taken_by_another_officer_is_offered_only_when_nothing_else_is_due() -> None:
    run = analysis_run()
    a = hotspot(run, rank=1, x=100, y=0)
    b = hotspot(run, rank=2, x=-100, y=0)
    other = UserFactory(role=Role.OFFICER)
    mission(a, officer=other, status=MissionStatus.ACCEPTED)
    officer = UserFactory(role=Role.OFFICER)
    for _ in range(30):
        m = mission_draw(officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4())
        assert m.mission is not None and m.mission.hotspot_id == b.pk
        m.mission.delete()
    for _ in range(3):
        visit(b)  # b's dose is delivered: only the taken hot spot is due
    m = mission_draw(officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4())
    assert m.mission is not None and m.mission.hotspot_id == a.pk


def test_with_no_running_experiment_every_active_hot_spot_is_treated() -> None:
    run = analysis_run()
    only = hotspot(run, rank=1, x=50, y=50)
    m = mission_draw(
        officer=UserFactory(), lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4()
    ).mission
    assert m is not None and m.hotspot_id == only.pk and m.experiment is None


def test_a_placeday_experiment_treats_only_todays_treated_hot_spots() -> None:
    run = analysis_run()
    a = hotspot(run, rank=1, x=50, y=0)
    b = hotspot(run, rank=2, x=-50, y=0)
    running_experiment(run, treated=[a], control=[b], design=Design.PLACEDAY)
    yesterday = timezone.localdate() - timedelta(days=1)
    Allocation.objects.filter(hotspot=a).update(day=yesterday)  # a was treated yesterday only
    Allocation.objects.create(
        experiment=Allocation.objects.first().experiment,
        hotspot=a,
        day=timezone.localdate(),  # type: ignore[union-attr]
        arm=Arm.CONTROL,
    )
    result = mission_draw(
        officer=UserFactory(), lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4()
    )
    assert result.mission is None  # both are control today
    assert "No treated hot spot within 2 km" in result.detail


def test_nothing_is_drawn_when_every_hot_spot_in_reach_has_its_dose() -> None:
    run = analysis_run()
    h = hotspot(run, rank=1)
    for _ in range(3):
        visit(h)
    result = mission_draw(
        officer=UserFactory(), lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4()
    )
    assert result.mission is None and not Mission.objects.exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_draws_by_two_officers_do_not_both_get_the_last_due_hot_spot(
    postgres: None,
) -> None:
    """Two officers draw at the same instant, twenty times. Hot spot A (deficit 3) is three
    times as likely as B (deficit 1); without the row locks both draws often read A as free and
    both get it (about 56% of rounds). With them the second draw sees A taken and gets B."""
    run = analysis_run()
    a = hotspot(run, rank=1, x=100, y=0)
    b = hotspot(run, rank=2, x=-100, y=0)
    visit(b)
    visit(b)
    officers = [UserFactory(role=Role.OFFICER), UserFactory(role=Role.OFFICER)]

    def draw(officer: Any, barrier: threading.Barrier, got: dict[int, int], errors: list) -> None:
        try:
            barrier.wait()
            result = mission_draw(
                officer=officer, lat=ORIGIN[0], lon=ORIGIN[1], client_uuid=uuid.uuid4()
            )
            got[officer.pk] = result.mission.hotspot_id  # type: ignore[union-attr]
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    for _round in range(20):
        barrier = threading.Barrier(2)
        got: dict[int, int] = {}
        errors: list[BaseException] = []
        threads = [threading.Thread(target=draw, args=(o, barrier, got, errors)) for o in officers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert not errors, errors
        assert sorted(got.values()) == sorted([a.pk, b.pk]), f"round {_round}: {got}"
        Mission.objects.all().delete()


# --- transitions ----------------------------------------------------------------------------


def test_a_mission_goes_assigned_accepted_on_scene_completed_and_each_step_is_audited() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    mission_accept(mission_id=m.pk, actor=officer)
    mission_arrive(mission_id=m.pk, actor=officer)
    written = mission_complete(mission_id=m.pk, actor=officer)
    m.refresh_from_db()
    assert m.status == "completed" and written.created
    assert m.accepted_at <= m.on_scene_at <= m.ended_at  # type: ignore[operator]
    events = AuditEvent.objects.filter(object_id=str(m.pk)).order_by("id")
    assert [e.action for e in events] == ["mission.accept", "mission.arrive", "mission.complete"]
    assert all(e.actor == officer and e.subject == officer for e in events)
    assert [(e.before["status"], e.after["status"]) for e in events] == [
        ("assigned", "accepted"),
        ("accepted", "on_scene"),
        ("on_scene", "completed"),
    ]


def test_an_illegal_transition_is_refused_with_a_clear_message_and_changes_nothing() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    with pytest.raises(
        MissionConflict, match="is assigned: it can be completed only when on scene"
    ):
        mission_complete(mission_id=m.pk, actor=officer)
    m.refresh_from_db()
    assert m.status == "assigned" and not AuditEvent.objects.filter(object_id=str(m.pk)).exists()


def test_repeating_a_transition_already_made_is_harmless_and_not_audited_twice() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    assert mission_accept(mission_id=m.pk, actor=officer).created
    assert not mission_accept(mission_id=m.pk, actor=officer).created
    assert AuditEvent.objects.filter(action="mission.accept").count() == 1


def test_only_the_missions_officer_moves_it_and_only_the_sergeant_or_a_supervisor_cancels() -> None:
    _, sergeant, (officer, colleague, *_) = squad_with_officers(district=DistrictFactory())
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    with pytest.raises(PermissionError):
        mission_accept(mission_id=m.pk, actor=colleague)
    with pytest.raises(PermissionError):
        mission_accept(mission_id=m.pk, actor=sergeant)
    with pytest.raises(PermissionError):
        mission_cancel(mission_id=m.pk, actor=officer)
    with pytest.raises(PermissionError):
        mission_cancel(mission_id=m.pk, actor=UserFactory(role=Role.SERGEANT))  # another squad's
    mission_cancel(mission_id=m.pk, actor=sergeant, note="Called off")
    m.refresh_from_db()
    assert (m.status, m.status_note) == ("cancelled", "Called off")


def test_declining_needs_a_known_reason_and_a_note_for_other() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    with pytest.raises(ValidationError):
        mission_decline(mission_id=m.pk, actor=officer, reason="bored")
    with pytest.raises(ValidationError):
        mission_decline(mission_id=m.pk, actor=officer, reason="other")
    mission_decline(mission_id=m.pk, actor=officer, reason="dispatched")
    m.refresh_from_db()
    assert (m.status, m.decline_reason) == ("declined", "dispatched")
    event = AuditEvent.objects.get(action="mission.decline")
    assert event.after["decline_reason"] == "dispatched" and event.actor == officer


def test_a_call_interrupts_an_accepted_or_on_scene_mission_but_not_an_assigned_one() -> None:
    officer = UserFactory(role=Role.OFFICER)
    h = hotspot(analysis_run(), rank=1)
    assigned = mission(h, officer=officer)
    with pytest.raises(MissionConflict):
        mission_interrupt(mission_id=assigned.pk, actor=officer)
    accepted = mission(h, officer=officer, status=MissionStatus.ACCEPTED)
    mission_interrupt(mission_id=accepted.pk, actor=officer, note="Shots fired call")
    accepted.refresh_from_db()
    assert accepted.status == "interrupted" and accepted.ended_at is not None


def test_a_completed_mission_without_gps_dwell_is_not_dose() -> None:
    from backend.missions.selectors import hotspot_dose_today

    officer = UserFactory(role=Role.OFFICER)
    h = hotspot(analysis_run(), rank=1)
    m = mission(h, officer=officer, status=MissionStatus.ON_SCENE)
    assert hotspot_dose_today(hotspot_ids=[h.pk])[h.pk].delivered == 0
    mission_complete(mission_id=m.pk, actor=officer)
    dose = hotspot_dose_today(hotspot_ids=[h.pk])[h.pk]
    assert (dose.completed_missions, dose.delivered) == (1, 0)
    visit(h, officer=officer)  # the rollup's GPS visit is what delivers it
    assert hotspot_dose_today(hotspot_ids=[h.pk])[h.pk].delivered == 1


# --- hand assignment ------------------------------------------------------------------------


def test_a_sergeant_assigns_their_officer_but_not_someone_elses() -> None:
    district = DistrictFactory()
    squad, sergeant, (officer, *_) = squad_with_officers(district=district)
    h = hotspot(analysis_run(), rank=1, district=district)
    start = timezone.now() + timedelta(hours=1)
    written = mission_assign(
        actor=sergeant,
        officer_id=officer.pk,
        hotspot_id=h.pk,
        window_start=start,
        window_end=start + timedelta(minutes=15),
    )
    assert written.created and written.mission.squad == squad
    assert written.mission.source == MissionSource.HAND
    assert AuditEvent.objects.get(action="mission.assign").actor == sergeant
    stranger = UserFactory(role=Role.OFFICER)
    with pytest.raises(ValidationError):
        mission_assign(
            actor=sergeant,
            officer_id=stranger.pk,
            hotspot_id=h.pk,
            window_start=start,
            window_end=start + timedelta(minutes=15),
        )


def test_hand_assignment_refuses_overlaps_and_control_hot_spots() -> None:
    district = DistrictFactory()
    _, sergeant, (officer, *_) = squad_with_officers(district=district)
    run = analysis_run()
    treated = hotspot(run, rank=1, district=district)
    control = hotspot(run, rank=2, district=district)
    running_experiment(run, treated=[treated], control=[control])
    start = timezone.now() + timedelta(hours=1)
    window = {"window_start": start, "window_end": start + timedelta(minutes=30)}
    with pytest.raises(ValidationError, match="control hot spot"):
        mission_assign(actor=sergeant, officer_id=officer.pk, hotspot_id=control.pk, **window)
    mission_assign(actor=sergeant, officer_id=officer.pk, hotspot_id=treated.pk, **window)
    later = {
        "window_start": start + timedelta(minutes=20),
        "window_end": start + timedelta(hours=1),
    }
    with pytest.raises(MissionConflict, match="already has mission"):
        mission_assign(actor=sergeant, officer_id=officer.pk, hotspot_id=treated.pk, **later)


# --- shift schedules ------------------------------------------------------------------------


def schedule_world(*, experiment: bool = True) -> dict[str, Any]:
    run, spots, districts = city(n=24, districts=2)
    squad, sergeant, officers = squad_with_officers(district=districts[0], officers=4)
    mine = [h for h in spots if h.district_id == districts[0].pk]
    treated, control = mine[::2], mine[1::2]
    exp = None
    if experiment:
        exp = running_experiment(
            run, treated=treated, control=control, visits_per_shift=3, minutes_per_visit=15
        )
    return {
        "squad": squad,
        "sergeant": sergeant,
        "officers": officers,
        "treated": treated,
        "control": control,
        "experiment": exp,
        "spots": spots,
    }


def test_a_generated_schedule_gives_each_treated_hot_spot_three_visits_two_hours_apart() -> None:
    w = schedule_world()
    day = timezone.localdate() + timedelta(days=1)
    result = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"])
    assert result.created
    missions = list(Mission.objects.filter(plan=result.plan).order_by("window_start"))
    assert len(missions) == 3 * len(w["treated"])
    by_hotspot: dict[int, list[Mission]] = defaultdict(list)
    for m in missions:
        by_hotspot[m.hotspot_id].append(m)
    assert set(by_hotspot) == {h.pk for h in w["treated"]}  # no control hot spot, none missed
    shift_start, shift_end = result.plan.shift_start, result.plan.shift_end
    for visits in by_hotspot.values():
        assert len(visits) == 3
        starts = sorted(m.window_start for m in visits)
        assert all(b - a >= timedelta(hours=2) for a, b in itertools.pairwise(starts))
    for m in missions:
        assert m.window_end - m.window_start == timedelta(minutes=15)
        assert shift_start <= m.window_start and m.window_end <= shift_end
        assert (m.status, m.source, m.squad_id) == ("assigned", "schedule", w["squad"].pk)
        assert m.officer_id in {o.pk for o in w["officers"]}
    by_officer: dict[int, list[Mission]] = defaultdict(list)
    for m in missions:
        by_officer[m.officer_id].append(m)
    for own in by_officer.values():
        own.sort(key=lambda m: m.window_start)
        for a, b in itertools.pairwise(own):
            assert a.window_end <= b.window_start, "an officer has two missions at once"
    assert AuditEvent.objects.filter(action="shift_plan.create").get().after["seed"] == (
        result.plan.seed
    )
    assert AuditEvent.objects.filter(action="mission.assign").count() == len(missions)


def test_the_shift_window_starts_at_the_squads_local_shift_start() -> None:
    w = schedule_world(experiment=False)
    day = date(2026, 3, 8)  # the spring-forward Sunday in New York: 10 h of elapsed time
    plan = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"]).plan
    local = timezone.localtime(plan.shift_start)
    assert (local.date(), local.hour, local.minute) == (day, 7, 0)
    assert plan.shift_end - plan.shift_start == timedelta(hours=10)
    # No experiment: every active hot spot of the district is scheduled.
    assert Mission.objects.values("hotspot").distinct().count() == 12


def test_a_second_click_returns_the_existing_plan_and_replace_draws_a_new_one() -> None:
    w = schedule_world()
    day = timezone.localdate() + timedelta(days=1)
    first = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"])
    second = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"])
    assert not second.created and second.plan.pk == first.plan.pk
    assert Mission.objects.count() == 18 and ShiftPlan.objects.count() == 1
    replaced = shift_plan_generate(
        squad_id=w["squad"].pk, day=day, actor=w["sergeant"], replace=True
    )
    assert replaced.created and replaced.plan.seed != first.plan.seed
    assert Mission.objects.filter(status="cancelled").count() == 18
    assert Mission.objects.filter(plan=replaced.plan, status="assigned").count() == 18


def test_a_plan_drawn_from_a_given_seed_is_the_same_plan_again() -> None:
    w = schedule_world()
    day = timezone.localdate() + timedelta(days=1)

    def plan(**kwargs: Any) -> list[tuple[Any, ...]]:
        p = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"], **kwargs)
        assert p.plan.seed == 12345
        return sorted(
            p.plan.missions.values_list("hotspot_id", "officer_id", "window_start", "window_end")
        )

    first = plan(seed=12345)
    assert plan(seed=12345, replace=True) == first
    with pytest.raises(ValidationError, match="2\\*\\*63"):
        shift_plan_generate(
            squad_id=w["squad"].pk, day=day, actor=w["sergeant"], replace=True, seed=-1
        )


def test_a_plan_under_way_cannot_be_replaced() -> None:
    w = schedule_world()
    day = timezone.localdate() + timedelta(days=1)
    plan = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"]).plan
    m = plan.missions.first()
    mission_accept(mission_id=m.pk, actor=m.officer)  # type: ignore[union-attr]
    with pytest.raises(MissionConflict, match="under way"):
        shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"], replace=True)
    assert plan.missions.filter(status="assigned").count() == 17


def test_only_the_squads_sergeant_or_a_supervisor_plans_its_shift() -> None:
    w = schedule_world()
    day = timezone.localdate()
    with pytest.raises(PermissionError):
        shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=UserFactory(role=Role.SERGEANT))
    with pytest.raises(PermissionError):
        shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["officers"][0])
    supervisor = UserFactory(role=Role.SUPERVISOR)
    assert shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=supervisor).created


def test_a_schedule_that_cannot_fit_says_why() -> None:
    w = schedule_world()
    w["squad"].shift_hours = 4  # three visits two hours apart need 4 h 15 min
    w["squad"].save()
    with pytest.raises(ValidationError, match="need a shift of 255 min"):
        shift_plan_generate(squad_id=w["squad"].pk, day=timezone.localdate(), actor=w["sergeant"])
    assert not ShiftPlan.objects.exists() and not Mission.objects.exists()


# --- experiments ----------------------------------------------------------------------------


def new_experiment(design: str = Design.BLOCKED, **kwargs: Any) -> Any:
    return experiment_create(
        actor=UserFactory(role=Role.ANALYST),
        name=f"E {uuid.uuid4().hex[:6]}",
        design=design,
        starts_on=date(2026, 6, 1),
        ends_on=date(2026, 6, 28),
        **kwargs,
    )


@pytest.mark.parametrize("design", [Design.BLOCKED, Design.PAIRED, Design.PLACEDAY])
def test_the_stored_seed_reproduces_the_stored_allocation_exactly(design: str) -> None:
    city(n=30, districts=3)
    experiment = experiment_randomize(experiment_id=new_experiment(design).pk, actor=None)  # type: ignore[arg-type]
    stored = allocation_rows(experiment=experiment)
    assert experiment.seed is not None and len(stored) == (30 * 28 if design == "placeday" else 30)
    assert experiment_reproduce(experiment=experiment).identical
    # Re-randomizing a draft from the same seed stores the very same rows.
    again = experiment_randomize(experiment_id=experiment.pk, actor=None, seed=experiment.seed)  # type: ignore[arg-type]
    assert allocation_rows(experiment=again) == stored
    # A tampered row is noticed.
    row = Allocation.objects.filter(experiment=experiment).first()
    row.arm = Arm.CONTROL if row.arm == Arm.TREATMENT else Arm.TREATMENT  # type: ignore[union-attr]
    row.save()  # type: ignore[union-attr]
    result = experiment_reproduce(experiment=experiment)
    assert not result.identical and result.differences == 2


def test_blocked_arms_differ_by_at_most_one_in_every_stored_block() -> None:
    city(n=37, districts=3)
    experiment = experiment_randomize(experiment_id=new_experiment().pk, actor=None)  # type: ignore[arg-type]
    sizes: dict[str, Counter[str]] = defaultdict(Counter)
    for a in Allocation.objects.filter(experiment=experiment):
        sizes[a.block][a.arm] += 1
    assert len(sizes) == 6  # 3 districts x 2 harm tiers, "district|tier"
    for block, arms in sizes.items():
        assert abs(arms["treatment"] - arms["control"]) <= 1, block


def test_randomization_draws_a_new_secret_seed_each_time_and_audits_it() -> None:
    city(n=10)
    e = new_experiment()
    seeds = {experiment_randomize(experiment_id=e.pk, actor=None).seed for _ in range(3)}  # type: ignore[arg-type]
    assert len(seeds) == 3
    events = AuditEvent.objects.filter(action="experiment.randomize", object_id=str(e.pk))
    assert {ev.after["seed"] for ev in events} == seeds


def test_the_allocation_cannot_change_after_the_start() -> None:
    city(n=10)
    e = experiment_randomize(experiment_id=new_experiment().pk, actor=None)  # type: ignore[arg-type]
    before = allocation_rows(experiment=e)
    experiment_start(experiment_id=e.pk, actor=UserFactory(role=Role.ANALYST))
    with pytest.raises(ExperimentLocked):
        experiment_randomize(experiment_id=e.pk, actor=None)  # type: ignore[arg-type]
    with pytest.raises(ExperimentLocked):
        experiment_start(experiment_id=e.pk, actor=None)  # type: ignore[arg-type]
    e.refresh_from_db()
    assert e.status == ExperimentStatus.RUNNING and allocation_rows(experiment=e) == before


def test_an_experiment_starts_only_once_randomized_and_one_at_a_time() -> None:
    city(n=10)
    first = new_experiment()
    with pytest.raises(MissionConflict, match="Randomize"):
        experiment_start(experiment_id=first.pk, actor=None)  # type: ignore[arg-type]
    experiment_randomize(experiment_id=first.pk, actor=None)  # type: ignore[arg-type]
    experiment_start(experiment_id=first.pk, actor=None)  # type: ignore[arg-type]
    second = new_experiment()
    experiment_randomize(experiment_id=second.pk, actor=None)  # type: ignore[arg-type]
    with pytest.raises(MissionConflict, match="already running"):
        experiment_start(experiment_id=second.pk, actor=None)  # type: ignore[arg-type]


def test_an_experiment_needs_active_hot_spots() -> None:
    with pytest.raises(ValidationError, match="publish an analysis"):
        new_experiment()
