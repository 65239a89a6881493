"""The compliance, recompute, ``me`` and live presence APIs on the hand-built day of
``test_compliance.py``: role scoping, the hand-worked numbers, audit of live positions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.patrols.models import PatrolSession, Ping
from backend.reports.models import ComplianceRecompute
from backend.reports.presence import _trailing_run
from backend.reports.services import compliance_day_rebuild
from tests.factories import UserFactory
from tests.missions.builders import at_metres, mission, squad_with_officers, visit
from tests.reports.conftest import DAY, at, make_visit

RANGE = {"from": DAY.isoformat(), "to": DAY.isoformat()}


def client_for(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def supervisor(db: None) -> Any:
    return UserFactory(role=Role.SUPERVISOR)


def test_compliance_api_returns_the_hand_count(hand_built_day: dict, supervisor: Any) -> None:
    h1, h2, h3, _ = hand_built_day["h"]
    body = client_for(supervisor).get(reverse("api-compliance"), RANGE).json()
    assert body["by"] == "hotspot"
    assert body["count"] == 3
    assert body["sentence"].startswith("On 10 Nov 2026, officers delivered 3 of 6")
    rows = {r["key"]: r for r in body["results"]}
    assert rows[str(h1.pk)]["delivered_minutes"] == pytest.approx(20.0)
    assert rows[str(h1.pk)]["officer_minutes"] == pytest.approx(30.0)
    assert rows[str(h2.pk)]["gap_minutes"] == pytest.approx(6.0)
    assert rows[str(h3.pk)]["pct_delivered"] is None
    assert rows[str(h3.pk)]["contamination_minutes"] == pytest.approx(15.0)
    assert body["totals"]["delivered_visits"] == 3
    assert body["totals"]["pct_delivered"] == pytest.approx(50.0)


def test_compliance_api_pages_with_limit_and_offset(hand_built_day: dict, supervisor: Any) -> None:
    c = client_for(supervisor)
    body = c.get(reverse("api-compliance"), {**RANGE, "limit": 1, "offset": 1}).json()
    assert (body["count"], body["limit"], body["offset"], len(body["results"])) == (3, 1, 1, 1)
    assert body["totals"]["prescribed_visits"] == 6  # totals always cover every row
    too_many = c.get(reverse("api-compliance"), {**RANGE, "limit": 100_000})
    assert too_many.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-11-10", "to": "2026-11-01"},
        {"from": "2020-01-01", "to": "2026-11-01"},
        {"from": "2026-11-01"},
        {"from": "2026-11-01", "to": "2026-11-02", "by": "badge"},
    ],
)
def test_compliance_api_rejects_bad_input(supervisor: Any, query: dict) -> None:
    assert client_for(supervisor).get(reverse("api-compliance"), query).status_code == 400


def test_a_sergeant_gets_only_their_squad_in_officer_groupings_with_streaks(
    hand_built_day: dict,
) -> None:
    squad, o1, o2 = hand_built_day["squad"], hand_built_day["o1"], hand_built_day["o2"]
    other, _, (o3,) = squad_with_officers(district=hand_built_day["h"][0].district, officers=1)
    make_visit(hand_built_day["h"][0], at(15, 0), 12, officer=o3)
    compliance_day_rebuild(day=DAY)
    c = client_for(squad.sergeant)
    body = c.get(reverse("api-compliance"), {**RANGE, "by": "officer"}).json()
    assert {r["key"] for r in body["results"]} == {str(o1.pk), str(o2.pk)}
    by_key = {r["key"]: r for r in body["results"]}
    assert (by_key[str(o1.pk)]["streak_current"], by_key[str(o1.pk)]["streak_longest"]) == (1, 1)
    days = c.get(reverse("api-compliance-days"), RANGE).json()
    officers = {r["officer"] for r in days["results"] if r["scope"] == "officer"}
    squads = {r["squad"] for r in days["results"] if r["scope"] == "squad"}
    assert officers == {o1.pk, o2.pk}
    assert squads == {squad.pk}
    assert sum(r["scope"] == "hotspot" for r in days["results"]) == 3  # everyone's dose
    everyone = client_for(UserFactory(role=Role.ANALYST)).get(reverse("api-compliance-days"), RANGE)
    assert {r["squad"] for r in everyone.json()["results"] if r["scope"] == "squad"} == {
        squad.pk,
        other.pk,
    }


ENDPOINTS = [
    ("get", "api-compliance", None),
    ("get", "api-compliance-days", None),
    ("post", "api-compliance-recompute", None),
    ("get", "api-compliance-recompute-status", "job"),
    ("get", "api-presence-live", None),
]


@pytest.mark.parametrize(("method", "name", "arg"), ENDPOINTS)
def test_an_officer_gets_403_and_no_data_from_every_endpoint(
    hand_built_day: dict, supervisor: Any, method: str, name: str, arg: str | None
) -> None:
    job = ComplianceRecompute.objects.create(first_day=DAY, last_day=DAY)
    url = reverse(name, args=[job.pk]) if arg else reverse(name)
    payload = {"first_day": DAY.isoformat(), "last_day": DAY.isoformat()}
    data = payload if method == "post" else {**RANGE, "squad": hand_built_day["squad"].pk}
    response = getattr(client_for(hand_built_day["o1"]), method)(url, data)
    assert response.status_code == 403
    assert set(response.json()) == {"detail"}
    assert ComplianceRecompute.objects.count() == 1
    assert not AuditEvent.objects.filter(action="track.read").exists()


def test_recompute_creates_one_job_that_completes(
    hand_built_day: dict, supervisor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    c = client_for(supervisor)
    payload = {"first_day": DAY.isoformat(), "last_day": (DAY + timedelta(days=1)).isoformat()}
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(
            reverse("api-compliance-recompute"), payload, content_type="application/json"
        )
    assert response.status_code == 202
    assert ComplianceRecompute.objects.count() == 1
    job_id = response.json()["id"]
    status = c.get(reverse("api-compliance-recompute-status", args=[job_id])).json()
    assert (status["status"], status["days_done"], status["days_total"]) == ("done", 2, 2)
    assert status["percent"] == 100
    bad = c.post(
        reverse("api-compliance-recompute"),
        {"first_day": "2026-11-10", "last_day": "2026-11-01"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert ComplianceRecompute.objects.count() == 1


def test_me_gives_todays_dose_and_the_streaks(hand_built_day: dict) -> None:
    o1, h1 = hand_built_day["o1"], hand_built_day["h"][0]
    compliance_day_rebuild(day=DAY)  # o1 met the day's 2 missions
    c = client_for(o1)
    body = c.get(reverse("api-compliance-me")).json()
    assert body["streak"] == {"current": 1, "longest": 1}  # days with nothing prescribed skipped
    assert body["today"]["prescribed_visits"] == 0
    assert len(body["days"]) == 14
    assert body["days"][-1]["day"] == timezone.localdate().isoformat()
    assert body["squad"] == hand_built_day["squad"].name
    # Today: one mission, one Koper visit: met, so today extends the streak.
    mission(h1, officer=o1, target_minutes=15)
    visit(h1, officer=o1)
    body = c.get(reverse("api-compliance-me")).json()
    assert body["today"] == {
        "day": timezone.localdate().isoformat(),
        "prescribed_visits": 1,
        "delivered_visits": 1,
        "prescribed_minutes": 15.0,
        "delivered_minutes": 12.0,
        "koper_visits": 1,
        "met": True,
    }
    assert body["streak"] == {"current": 2, "longest": 2}
    assert (
        client_for(UserFactory(role=Role.SUPERVISOR)).get(reverse("api-compliance-me")).status_code
        == 403
    )


def test_a_shift_in_progress_does_not_break_the_streak(hand_built_day: dict) -> None:
    o1, h1 = hand_built_day["o1"], hand_built_day["h"][0]
    compliance_day_rebuild(day=DAY)
    mission(h1, officer=o1, target_minutes=15)  # prescribed today, not yet delivered
    body = client_for(o1).get(reverse("api-compliance-me")).json()
    assert body["today"]["met"] is False
    assert body["streak"]["current"] == 1


# ---------------------------------------------------------------------------------------------
# Live presence


def _ping(session: PatrolSession, when: datetime, x: float, y: float, acc: float = 8.0) -> None:
    lat, lon = at_metres(x, y)
    Ping.objects.create(
        officer=session.officer,
        session=session,
        client_uuid=uuid.uuid4(),
        recorded_at=when,
        received_at=when,
        lat=lat,
        lon=lon,
        accuracy_m=acc,
    )


@pytest.fixture
def on_patrol(hand_built_day: dict) -> dict:
    """o1 on patrol: outside at -10 min, inside hot spot 1 from -8 min (a fix a minute); o2 on
    patrol with no fix yet; an officer of another squad on patrol too."""
    now = timezone.now()
    o1, o2 = hand_built_day["o1"], hand_built_day["o2"]
    s1 = PatrolSession.objects.create(
        officer=o1, client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=30)
    )
    PatrolSession.objects.create(
        officer=o2, client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=5)
    )
    _ping(s1, now - timedelta(minutes=10), 1000, 0)
    for k in range(8, 0, -1):
        _ping(s1, now - timedelta(minutes=k), 5 * k, 0)  # walking in from 40 m east
    _ping(s1, now - timedelta(seconds=30), 0, 0)
    _ping(s1, now - timedelta(seconds=20), 2000, 2000, acc=400)  # too inaccurate: ignored
    _, _, (o3,) = squad_with_officers(district=hand_built_day["h"][0].district, officers=1)
    PatrolSession.objects.create(officer=o3, client_uuid=uuid.uuid4(), started_at=now)
    visit(hand_built_day["h"][0], officer=o1)  # one of h1's three visits today
    return {**hand_built_day, "o3": o3, "now": now}


def test_live_presence_shows_the_last_position_and_writes_audit_rows(on_patrol: dict) -> None:
    squad, o1, o2 = on_patrol["squad"], on_patrol["o1"], on_patrol["o2"]
    h1, _, h3, _ = on_patrol["h"]
    c = client_for(squad.sergeant)
    response = c.get(reverse("api-presence-live"), {"squad": squad.pk})
    assert response.status_code == 200
    body = response.json()
    officers = {o["id"]: o for o in body["officers"]}
    assert set(officers) == {o1.pk, o2.pk}  # o3 is in another squad
    me = officers[o1.pk]
    lat, lon = at_metres(0, 0)
    assert (me["lat"], me["lon"]) == (pytest.approx(lat), pytest.approx(lon))
    assert me["hotspot"] == h1.pk and me["hotspot_rank"] == h1.rank
    assert me["minutes_in_hotspot"] == pytest.approx(7.5, abs=0.01)  # -8 min to -30 s
    assert officers[o2.pk]["lat"] is None and officers[o2.pk]["hotspot"] is None
    states = {f["id"]: f["properties"]["state"] for f in body["hotspots"]["features"]}
    assert states == {h1.pk: "partly", h3.pk: "control"}  # the squad's district
    reads = AuditEvent.objects.filter(action="track.read", actor=squad.sergeant)
    assert sorted(reads.values_list("subject_id", flat=True)) == sorted([o1.pk, o2.pk])
    c.get(reverse("api-presence-live"), {"squad": squad.pk})
    assert reads.count() == 4  # one row per officer shown, per request


def test_live_presence_is_role_scoped(on_patrol: dict) -> None:
    squad = on_patrol["squad"]
    other_sergeant = on_patrol["o3"].squad.sergeant
    assert (
        client_for(other_sergeant)
        .get(reverse("api-presence-live"), {"squad": squad.pk})
        .status_code
        == 404
    )
    own = client_for(other_sergeant).get(reverse("api-presence-live")).json()
    assert [o["id"] for o in own["officers"]] == [on_patrol["o3"].pk]
    analyst = client_for(UserFactory(role=Role.ANALYST))
    assert analyst.get(reverse("api-presence-live"), {"squad": squad.pk}).status_code == 403
    supervisor = client_for(UserFactory(role=Role.SUPERVISOR))
    body = supervisor.get(reverse("api-presence-live"), {"squad": squad.pk}).json()
    assert len(body["officers"]) == 2
    assert (
        not AuditEvent.objects.filter(action="track.read", subject=on_patrol["o1"])
        .filter(actor=other_sergeant)
        .exists()
    )


def test_an_ended_patrol_is_not_live(on_patrol: dict) -> None:
    PatrolSession.objects.filter(officer=on_patrol["o1"]).update(ended_at=timezone.now())
    body = client_for(on_patrol["squad"].sergeant).get(reverse("api-presence-live")).json()
    assert [o["id"] for o in body["officers"]] == [on_patrol["o2"].pk]


def test_the_time_in_a_hot_spot_restarts_after_a_long_gap() -> None:
    t = np.array([0.0, 60.0, 120.0, 400.0, 460.0])
    assert _trailing_run(t, np.array([True, True, True, True, True])) == 3  # 280 s gap
    assert _trailing_run(t, np.array([False, True, True, False, True])) == 4
    assert _trailing_run(t, np.array([True, True, True, True, False])) is None


def test_the_schema_documents_the_new_endpoints(supervisor: Any) -> None:
    schema = client_for(supervisor).get(reverse("api-schema"), {"format": "json"}).json()
    for path in (
        "/api/v1/compliance",
        "/api/v1/compliance/days",
        "/api/v1/compliance/me",
        "/api/v1/compliance/recompute",
        "/api/v1/compliance/recompute/{id}",
        "/api/v1/presence/live",
    ):
        assert path in schema["paths"], path
    params = {p["name"] for p in schema["paths"]["/api/v1/compliance"]["get"]["parameters"]}
    assert {"from", "to", "by", "limit", "offset"} <= params
