"""Mass assignment: fields a caller may not set are ignored or refused in every write body.

Each write of the API gets its valid body plus the fields an attacker would add: ``officer``,
``squad``, ``received_at``, ``id``, ``status``, ``delivered``, ``role``, ``created_by`` ...,
with values that point at someone else (officer C, squad 2, C's session and mission). The
stored rows must be exactly what the valid body alone makes; the answer is a 2xx (the extras
ignored) or a 4xx naming the field (refused). Answers to officer A carry no other officer's
name, username or badge.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.audit.models import AuditEvent
from backend.missions.models import Experiment, ExperimentStatus, Mission, MissionStatus
from backend.patrols.models import Activity, PatrolSession, Ping
from backend.reports.models import ComplianceRecompute
from tests.config.api_world import World, auth_headers, build_world
from tests.missions.builders import mission

pytestmark = pytest.mark.django_db

LONG_AGO = "2001-02-03T04:05:06+00:00"


@pytest.fixture
def world() -> World:
    return build_world()


def client_for(user: User) -> Client:
    return Client(
        raise_request_exception=False,
        **{"HTTP_" + k.upper(): v for k, v in auth_headers(user).items()},
    )


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, body, content_type="application/json")


def foreign(world: World) -> dict[str, Any]:
    """The fields an attacker adds, pointing at officer C's rows."""
    c = world.users["officer_c"]
    rows = world.owned["officer_c"]
    return {
        "officer": c.pk,
        "officer_id": c.pk,
        "user": c.pk,
        "squad": world.squad2.pk,
        "squad_id": world.squad2.pk,
        "id": rows.mission.pk,
        "pk": rows.mission.pk,
        "received_at": LONG_AGO,
        "created_at": LONG_AGO,
        "status": MissionStatus.COMPLETED,
        "delivered": True,
        "dwell_minutes": 999,
        "role": Role.ADMIN,
        "is_staff": True,
        "is_superuser": True,
        "created_by": c.pk,
        "requested_by": c.pk,
        "rolled_up_at": LONG_AGO,
    }


def others_named(world: World, body: bytes) -> list[str]:
    """Names, usernames and badges of officers other than A found in an answer to A."""
    found = []
    for key in ("officer_b", "officer_c", "sergeant_c"):
        u = world.users[key]
        for value in (u.username, u.last_name, u.badge_number):
            if value and value.encode() in body:
                found.append(f"{key}:{value}")
    return found


def assert_ignored_or_refused(response: Any, *fields: str) -> None:
    if 200 <= response.status_code < 300:
        return
    assert response.status_code == 400, response.content
    assert set(response.json()) & set(fields), response.content


def test_a_ping_batch_cannot_write_for_another_officer_or_session(world: World) -> None:
    a, c = world.users["officer_a"], world.users["officer_c"]
    extra = foreign(world)
    items = [
        {
            **extra,
            "session": world.owned["officer_c"].session.pk,
            "client_uuid": str(uuid.uuid4()),
            "recorded_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
            "lat": 25.8,
            "lon": -80.21,
            "accuracy_m": 8,
        }
    ]
    before_c = Ping.objects.filter(officer=c).count()
    response = post(client_for(a), "/api/v1/pings/batch", {"pings": items, **extra})
    assert response.status_code == 200, response.content
    assert Ping.objects.filter(officer=c).count() == before_c
    stored = Ping.objects.filter(officer=a).order_by("-pk").first()
    assert stored is not None and stored.session_id == world.owned["officer_a"].session.pk
    assert stored.received_at > timezone.now() - timedelta(minutes=5)
    # The envelope's session naming C's session: every item refused with the reason.
    response = post(
        client_for(a),
        "/api/v1/pings/batch",
        {"pings": [{**items[0], "client_uuid": str(uuid.uuid4())}], "session": extra["id"]},
    )
    assert Ping.objects.filter(officer=c).count() == before_c
    assert others_named(world, response.content) == []


def test_an_activity_is_the_callers_own_whatever_the_body_says(world: World) -> None:
    a = world.users["officer_a"]
    body = {
        **foreign(world),
        "session": world.owned["officer_c"].session.pk,
        "client_uuid": str(uuid.uuid4()),
        "kind": world.owned["officer_a"].activity.kind.code,
        "recorded_at": timezone.now().isoformat(),
    }
    response = post(client_for(a), "/api/v1/activities", body)
    assert response.status_code == 201, response.content
    stored = Activity.objects.get(client_uuid=body["client_uuid"])
    assert (stored.officer_id, stored.session_id) == (a.pk, world.owned["officer_a"].session.pk)
    assert stored.received_at > timezone.now() - timedelta(minutes=5)
    assert stored.pk != world.owned["officer_c"].activity.pk
    # Someone else's mission is refused by name.
    body = {
        **body,
        "client_uuid": str(uuid.uuid4()),
        "mission": world.owned["officer_c"].mission.pk,
    }
    response = post(client_for(a), "/api/v1/activities", body)
    assert response.status_code == 400 and "mission" in response.json()
    assert others_named(world, response.content) == []


def test_a_session_start_and_end_set_only_their_own_times(world: World) -> None:
    b = world.users["officer_b"]  # no open session
    extra = {**foreign(world), "ended_at": LONG_AGO}
    response = post(
        client_for(b), "/api/v1/patrols/sessions", {**extra, "client_uuid": str(uuid.uuid4())}
    )
    assert response.status_code == 201, response.content
    session = PatrolSession.objects.get(pk=response.json()["id"])
    assert (session.officer_id, session.ended_at, session.rolled_up_at) == (b.pk, None, None)
    response = post(
        client_for(b),
        f"/api/v1/patrols/sessions/{session.pk}/end",
        {**foreign(world), "started_at": LONG_AGO},
    )
    assert response.status_code == 200, response.content
    session.refresh_from_db()
    assert session.officer_id == b.pk
    assert session.started_at > timezone.now() - timedelta(hours=1)
    assert others_named(world, response.content) == []


