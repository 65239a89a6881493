"""Mission pages: the board (one-click schedule), the Mission Menu, experiments, my missions."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.missions.models import Experiment, Mission, MissionStatus, MissionType
from tests.factories import DistrictFactory, UserFactory
from tests.missions.builders import (
    analysis_run,
    city,
    hotspot,
    mission,
    running_experiment,
    squad_with_officers,
)

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- the board ------------------------------------------------------------------------------


def test_a_sergeant_generates_the_shift_schedule_in_one_click_and_sees_it_on_the_board() -> None:
    run, spots, districts = city(n=16, districts=2)
    mine = [h for h in spots if h.district_id == districts[0].pk]
    running_experiment(run, treated=mine[:4], control=mine[4:])
    squad, sergeant, _ = squad_with_officers(district=districts[0], officers=3)
    client = client_for(sergeant)

    page = client.get(reverse("missions:board"))
    html = page.content.decode()
    assert page.status_code == 200 and squad.name in html
    assert "Generate shift schedule" in html and "No missions for this shift yet" in html
    assert "only its treated hot spots get missions" in html
    day = re.search(r'name="date" value="(\d{4}-\d\d-\d\d)"', html).group(1)  # type: ignore[union-attr]

    response = client.post(
        reverse("missions:board-schedule"), {"squad": squad.pk, "date": day}, follow=True
    )
    html = response.content.decode()
    assert "Shift schedule generated: 12 missions." in messages_of(response)
    assert html.count("data-mission-id=") == 12
    assert "js/missions-board.js" in html and "data-board-url=" in html
    assert Mission.objects.filter(status="assigned", hotspot__in=mine[:4]).count() == 12

    again = client.post(
        reverse("missions:board-schedule"), {"squad": squad.pk, "date": day}, follow=True
    )
    assert "it was not doubled" in " ".join(messages_of(again))
    assert Mission.objects.count() == 12

    exported = client.get(reverse("missions:board-csv"), {"squad": squad.pk, "date": day})
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert rows[0][0] == "mission_id" and len(rows) == 13


def test_a_sergeant_assigns_and_cancels_by_hand_on_the_board() -> None:
    district = DistrictFactory()
    squad, sergeant, (officer, *_) = squad_with_officers(district=district)
    h = hotspot(analysis_run(), rank=1, district=district)
    client = client_for(sergeant)
    start = timezone.localtime() + timedelta(hours=1)
    response = client.post(
        reverse("missions:board-assign"),
        {
            "squad": squad.pk,
            "date": start.date().isoformat(),
            "officer": officer.pk,
            "hotspot": h.pk,
            "window_start": start.strftime("%Y-%m-%dT%H:%M"),
            "minutes": 20,
        },
        follow=True,
    )
    m = Mission.objects.get()
    assert (m.officer, m.hotspot, m.created_by) == (officer, h, sergeant)
    assert m.window_end - m.window_start == timedelta(minutes=20)
    assert timezone.localtime(m.window_start).hour == start.hour
    assert any("assigned to" in text for text in messages_of(response))
    client.post(reverse("missions:board-cancel", args=[m.pk]), follow=True)
    m.refresh_from_db()
    assert m.status == MissionStatus.CANCELLED


def test_a_control_hot_spot_cannot_be_chosen_on_the_board() -> None:
    district = DistrictFactory()
    _, sergeant, _ = squad_with_officers(district=district)
    run = analysis_run()
    treated, control = (
        hotspot(run, rank=1, district=district),
        hotspot(run, rank=2, district=district),
    )
    running_experiment(run, treated=[treated], control=[control])
    html = client_for(sergeant).get(reverse("missions:board")).content.decode()
    assert (
        f'<option value="{control.pk}" disabled>2 · {control.place} (control: never assigned)'
        in html
    )
    assert "Control: no visits" in html


def test_the_board_shows_an_empty_state_without_a_squad_and_is_closed_to_officers() -> None:
    html = client_for(UserFactory(role=Role.SERGEANT)).get(reverse("missions:board"))
    assert "You lead no squad" in html.content.decode()
    assert (
        client_for(UserFactory(role=Role.OFFICER)).get(reverse("missions:board")).status_code == 403
    )
    assert (
        client_for(UserFactory(role=Role.ANALYST)).get(reverse("missions:board")).status_code == 403
    )


def test_the_landing_page_links_the_built_mission_areas() -> None:
    html = client_for(UserFactory(role=Role.SUPERVISOR)).get(reverse("home")).content.decode()
    for area, url in (
        ("board", "missions:board"),
        ("menu", "missions:menu"),
        ("experiments", "missions:experiments"),
    ):
        item = html.split(f'data-area="{area}"')[1].split("</li>")[0]
        assert f'href="{reverse(url)}"' in item and "Not built yet" not in item


# --- the Mission Menu -----------------------------------------------------------------------


def test_a_sergeant_adds_and_edits_a_mission_type_and_both_are_audited() -> None:
    sergeant = UserFactory(role=Role.SERGEANT)
    client = client_for(sergeant)
    assert "The Mission Menu is empty" in client.get(reverse("missions:menu")).content.decode()
    client.post(
        reverse("missions:menu"),
        {
            "name": "Foot patrol",
            "objective": "Be seen",
            "target_minutes": 15,
            "tactics": "Walk\nTalk",
            "is_active": "1",
        },
    )
    t = MissionType.objects.get(name="Foot patrol")
    assert (t.target_minutes, t.tactics, t.is_active) == (15, "Walk\nTalk", True)
    client.post(
        reverse("missions:menu-edit", args=[t.pk]),
        {"name": "Foot patrol", "objective": "Be seen and talk", "target_minutes": 12},
    )
    t.refresh_from_db()
    assert (t.objective, t.target_minutes, t.is_active) == ("Be seen and talk", 12, False)
    update = AuditEvent.objects.get(action="mission_type.update")
    assert update.actor == sergeant and update.before["target_minutes"] == 15
    assert update.after["target_minutes"] == 12


def test_a_mission_type_with_bad_values_is_refused_with_messages() -> None:
    client = client_for(UserFactory(role=Role.SUPERVISOR))
    response = client.post(
        reverse("missions:menu"), {"name": "", "objective": "x", "target_minutes": 999}
    )
    assert response.status_code == 200
    text = " ".join(messages_of(response))
    assert "Name:" in text and "Target minutes:" in text
    assert not MissionType.objects.exists()
    assert (
        client_for(UserFactory(role=Role.OFFICER)).get(reverse("missions:menu")).status_code == 403
    )


# --- experiments ----------------------------------------------------------------------------


def test_an_analyst_sets_up_randomizes_starts_and_reproduces_an_experiment_on_the_pages() -> None:
    city(n=20, districts=2)
    client = client_for(UserFactory(role=Role.ANALYST))
    assert "No experiments yet" in client.get(reverse("missions:experiments")).content.decode()
    response = client.post(
        reverse("missions:experiments"),
        {
            "name": "Summer trial",
            "design": "blocked",
            "starts_on": "2026-06-01",
            "ends_on": "2026-08-29",
            "visits_per_shift": 3,
            "minutes_per_visit": 15,
            "blocking": "district+tier",
            "harm_tiers": 2,
        },
        follow=True,
    )
    e = Experiment.objects.get()
    assert "Not randomized yet" in response.content.decode()

    page = client.post(reverse("missions:experiment-randomize", args=[e.pk]), follow=True)
    html = page.content.decode()
    e.refresh_from_db()
    assert f"Randomized with seed {e.seed}." in messages_of(page)
    assert "Balance" in html and '<th scope="row">All hot spots' in html
    assert "the experiment can detect a" in html
    assert 'id="arms-map"' in html and "js/missions-experiment.js" in html
    assert html.count('<th scope="row" class="num">') == 20  # the allocation table's rows

    started = client.post(reverse("missions:experiment-start", args=[e.pk]), follow=True)
    assert "allocation is locked" in started.content.decode()
    assert "Randomize again" not in started.content.decode()
    checked = client.post(reverse("missions:experiment-reproduce", args=[e.pk]), follow=True)
    assert f"Re-run from seed {e.seed}: identical (20 allocation rows)." in messages_of(checked)

    exported = client.get(reverse("missions:experiment-csv", args=[e.pk]))
    assert exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().splitlines()[0] == "hotspot_id,rank,district,block,arm,day"


def test_experiment_pages_are_closed_to_sergeants_and_officers() -> None:
    for role in (Role.SERGEANT, Role.OFFICER):
        response = client_for(UserFactory(role=role)).get(reverse("missions:experiments"))
        assert response.status_code == 403


def test_an_experiment_cannot_be_set_up_without_active_hot_spots() -> None:
    html = client_for(UserFactory(role=Role.ANALYST)).get(reverse("missions:experiments"))
    assert "No hot spots are active" in html.content.decode()


# --- my missions ----------------------------------------------------------------------------


def test_an_officer_sees_their_missions_and_works_them_from_the_page() -> None:
    officer = UserFactory(role=Role.OFFICER)
    m = mission(hotspot(analysis_run(), rank=7), officer=officer)
    mission(hotspot(analysis_run(), rank=1), officer=UserFactory())  # someone else's
    client = client_for(officer)
    html = client.get(reverse("missions:mine")).content.decode()
    assert html.count('name="action" value="accept"') == 1
    client.post(reverse("missions:mine-act", args=[m.pk]), {"action": "accept"})
    m.refresh_from_db()
    assert m.status == "accepted"
    wrong = client.post(
        reverse("missions:mine-act", args=[m.pk]), {"action": "complete"}, follow=True
    )
    assert "it can be completed only when on scene" in " ".join(messages_of(wrong))
    client.post(
        reverse("missions:mine-act", args=[m.pk]), {"action": "decline", "reason": "dispatched"}
    )
    m.refresh_from_db()
    assert (m.status, m.decline_reason) == ("declined", "dispatched")
    assert "Finished today" in client.get(reverse("missions:mine")).content.decode()
