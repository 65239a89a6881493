"""Missions API: the draw, lists scoped by role, transitions, assignment, schedules, experiments."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role
from backend.missions.models import Allocation, Mission, ShiftPlan
from tests.factories import DistrictFactory, UserFactory
from tests.missions.builders import (
    analysis_run,
    at_metres,
    city,
    hotspot,
    mission,
    running_experiment,
    squad_with_officers,
)

pytestmark = pytest.mark.django_db
ORIGIN = at_metres(0, 0)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, name: str, body: Any = None, **kwargs: Any) -> Any:
    return client.post(
        reverse(name, kwargs=kwargs or None),
        json.dumps(body or {}),
        content_type="application/json",
    )


def draw_body(key: uuid.UUID | None = None) -> dict[str, Any]:
    return {"lat": ORIGIN[0], "lon": ORIGIN[1], "client_uuid": str(key or uuid.uuid4())}


# --- the draw and the officer's missions ----------------------------------------------------


def test_an_officer_draws_a_treated_hot_spot_then_accepts_it() -> None:
    run = analysis_run()
    treated = hotspot(run, rank=1, x=200, y=0)
    control = hotspot(run, rank=2, x=-200, y=0)
    running_experiment(run, treated=[treated], control=[control])
    officer = UserFactory(role=Role.OFFICER)
    client = client_for(officer)
    key = uuid.uuid4()
    response = post(client, "api-mission-draw", draw_body(key))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created"] and body["mission"]["hotspot"] == treated.pk
    assert body["mission"]["status"] == "assigned" and body["distance_m"] == pytest.approx(200, 1)
    again = post(client, "api-mission-draw", draw_body(key))
    assert again.status_code == 200 and again.json()["mission"]["id"] == body["mission"]["id"]
    accepted = post(client, "api-mission-accept", pk=body["mission"]["id"])
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"


def test_a_draw_with_nothing_due_says_so() -> None:
    analysis_run()
    response = post(client_for(UserFactory(role=Role.OFFICER)), "api-mission-draw", draw_body())
    assert response.status_code == 200
    assert response.json()["mission"] is None
    assert "No treated hot spot within 2 km" in response.json()["detail"]


def test_the_draw_refuses_bad_positions_and_analysts() -> None:
    analysis_run()
    officer_client = client_for(UserFactory(role=Role.OFFICER))
    bad = post(officer_client, "api-mission-draw", {**draw_body(), "lat": 91})
    assert bad.status_code == 400 and "lat" in bad.json()
    assert post(officer_client, "api-mission-draw", {"lat": 1, "lon": 1}).status_code == 400
    analyst = client_for(UserFactory(role=Role.ANALYST))
    assert post(analyst, "api-mission-draw", draw_body()).status_code == 403
    assert analyst.get(reverse("api-missions")).status_code == 403


def test_an_illegal_transition_is_a_409_with_a_clear_message() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    response = post(client_for(officer), "api-mission-complete", pk=m.pk)
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"Mission {m.pk} is assigned: it can be completed only when on scene."
    )


def test_decline_needs_a_reason() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=1), officer=officer)
    client = client_for(officer)
    assert post(client, "api-mission-decline", {"reason": "tired"}, pk=m.pk).status_code == 400
    assert post(client, "api-mission-decline", {"reason": "other"}, pk=m.pk).status_code == 400
    ok = post(client, "api-mission-decline", {"reason": "unsafe", "note": "Crowd"}, pk=m.pk)
    assert ok.status_code == 200
    assert (ok.json()["status"], ok.json()["decline_reason"]) == ("declined", "unsafe")


def test_each_role_lists_only_the_missions_it_may_see() -> None:
    district = DistrictFactory()
    _, sergeant, (mine, colleague, *_) = squad_with_officers(district=district)
    _, other_sergeant, (stranger, *_) = squad_with_officers(district=district)
    h = hotspot(analysis_run(), rank=1)
    m_mine, m_colleague, m_stranger = (mission(h, officer=o) for o in (mine, colleague, stranger))

    def listed(user: Any) -> set[int]:
        response = client_for(user).get(reverse("api-missions"))
        assert response.status_code == 200
        return {m["id"] for m in response.json()["results"]}

    assert listed(mine) == {m_mine.pk}
    assert listed(sergeant) == {m_mine.pk, m_colleague.pk}
    assert listed(other_sergeant) == {m_stranger.pk}
    assert listed(UserFactory(role=Role.SUPERVISOR)) == {m_mine.pk, m_colleague.pk, m_stranger.pk}
    # Objects outside your queryset do not exist for you.
    officer_client = client_for(mine)
    assert officer_client.get(reverse("api-mission", args=[m_colleague.pk])).status_code == 404
    assert post(officer_client, "api-mission-accept", pk=m_colleague.pk).status_code == 404
    # A sergeant sees the squad's missions but only the officer moves one.
    assert post(client_for(sergeant), "api-mission-accept", pk=m_mine.pk).status_code == 403
    assert post(client_for(other_sergeant), "api-mission-cancel", pk=m_mine.pk).status_code == 404
    cancelled = post(client_for(sergeant), "api-mission-cancel", {"note": "x"}, pk=m_mine.pk)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post(officer_client, "api-mission-cancel", pk=m_mine.pk).status_code == 403


def test_the_mission_list_filters_by_day_and_status() -> None:
    officer = UserFactory(role=Role.OFFICER)
    h = hotspot(analysis_run(), rank=1)
    today = mission(h, officer=officer)
    mission(h, officer=officer, start=timezone.now() - timedelta(days=2))
    client = client_for(officer)
    day = timezone.localdate(today.window_start).isoformat()
    got = client.get(reverse("api-missions"), {"day": day, "status": "assigned"}).json()
    assert [m["id"] for m in got["results"]] == [today.pk]
    assert client.get(reverse("api-missions"), {"day": "yesterday"}).status_code == 400


# --- assignment, schedules and the board ----------------------------------------------------


def test_a_sergeant_assigns_by_hand_and_an_overlap_is_a_409() -> None:
    district = DistrictFactory()
    _, sergeant, (officer, *_) = squad_with_officers(district=district)
    h = hotspot(analysis_run(), rank=1, district=district)
    start = timezone.now() + timedelta(hours=1)
    body = {
        "officer": officer.pk,
        "hotspot": h.pk,
        "window_start": start.isoformat(),
        "window_end": (start + timedelta(minutes=15)).isoformat(),
        "client_uuid": str(uuid.uuid4()),
    }
    client = client_for(sergeant)
    first = post(client, "api-mission-assign", body)
    assert first.status_code == 201 and first.json()["officer"] == officer.pk
    assert post(client, "api-mission-assign", body).status_code == 200  # the same client UUID
    clash = post(client, "api-mission-assign", {**body, "client_uuid": str(uuid.uuid4())})
    assert clash.status_code == 409 and "already has mission" in clash.json()["detail"]
    assert post(client_for(officer), "api-mission-assign", body).status_code == 403


def test_the_schedule_api_makes_one_plan_per_squad_and_day() -> None:
    *_, districts = city(n=16, districts=2)
    squad, sergeant, _ = squad_with_officers(district=districts[0], officers=3)
    day = (timezone.localdate() + timedelta(days=1)).isoformat()
    client = client_for(sergeant)
    first = post(client, "api-squad-schedule", {"date": day}, pk=squad.pk)
    assert first.status_code == 201, first.content
    assert first.json()["created"] and len(first.json()["missions"]) == 8 * 3
    assert isinstance(first.json()["plan"]["seed"], str)  # 63 bits: a string for JavaScript
    second = post(client, "api-squad-schedule", {"date": day}, pk=squad.pk)
    assert second.status_code == 200 and second.json()["plan"]["id"] == first.json()["plan"]["id"]
    assert ShiftPlan.objects.count() == 1 and Mission.objects.count() == 24
    stranger = client_for(UserFactory(role=Role.SERGEANT))
    assert post(stranger, "api-squad-schedule", {"date": day}, pk=squad.pk).status_code == 404
    officer = client_for(UserFactory(role=Role.OFFICER, squad=squad))
    assert post(officer, "api-squad-schedule", {"date": day}, pk=squad.pk).status_code == 403

    board = client.get(reverse("api-squad-board", args=[squad.pk]), {"date": day}).json()
    assert len(board["missions"]) == 24 and board["counts"]["assigned"] == 24
    bad = client.get(reverse("api-squad-board", args=[squad.pk]), {"date": "2026-13-01"})
    assert bad.status_code == 400 and "date" in bad.json()  # the field named, nothing served
    assert board["plan"]["id"] == first.json()["plan"]["id"]
    assert "every hot spot is treated" in board["treatment"]


# --- experiments ----------------------------------------------------------------------------


def create_experiment(client: Client, design: str = "blocked") -> dict[str, Any]:
    response = post(
        client,
        "api-experiments",
        {
            "name": f"Trial {uuid.uuid4().hex[:6]}",
            "design": design,
            "starts_on": "2026-06-01",
            "ends_on": "2026-08-29",
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_an_analyst_creates_randomizes_starts_and_exports_an_experiment() -> None:
    city(n=20, districts=2)
    client = client_for(UserFactory(role=Role.ANALYST))
    experiment = create_experiment(client)
    assert experiment["status"] == "draft" and experiment["seed"] is None
    randomized = post(client, "api-experiment-randomize", pk=experiment["id"])
    assert randomized.status_code == 200
    seed = randomized.json()["seed"]
    assert isinstance(seed, str) and int(seed) >= 0

    detail = client.get(reverse("api-experiment", args=[experiment["id"]])).json()
    summary = detail["summary"]
    n_t, n_c = summary["treated_units"], summary["control_units"]
    assert n_t + n_c == 20 and abs(n_t - n_c) <= 4  # four blocks of five: each odd one by coin
    assert {b["block"] for b in summary["balance"]["blocks"]} == {
        f"{d}|{t}"
        for d in {a.hotspot.district.name for a in Allocation.objects.all()}
        for t in (1, 2)
    }
    assert summary["balance"]["overall"]["treatment"]["n"] == n_t
    assert "can detect a" in summary["mde_sentence"] and "90 days" in summary["mde_sentence"]

    exported = client.get(reverse("api-experiment-allocation-csv", args=[experiment["id"]]))
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0] == ["hotspot_id", "rank", "district", "block", "arm", "day"]
    stored = {(str(a.hotspot_id), a.arm, a.block) for a in Allocation.objects.all()}
    assert {(r[0], r[4], r[3]) for r in rows[1:]} == stored and len(rows) == 21
    reproduced = client.get(reverse("api-experiment-reproduce", args=[experiment["id"]])).json()
    assert reproduced == {"identical": True, "compared": 20, "differences": 0, "seed": seed}

    assert post(client, "api-experiment-start", pk=experiment["id"]).json()["status"] == "running"
    locked = post(client, "api-experiment-randomize", pk=experiment["id"])
    assert locked.status_code == 409 and "locked" in locked.json()["detail"]
    assert client.get(reverse("api-experiment", args=[experiment["id"]])).json()["seed"] == seed
    arms = client.get(reverse("api-experiment-arms-geojson", args=[experiment["id"]])).json()
    assert [f["properties"]["arm"] for f in arms["features"]].count("treatment") == n_t


def test_randomizing_from_a_given_seed_reproduces_an_allocation() -> None:
    city(n=12, districts=1)
    client = client_for(UserFactory(role=Role.SUPERVISOR))
    one, two = create_experiment(client, "paired"), create_experiment(client, "paired")
    post(client, "api-experiment-randomize", {"seed": 12345}, pk=one["id"])
    post(client, "api-experiment-randomize", {"seed": "12345"}, pk=two["id"])

    def arms(e: dict[str, Any]) -> list[tuple[int, str]]:
        return sorted(
            Allocation.objects.filter(experiment_id=e["id"]).values_list("hotspot_id", "arm")
        )

    assert arms(one) == arms(two) and len(arms(one)) == 12
    bad = post(client, "api-experiment-randomize", {"seed": -1}, pk=one["id"])
    assert bad.status_code == 400


def test_experiments_are_for_analysts_and_supervisors_only() -> None:
    city(n=4)
    for role in (Role.OFFICER, Role.SERGEANT):
        client = client_for(UserFactory(role=role))
        assert client.get(reverse("api-experiments")).status_code == 403
    assert (
        client_for(UserFactory(role=Role.SUPERVISOR)).get(reverse("api-experiments")).status_code
        == 200
    )


def test_a_placeday_experiment_exports_one_row_per_hot_spot_and_day() -> None:
    city(n=6, districts=1)
    client = client_for(UserFactory(role=Role.ANALYST))
    e = post(
        client,
        "api-experiments",
        {
            "name": "Place-days",
            "design": "placeday",
            "starts_on": "2026-06-01",
            "ends_on": "2026-06-07",
            "blocking": "none",
        },
    ).json()
    post(client, "api-experiment-randomize", pk=e["id"])
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("api-experiment-allocation-csv", args=[e["id"]])
                ).content.decode()
            )
        )
    )[1:]
    assert len(rows) == 6 * 7
    for day in {r[5] for r in rows}:
        assert sum(r[4] == "treatment" for r in rows if r[5] == day) == 3
    summary = client.get(reverse("api-experiment", args=[e["id"]])).json()["summary"]
    assert summary["unit"] == "place-day" and summary["treated_units"] == 21
