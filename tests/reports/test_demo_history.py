"""seed_demo's history: a running blocked experiment with a true effect, and patrols with the
texture reports need, checked from the rows (pings, visits, incidents) with shapely, not
through the code that wrote them.

Each seeding test builds a small city (20,000 incidents, 5 days of history): about 10 s.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from django.core.management import call_command
from shapely.geometry import shape

from backend.audit.models import AuditEvent
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import Incident
from backend.missions.models import (
    Allocation,
    Arm,
    Blocking,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionStatus,
)
from backend.patrols.models import Activity, AvlUnit, PatrolSession, Ping, Visit
from backend.reports.demo import HistoryResult
from backend.reports.management.commands import seed_demo as seed_demo_command

TZ = ZoneInfo("America/New_York")
END = date(2026, 11, 20)
DAYS = 5
SMALL = ("--seed=1", "--incidents=20000", f"--history-days={DAYS}", f"--end={END}")


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def arm_shapes() -> dict[str, Any]:
    experiment = Experiment.objects.get()
    out = {}
    for arm in (Arm.TREATMENT, Arm.CONTROL):
        ids = Allocation.objects.filter(experiment=experiment, arm=arm).values("hotspot_id")
        geometries = Hotspot.objects.filter(pk__in=ids).values_list("geometry", flat=True)
        out[arm] = shapely.union_all([shape(g) for g in geometries])
    return out


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TZ)


@pytest.fixture
def history(db: None) -> str:
    return seed(*SMALL)


@pytest.mark.django_db
def test_the_experiment_is_blocked_running_and_started_history_days_ago(history: str) -> None:
    starts_on = END - timedelta(days=DAYS)
    experiment = Experiment.objects.get()
    assert experiment.status == ExperimentStatus.RUNNING
    assert experiment.design == Design.BLOCKED
    assert experiment.blocking == Blocking.DISTRICT_TIER
    assert experiment.starts_on == starts_on
    assert experiment.started_at is not None and experiment.randomized_at is not None
    assert experiment.started_at.astimezone(TZ).date() == starts_on
    assert experiment.randomized_at < experiment.started_at
    # Its hot spots come from the analysis as of the start: data from before it started.
    assert experiment.run.is_active and experiment.run.as_of == starts_on
    assert AnalysisRun.objects.count() == 1
    rows = list(Allocation.objects.filter(experiment=experiment).values_list("block", "arm"))
    assert len(rows) == experiment.run.hotspots.count() >= 4
    by_block: dict[str, Counter[str]] = defaultdict(Counter)
    for block, arm in rows:
        by_block[block][arm] += 1
    for block, arms in by_block.items():  # a random half of every block is treated
        assert abs(arms[Arm.TREATMENT] - arms[Arm.CONTROL]) <= 1, block
    assert {arm for _, arm in rows} == {Arm.TREATMENT, Arm.CONTROL}
    assert "running since" in history and "History of 5 days" in history


@pytest.mark.django_db
def test_officers_visit_hot_spots_on_past_days_with_koper_and_control_visits(
    history: str,
) -> None:
    days = {END - timedelta(days=d) for d in range(1, DAYS + 1)}
    visits = Visit.objects.filter(officer__isnull=False)
    assert days <= set(visits.values_list("day", flat=True)) <= days | {END}
    # On END itself only the tail of the last night shift (21:00 to 07:00).
    last = visits.filter(day=END).order_by("-exited_at").first()
    assert last is None or last.exited_at < local_midnight(END) + timedelta(hours=8)
    assert visits.filter(koper_compliant=True).count() >= 10
    assert visits.filter(koper_compliant=False).count() >= 10
    arm = dict(Allocation.objects.values_list("hotspot_id", "arm"))
    per_arm = Counter(arm[h] for h in visits.values_list("hotspot_id", flat=True))
    assert per_arm[Arm.TREATMENT] > 3 * per_arm[Arm.CONTROL] > 0  # some contamination
    assert len(set(visits.values_list("officer_id", flat=True))) >= 20
    assert set(visits.values_list("mode", flat=True)) & {"foot", "stationary"}
    # AVL units park in hot spots of both arms.
    avl = Visit.objects.filter(unit__isnull=False)
    assert AvlUnit.objects.count() >= 3
    assert {arm[h] for h in avl.values_list("hotspot_id", flat=True)} == {
        Arm.TREATMENT,
        Arm.CONTROL,
    }
    # Every session was opened and closed in the past, and its pings lie inside it.
    assert not PatrolSession.objects.filter(ended_at__isnull=True).exists()
    first = PatrolSession.objects.order_by("started_at").first()
    assert first is not None and first.started_at >= local_midnight(END - timedelta(days=DAYS))


@pytest.mark.django_db
def test_some_sessions_lose_the_signal_for_minutes_some_inside_a_hot_spot(history: str) -> None:
    polygons = [shape(g) for g in Hotspot.objects.values_list("geometry", flat=True)]
    rows = Ping.objects.filter(officer__isnull=False).order_by("session_id", "recorded_at")
    by_session: dict[int, list[tuple[float, float, float]]] = defaultdict(list)
    for session_id, at, lon, lat in rows.values_list("session_id", "recorded_at", "lon", "lat"):
        by_session[session_id].append((at.timestamp(), lon, lat))
    with_gap = 0
    inside_gap = 0
    for fixes in by_session.values():
        t = np.array([f[0] for f in fixes])
        gaps = np.flatnonzero(np.diff(t) > 120)
        assert np.diff(t).max() < 11 * 60  # gaps of minutes, not hours
        with_gap += int(gaps.size > 0)
        for g in gaps:
            before, after = shapely.points(fixes[g][1:]), shapely.points(fixes[g + 1][1:])
            if any(p.contains(before) and p.contains(after) for p in polygons):
                inside_gap += 1
    assert len(by_session) >= 60
    assert 2 <= with_gap <= 0.35 * len(by_session)
    assert inside_gap >= 1


@pytest.mark.django_db
def test_missions_end_in_plausible_states_and_dose_varies_by_officer(history: str) -> None:
    missions = Mission.objects.filter(plan__isnull=False)
    statuses = Counter(missions.values_list("status", flat=True))
    assert statuses[MissionStatus.COMPLETED] >= 10
    assert statuses[MissionStatus.DECLINED] >= 3
    assert statuses[MissionStatus.ASSIGNED] >= 3  # off duty or off patrol: expired
    assert not missions.filter(status=MissionStatus.DECLINED, decline_reason="").exists()
    # A completed mission was delivered: its officer has a visit there inside the window
    # (give or take the minutes an officer runs late).
    for m in missions.filter(status=MissionStatus.COMPLETED):
        assert Visit.objects.filter(
            officer=m.officer_id,
            hotspot=m.hotspot_id,
            entered_at__lt=m.window_end + timedelta(minutes=20),
            exited_at__gt=m.window_start - timedelta(minutes=10),
        ).exists(), m.pk
        assert (
            m.accepted_at <= m.on_scene_at <= m.ended_at <= local_midnight(END) + timedelta(hours=8)
        )
    share = []
    for officer_id in set(missions.values_list("officer_id", flat=True)):
        mine = Counter(missions.filter(officer_id=officer_id).values_list("status", flat=True))
        if mine.total() >= 3:
            share.append(mine[MissionStatus.COMPLETED] / mine.total())
    assert max(share) - min(share) >= 0.5
    activities = Activity.objects.all()
    assert activities.count() >= 20
    assert activities.filter(mission__isnull=False).exists()
    assert len(set(activities.values_list("kind__code", flat=True))) >= 4
    assert not activities.filter(session__isnull=True).exists()


@pytest.mark.django_db
def test_running_seed_demo_twice_leaves_identical_rows() -> None:
    def snapshot() -> dict[str, Any]:
        return {
            "incidents": Incident.objects.count(),
            "sessions": PatrolSession.objects.count(),
            "pings": Ping.objects.count(),
            "visits": list(
                Visit.objects.order_by("entered_at", "pk").values_list(
                    "officer_id", "unit_id", "hotspot_id", "entered_at", "dwell_s"
                )
            ),
            "missions": list(
                Mission.objects.order_by("pk").values_list("pk", "status", "on_scene_at")
            ),
            "activities": Activity.objects.count(),
            "experiments": list(Experiment.objects.values_list("seed", "starts_on", "status")),
            "audit": AuditEvent.objects.count(),
        }

    args = ("--seed=1", "--incidents=20000", "--history-days=2", f"--end={END}")  # 2 seedings
    seed(*args)
    first = snapshot()
    assert first["pings"] > 5_000 and first["visits"]
    out = seed(*args)
    assert snapshot() == first
    assert "0 users created, 0 incidents added" in out
    assert "0 patrol sessions, 0 pings, 0 AVL pings" in out


@pytest.mark.django_db
def test_treatment_hot_spots_lose_crime_after_the_start_and_controls_do_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The true effect, from the Incident rows; the patrols are left out (tested above)."""

    def no_patrols(**kwargs: Any) -> HistoryResult:
        return HistoryResult(0, 0, 0, 0, 0, 0, {}, 0, {"total": 0.0})

    monkeypatch.setattr(seed_demo_command, "demo_history_simulate", no_patrols)
    days = 60
    args = ("--seed=2", "--incidents=100000", f"--history-days={days}", f"--end={END}")
    seed(*args)
    starts_on = END - timedelta(days=days)
    shapes = arm_shapes()
    rows = list(Incident.objects.values_list("source_id", "occurred_at", "lon", "lat"))
    at = np.array([r[1].timestamp() for r in rows])
    lon = np.array([r[2] for r in rows])
    lat = np.array([r[3] for r in rows])
    after = at >= local_midnight(starts_on).timestamp()
    before = (at < local_midnight(starts_on).timestamp()) & (
        at >= local_midnight(starts_on - timedelta(days=365)).timestamp()
    )
    ratio = {}
    for arm, geometry in shapes.items():
        inside = shapely.contains_xy(geometry, lon, lat)
        ratio[arm] = (inside & after).sum() / (inside & before).sum()
    rate_ratio = ratio[Arm.TREATMENT] / ratio[Arm.CONTROL]
    assert 0.6 < rate_ratio < 0.92, rate_ratio

    # Seeding the same city without history writes back exactly the incidents withheld: all
    # in treatment hot spots, on or after the start, about a fifth of those.
    kept = {r[0] for r in rows}
    seed("--seed=2", "--incidents=100000", "--history-days=0", f"--end={END}")
    back = Incident.objects.exclude(source_id__in=kept).values_list("occurred_at", "lon", "lat")
    back_rows = list(back)
    assert back_rows
    assert all(r[0] >= local_midnight(starts_on) for r in back_rows)
    blon = np.array([r[1] for r in back_rows])
    blat = np.array([r[2] for r in back_rows])
    assert shapely.contains_xy(shapes[Arm.TREATMENT], blon, blat).all()
    treated_after = (shapely.contains_xy(shapes[Arm.TREATMENT], lon, lat) & after).sum()
    assert 0.15 < len(back_rows) / (treated_after + len(back_rows)) < 0.3
