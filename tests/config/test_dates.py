"""Nonsense dates are refused wherever a person types one (issue 11): a shift schedule for
0200-03-01 used to create 9 missions in year 200. The window is 2000-01-01 to 31 December two
years ahead (backend/config/dates.py); every refusal names the field and the window."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.config.dates import sane_date_problem, sane_window
from backend.incidents.models import Incident, IncidentImport
from backend.missions.models import Experiment, Mission, ShiftPlan
from tests.factories import DistrictFactory, UserFactory
from tests.missions.builders import analysis_run, city, hotspot, squad_with_officers

pytestmark = pytest.mark.django_db

LAST_YEAR = timezone.localdate().year + 2
WINDOW = f"must be between 2000-01-01 and {LAST_YEAR}-12-31"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_window_runs_from_2000_to_the_end_of_the_year_after_next() -> None:
    assert sane_window(today=date(2026, 12, 1)) == (date(2000, 1, 1), date(2028, 12, 31))
    assert sane_date_problem(date(2000, 1, 1)) is None
    assert sane_date_problem(date(LAST_YEAR, 12, 31)) is None
    assert sane_date_problem(date(1999, 12, 31)) == WINDOW
    assert sane_date_problem(date(200, 3, 1)) == WINDOW
    assert sane_date_problem(date(LAST_YEAR + 1, 1, 1)) == WINDOW
    assert sane_date_problem(
        datetime(9999, 12, 31, 23, 0, tzinfo=timezone.get_fixed_timezone(-840))
    )


def test_a_shift_schedule_for_year_200_is_a_400_naming_the_date_and_creates_nothing() -> None:
    *_, districts = city(n=16, districts=2)
    squad, sergeant, _ = squad_with_officers(district=districts[0], officers=3)
    client = client_for(sergeant)
    url = reverse("api-squad-schedule", args=[squad.pk])
    for day in ["0200-03-01", f"{LAST_YEAR + 1}-01-01", "1999-12-31"]:
        response = post_json(client, url, {"date": day})
        assert response.status_code == 400, (day, response.content)
        assert response.json() == {"date": [WINDOW]}
    assert (ShiftPlan.objects.count(), Mission.objects.count()) == (0, 0)
    # The board page's schedule form says the same and schedules nothing.
    page = client.post(
        reverse("missions:board-schedule"), {"squad": squad.pk, "date": "0200-03-01"}, follow=True
    )
    assert WINDOW in page.content.decode()
    assert (ShiftPlan.objects.count(), Mission.objects.count()) == (0, 0)
    # A sane day still schedules.
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert post_json(client, url, {"date": tomorrow}).status_code == 201


def test_the_board_and_mission_list_refuse_a_day_outside_the_window() -> None:
    squad, sergeant, _ = squad_with_officers(district=DistrictFactory())
    client = client_for(sergeant)
    board = client.get(reverse("api-squad-board", args=[squad.pk]), {"date": "0200-03-01"})
    assert board.status_code == 400 and board.json() == {"date": [WINDOW]}
    missions = client.get(reverse("api-missions"), {"day": "9999-01-01"})
    assert missions.status_code == 400 and missions.json() == {"day": [WINDOW]}


def test_a_hand_assigned_mission_in_year_200_is_refused() -> None:
    district = DistrictFactory()
    _, sergeant, (officer, *_) = squad_with_officers(district=district)
    h = hotspot(analysis_run(), rank=1, district=district)
    body = {
        "officer": officer.pk,
        "hotspot": h.pk,
        "window_start": "0200-03-01T10:00:00+00:00",
        "window_end": "0200-03-01T10:15:00+00:00",
        "client_uuid": str(uuid.uuid4()),
    }
    response = post_json(client_for(sergeant), reverse("api-mission-assign"), body)
    assert response.status_code == 400
    assert response.json() == {"window_start": [WINDOW], "window_end": [WINDOW]}
    assert not Mission.objects.exists()


def test_an_experiment_starting_in_year_200_is_refused_by_the_api_and_the_page() -> None:
    analysis_run()
    supervisor = UserFactory(role="supervisor")
    client = client_for(supervisor)
    body = {
        "name": "Year 200",
        "design": "place",
        "starts_on": "0200-03-01",
        "ends_on": "0200-04-01",
    }
    response = post_json(client, reverse("api-experiments"), body)
    assert response.status_code == 400, response.content
    assert response.json()["starts_on"] == [WINDOW]
    page = client.post(reverse("missions:experiments"), {**body, "design": "place"}, follow=True)
    assert WINDOW in page.content.decode()
    assert not Experiment.objects.exists()


def test_report_ranges_outside_the_window_are_a_400_naming_the_field() -> None:
    client = client_for(UserFactory(role="supervisor"))
    response = client.get(reverse("api-compliance"), {"from": "0200-03-01", "to": "0200-03-02"})
    assert response.status_code == 400
    assert response.json()["from"] == [WINDOW] and response.json()["to"] == [WINDOW]


def test_an_incident_import_refuses_rows_dated_outside_the_window_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rms.csv"
    path.write_text(
        "id,when,lat,lon,type\n"
        "B1,2024-05-01 21:30,25.80,-80.21,robbery\n"
        "B2,0200-03-01 21:30,25.80,-80.21,robbery\n"
        "B3,9999-12-31T23:00:00-14:00,25.80,-80.21,robbery\n"
        "B4,1999-12-31 12:00,25.80,-80.21,robbery\n",
        encoding="utf-8",
    )
    call_command(
        "import_incidents",
        str(path),
        "--map",
        "id=id,occurred_at=when,lat=lat,lon=lon,offence=type",
        "--tz",
        "America/New_York",
    )
    imp = IncidentImport.objects.get()
    assert (imp.imported, imp.rejected) == (1, 3)
    by_line = {r["line"]: (r["field"], r["reason"]) for r in imp.rejections}
    assert by_line == {
        3: ("occurred_at", f"time '0200-03-01 21:30' {WINDOW}"),
        4: ("occurred_at", f"time '9999-12-31T23:00:00-14:00' {WINDOW}"),
        5: ("occurred_at", f"time '1999-12-31 12:00' {WINDOW}"),
    }
    assert list(Incident.objects.values_list("source_id", flat=True)) == ["B1"]


def test_a_calls_file_dated_in_year_200_is_refused_by_line_and_field() -> None:
    from backend.workload.imports import ImportRejected, calls_import
    from backend.workload.models import CallRecord

    DistrictFactory(name="North", code="north")
    data = (
        "call_id,unit,unit_district,call_district,received,dispatched,on_scene,cleared,priority,"
        "self_initiated\n"
        "C1,A1,North,North,0200-02-02 09:35,0200-02-02 09:40,0200-02-02 09:48,"
        "0200-02-02 10:20,2,no\n"
    )
    with pytest.raises(ImportRejected) as caught:
        calls_import(data=data.encode(), file_name="cad.csv")
    problems = [(p["line"], p["field"], p["reason"]) for p in caught.value.problems]
    assert problems[0] == (2, "received", f"'0200-02-02 09:35' {WINDOW}")
    assert not CallRecord.objects.exists()