def test_a_draw_makes_an_assigned_mission_of_the_caller(world: World) -> None:
    a = world.users["officer_a"]
    Mission.objects.filter(officer=a).update(status=MissionStatus.COMPLETED)  # free to draw
    spot = world.hotspots[0]
    body = {
        **foreign(world),
        "hotspot": world.hotspots[1].pk,
        "target_minutes": 1,
        "lat": spot.centroid_lat,
        "lon": spot.centroid_lon,
        "client_uuid": str(uuid.uuid4()),
    }
    response = post(client_for(a), "/api/v1/missions/draw", body)
    assert response.status_code == 201, response.content
    drawn = Mission.objects.get(client_uuid=body["client_uuid"])
    assert (drawn.officer_id, drawn.squad_id, drawn.status) == (
        a.pk,
        a.squad_id,
        MissionStatus.ASSIGNED,
    )
    assert drawn.target_minutes != 1
    out = response.json()["mission"]
    assert out["delivered"] is False and out["officer"] == a.pk
    assert others_named(world, response.content) == []


@pytest.mark.parametrize("step", ["accept", "decline"])
def test_a_transition_changes_only_the_status_it_names(world: World, step: str) -> None:
    a = world.users["officer_a"]
    target = world.owned["officer_a"].mission
    body = {
        **foreign(world),
        "reason": "unsafe",
        "target_minutes": 1,
        "window_start": LONG_AGO,
        "hotspot": world.hotspots[5].pk,
    }
    response = post(client_for(a), f"/api/v1/missions/{target.pk}/{step}", body)
    assert response.status_code == 200, response.content
    after = Mission.objects.get(pk=target.pk)
    expected = MissionStatus.ACCEPTED if step == "accept" else MissionStatus.DECLINED
    assert (after.status, after.officer_id, after.squad_id) == (expected, a.pk, a.squad_id)
    assert (after.hotspot_id, after.window_start, after.target_minutes) == (
        target.hotspot_id,
        target.window_start,
        target.target_minutes,
    )
    c_mission = Mission.objects.get(pk=world.owned["officer_c"].mission.pk)
    assert c_mission.status == MissionStatus.ASSIGNED
    assert others_named(world, response.content) == []


def test_an_assignment_takes_its_squad_from_the_officer_and_starts_assigned(
    world: World,
) -> None:
    a = world.users["officer_a"]
    now = timezone.now()
    body = {
        **foreign(world),
        "officer": a.pk,
        "hotspot": world.hotspots[3].pk,
        "window_start": (now + timedelta(hours=2)).isoformat(),
        "window_end": (now + timedelta(hours=3)).isoformat(),
        "client_uuid": str(uuid.uuid4()),
        "source": "draw",
        "experiment": world.experiment.pk,
    }
    response = post(client_for(world.users["sergeant_ab"]), "/api/v1/missions/assign", body)
    assert response.status_code == 201, response.content
    made = Mission.objects.get(client_uuid=body["client_uuid"])
    assert (made.squad_id, made.status, made.source) == (a.squad_id, MissionStatus.ASSIGNED, "hand")


def test_an_experiment_is_created_as_a_draft_of_its_author(world: World) -> None:
    analyst = world.users["analyst"]
    today = timezone.localdate()
    body = {
        **foreign(world),
        "status": ExperimentStatus.RUNNING,
        "seed": "42",
        "started_at": LONG_AGO,
        "name": "Mass assignment",
        "design": "blocked",
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=28)).isoformat(),
    }
    response = post(client_for(analyst), "/api/v1/experiments", body)
    assert response.status_code == 201, response.content
    made = Experiment.objects.get(name="Mass assignment")
    assert (made.status, made.seed, made.started_at, made.created_by_id) == (
        ExperimentStatus.DRAFT,
        None,
        None,
        analyst.pk,
    )


def test_a_recompute_is_queued_by_its_caller(world: World) -> None:
    supervisor = world.users["supervisor"]
    today = timezone.localdate().isoformat()
    body = {**foreign(world), "first_day": today, "last_day": today, "days_done": 99}
    response = post(client_for(supervisor), "/api/v1/compliance/recompute", body)
    assert response.status_code == 202, response.content
    job = ComplianceRecompute.objects.get(pk=response.json()["id"])
    assert job.requested_by_id == supervisor.pk


def test_signing_in_with_role_fields_changes_no_role(world: World) -> None:
    a = world.users["officer_a"]
    body = {**foreign(world), "username": a.username, "password": "correct-horse-battery"}
    response = post(Client(), "/api/v1/auth/token", body)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token"}
    a.refresh_from_db()
    assert (a.role, a.is_staff, a.is_superuser) == (Role.OFFICER, False, False)


def test_an_officers_mission_answers_name_no_other_officer(world: World) -> None:
    a = world.users["officer_a"]
    client = client_for(a)
    mission(world.hotspots[4], officer=world.users["officer_b"])  # a squad mate's mission
    for path in (
        "/api/v1/missions",
        f"/api/v1/missions/{world.owned['officer_a'].mission.pk}",
        "/api/v1/squads",
        "/api/v1/me",
        "/api/v1/compliance/me",
        "/api/v1/patrols/sessions/current",
    ):
        response = client.get(path)
        assert response.status_code == 200, (path, response.content)
        assert others_named(world, response.content) == [], path
    assert AuditEvent.objects.filter(action="track.read", actor=a).count() == 0
