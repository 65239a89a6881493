"""The sergeant's board as issue 9 asks: badge numbers everywhere, "assign to" with the squad's
officers only and none chosen (the server refuses anyone else), and a squad with no treated hot
spot told why, with no schedule button."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role, User
from backend.missions.models import Mission
from tests.factories import DistrictFactory, SquadFactory, UserFactory
from tests.missions.builders import analysis_run, hotspot, mission, running_experiment

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _squad() -> dict[str, Any]:
    """Squad A (sergeant S, officers: two "Ana Diaz" with badges 4471 and 5102), and squad B of
    the same sergeant (officer "Bo Chen" 7000); an officer of another sergeant (8000)."""
    district = DistrictFactory()
    sergeant = UserFactory(
        role=Role.SERGEANT, first_name="Sam", last_name="Sarge", badge_number="1000"
    )
    a = SquadFactory(district=district, sergeant=sergeant)
    b = SquadFactory(district=district, sergeant=sergeant)
    User.objects.filter(pk=sergeant.pk).update(squad=a)
    ana1 = UserFactory(first_name="Ana", last_name="Diaz", badge_number="4471", squad=a)
    ana2 = UserFactory(first_name="Ana", last_name="Diaz", badge_number="5102", squad=a)
    bo = UserFactory(first_name="Bo", last_name="Chen", badge_number="7000", squad=b)
    other = UserFactory(
        first_name="Cy",
        last_name="Other",
        badge_number="8000",
        squad=SquadFactory(district=district),
    )
    run = analysis_run()
    h = hotspot(run, rank=1, district=district)
    return {
        "district": district,
        "sergeant": sergeant,
        "a": a,
        "b": b,
        "ana1": ana1,
        "ana2": ana2,
        "bo": bo,
        "other": other,
        "run": run,
        "hotspot": h,
    }


def _assign_options(html: str) -> list[tuple[str, str, bool]]:
    select = re.search(r'<select id="assign-officer"[^>]*>(.*?)</select>', html, re.S)
    assert select, "no assign-to field"
    return [
        (value, label, " selected" in attrs)
        for value, attrs, label in re.findall(
            r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select.group(1)
        )
    ]


def test_assign_to_lists_the_squads_officers_only_with_badges_and_none_chosen() -> None:
    w = _squad()
    html = client_for(w["sergeant"]).get(reverse("missions:board"), {"squad": w["a"].pk})
    options = _assign_options(html.content.decode())
    # First the empty prompt, chosen; then both Ana Diaz told apart by badge; no sergeant,
    # nobody of squad B or of another sergeant's squad.
    assert options[0] == ("", "Choose an officer", True)
    people = sorted((v, label) for v, label, _ in options[1:])
    assert people == sorted(
        [(str(w["ana1"].pk), "Ana Diaz · #4471"), (str(w["ana2"].pk), "Ana Diaz · #5102")]
    )
    assert not any(chosen for _, _, chosen in options[1:])


def test_the_server_refuses_an_officer_outside_the_squad() -> None:
    w = _squad()
    client = client_for(w["sergeant"])
    start = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    day = timezone.localdate().isoformat()
    for outsider in (w["bo"], w["other"], w["sergeant"]):
        response = client.post(
            reverse("missions:board-assign"),
            {
                "squad": w["a"].pk,
                "date": day,
                "officer": outsider.pk,
                "hotspot": w["hotspot"].pk,
                "window_start": start,
                "minutes": 15,
            },
            follow=True,
        )
        assert response.status_code == 200
        text = " ".join(str(m) for m in response.context["messages"])
        assert "Assign to:" in text, text
    assert Mission.objects.count() == 0
    # No officer chosen (the default) is refused too, and a squad officer is accepted.
    response = client.post(
        reverse("missions:board-assign"),
        {
            "squad": w["a"].pk,
            "date": day,
            "officer": "",
            "hotspot": w["hotspot"].pk,
            "window_start": start,
            "minutes": 15,
        },
        follow=True,
    )
    assert Mission.objects.count() == 0
    client.post(
        reverse("missions:board-assign"),
        {
            "squad": w["a"].pk,
            "date": day,
            "officer": w["ana2"].pk,
            "hotspot": w["hotspot"].pk,
            "window_start": start,
            "minutes": 15,
        },
    )
    assert list(Mission.objects.values_list("officer_id", flat=True)) == [w["ana2"].pk]


def test_badge_numbers_on_the_missions_of_the_board() -> None:
    w = _squad()
    mission(w["hotspot"], officer=w["ana1"])
    mission(w["hotspot"], officer=w["ana2"], start=timezone.now() + timedelta(hours=2))
    html = client_for(w["sergeant"]).get(reverse("missions:board"), {"squad": w["a"].pk})
    cells = re.findall(
        r'<td data-label="Officer" class="officer">(.*?)</td>', html.content.decode()
    )
    text = [re.sub(r"<[^>]+>", "", c) for c in cells]
    assert sorted(text) == ["Ana Diaz #4471", "Ana Diaz #5102"]


def test_a_squad_with_no_treated_hot_spot_sees_why_and_no_schedule_button() -> None:
    w = _squad()
    # Every hot spot of the district is control in the running experiment.
    running_experiment(w["run"], treated=[], control=[w["hotspot"]])
    client = client_for(w["sergeant"])
    html = client.get(reverse("missions:board"), {"squad": w["a"].pk}).content.decode()
    assert 'data-reason="all_control"' in html
    assert "is a control place of the running experiment" in html
    assert "Generate shift schedule" not in html and 'id="btn-schedule"' not in html
    # And the server refuses a schedule anyway (a form kept open from before).
    response = client.post(
        reverse("missions:board-schedule"),
        {"squad": w["a"].pk, "date": timezone.localdate().isoformat()},
        follow=True,
    )
    assert "no treated active hot spot" in " ".join(str(m) for m in response.context["messages"])
    assert Mission.objects.count() == 0


def test_a_district_without_hot_spots_and_a_city_without_analysis_say_so() -> None:
    district = DistrictFactory()
    sergeant = UserFactory(role=Role.SERGEANT)
    squad = SquadFactory(district=district, sergeant=sergeant)
    UserFactory(squad=squad)
    client = client_for(sergeant)
    html = client.get(reverse("missions:board")).content.decode()
    assert 'data-reason="no_analysis"' in html and "Generate shift schedule" not in html
    run = analysis_run()
    hotspot(run, rank=1, district=DistrictFactory())  # published, but in another district
    html = client.get(reverse("missions:board")).content.decode()
    assert 'data-reason="none_in_district"' in html and "Generate shift schedule" not in html
    hotspot(run, rank=2, district=district)  # one in the squad's district: treated
    html = client.get(reverse("missions:board")).content.decode()
    assert "no-treated" not in html and "Generate shift schedule" in html
