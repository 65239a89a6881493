"""The sergeant's one-click shift schedule against the district's workload: missions go to the
hours whose calls leave spare capacity, the board says so, and an hour at or over 100% warns."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.missions.models import Mission
from backend.missions.services import shift_plan_generate
from backend.workload.imports import matrix_import
from tests.missions.builders import city, squad_with_officers

pytestmark = pytest.mark.django_db

SHIFT_HOURS = range(7, 17)  # the squad's shift: 07:00 for 10 hours
FULL_HOURS = {7, 9, 11, 13, 15}  # half the shift's hours: calls take 120% of available time


def matrix_csv(cells: dict[tuple[int, int], float], default: float) -> bytes:
    lines = ["hour,MON,TUE,WED,THU,FRI,SAT,SUN"]
    for h in range(24):
        lines.append(f"{h:02d}00," + ",".join(str(cells.get((h, d), default)) for d in range(7)))
    return ("\n".join(lines) + "\n").encode()


def world() -> dict[str, Any]:
    _run, spots, districts = city(n=12, districts=1)
    squad, sergeant, _officers = squad_with_officers(district=districts[0], officers=4)
    return {"squad": squad, "sergeant": sergeant, "district": districts[0], "spots": spots}


def import_workload(district: Any, weekday: int, full_hours: set[int]) -> None:
    """Calls take 5 of 10 available hours (50%) everywhere, 12 of 10 (120%) in ``full_hours``
    of ``weekday``."""
    cfs = matrix_csv({(h, weekday): 12.0 for h in full_hours}, 5.0)
    matrix_import(kind="cfs", district=district, data=cfs, file_name="cfs.csv")
    matrix_import(
        kind="available", district=district, data=matrix_csv({}, 10.0), file_name="avail.csv"
    )


def local_hours_touched(m: Mission) -> set[int]:
    start = timezone.localtime(m.window_start)
    end = timezone.localtime(m.window_end - timedelta(seconds=1))
    return {start.hour, end.hour}


def test_a_squad_whose_hours_are_half_over_100_percent_gets_no_mission_in_them() -> None:
    w = world()
    day = timezone.localdate() + timedelta(days=1)
    # Without workload figures the same seed spreads 36 visits over the whole shift, so some
    # land in the full hours: the check below would fail if the figures were ignored.
    blind = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"], seed=7)
    assert any(local_hours_touched(m) & FULL_HOURS for m in blind.plan.missions.all())
    assert "No workload figures" in blind.capacity_note

    import_workload(w["district"], day.weekday(), FULL_HOURS)
    result = shift_plan_generate(
        squad_id=w["squad"].pk, day=day, actor=w["sergeant"], seed=7, replace=True
    )
    missions = list(result.plan.missions.all())
    assert len(missions) == 3 * 12
    for m in missions:
        assert not local_hours_touched(m) & FULL_HOURS, timezone.localtime(m.window_start)
        assert set(local_hours_touched(m)) <= set(SHIFT_HOURS)
    assert "placed in hours with spare capacity" in result.capacity_note.lower()
    assert result.capacity_warnings == ()


def test_when_every_hour_is_over_100_percent_the_schedule_is_made_and_each_mission_warned() -> None:
    w = world()
    day = timezone.localdate() + timedelta(days=1)
    import_workload(w["district"], day.weekday(), set(range(24)))
    result = shift_plan_generate(squad_id=w["squad"].pk, day=day, actor=w["sergeant"])
    n = result.plan.missions.count()
    assert n == 36
    assert len(result.capacity_warnings) == n
    assert "120%" in result.capacity_warnings[0]
    assert "No hours of this shift with spare capacity" in result.capacity_note


def test_the_board_says_where_the_schedule_was_placed_and_warns_of_full_hours(
    client: Client,
) -> None:
    w = world()
    day = timezone.localdate() + timedelta(days=1)
    import_workload(w["district"], day.weekday(), FULL_HOURS)
    client.force_login(w["sergeant"])
    page = client.post(
        reverse("missions:board-schedule"), {"squad": w["squad"].pk, "date": day}, follow=True
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "Placed in hours with spare capacity" in text
    assert "Over capacity" not in text
