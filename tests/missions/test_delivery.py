"""A mission is delivered only by GPS dwell inside its hot spot: "Done" ends it, never doses it.

Expected figures are worked out by hand in the comments from the visit times each test writes.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.missions.models import MissionStatus
from backend.missions.selectors import mission_deliveries
from backend.patrols.models import PatrolSession, TravelMode, Visit
from tests.factories import DistrictFactory
from tests.missions.builders import analysis_run, at_metres, hotspot, mission, squad_with_officers

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=timezone.get_fixed_timezone(-300))


def add_visit(
    officer: Any, spot: Any, start: datetime, minutes: float, dwell_s: float | None = None
) -> Visit:
    return Visit.objects.create(
        officer=officer,
        hotspot=spot,
        day=start.date(),
        entered_at=start,
        exited_at=start + timedelta(minutes=minutes),
        dwell_s=minutes * 60 if dwell_s is None else dwell_s,
        mode=TravelMode.FOOT,
    )


@pytest.mark.django_db
def test_dwell_inside_the_mission_span_decides_delivery_not_the_done_button() -> None:
    run = analysis_run()
    spot, other = hotspot(run, rank=1), hotspot(run, rank=2, x=600)
    _, _, (officer, someone_else) = squad_with_officers(district=DistrictFactory(), officers=2)
    # Mission from 14:00, completed ("Done") at 14:30; target 15 minutes.
    done = mission(
        spot,
        officer=officer,
        status=MissionStatus.COMPLETED,
        start=T0,
        target_minutes=15,
        ended_at=T0 + timedelta(minutes=30),
    )
    # 13:50-14:06 in the hot spot: only 14:00-14:06 lies in the mission = 6 of 16 min.
    add_visit(officer, spot, T0 - timedelta(minutes=10), 16)
    # 14:20-14:40: 14:20-14:30 counts = 10 min. Total 16 min >= 15: delivered.
    add_visit(officer, spot, T0 + timedelta(minutes=20), 20)
    add_visit(officer, other, T0 + timedelta(minutes=5), 30)  # another hot spot: not counted
    add_visit(someone_else, spot, T0, 30)  # another officer: not counted
    d = mission_deliveries([done])[done.pk]
    assert d.dwell_s == pytest.approx(16 * 60)
    assert (d.delivered, d.dwell_minutes, d.outcome) == (True, 16, "delivered")


@pytest.mark.django_db
def test_done_after_one_minute_is_completed_but_short() -> None:
    run = analysis_run()
    spot = hotspot(run, rank=1)
    _, _, (officer,) = squad_with_officers(district=DistrictFactory(), officers=1)
    short = mission(
        spot,
        officer=officer,
        status=MissionStatus.COMPLETED,
        start=T0,
        target_minutes=15,
        ended_at=T0 + timedelta(minutes=3),
    )
    add_visit(officer, spot, T0 + timedelta(minutes=1), 1.5)  # 90 s on scene, then Done
    d = mission_deliveries([short])[short.pk]
    assert (d.delivered, d.dwell_minutes, d.outcome, d.label) == (
        False,
        1,
        "short",
        "short · 1 min",
    )


@pytest.mark.django_db
def test_a_gap_inside_a_visit_is_not_dwell_and_open_or_declined_missions_are_not_short() -> None:
    run = analysis_run()
    spot = hotspot(run, rank=1)
    _, _, (officer,) = squad_with_officers(district=DistrictFactory(), officers=1)
    # A 20-minute visit with 8 minutes of device gap: dwell_s 720 s. The mission span covers
    # its second half (14:10-14:20 of 14:00-14:20): 720 * 10/20 = 360 s = 6 min.
    add_visit(officer, spot, T0, 20, dwell_s=720)
    open_m = mission(
        spot,
        officer=officer,
        status=MissionStatus.ON_SCENE,
        start=T0 + timedelta(minutes=10),
        target_minutes=10,
    )
    declined = mission(
        spot,
        officer=officer,
        status=MissionStatus.DECLINED,
        start=T0 + timedelta(minutes=10),
        ended_at=T0 + timedelta(minutes=11),
    )
    out = mission_deliveries([open_m, declined], now=T0 + timedelta(minutes=40))
    assert out[open_m.pk].dwell_s == pytest.approx(360)
    assert out[open_m.pk].outcome == "open"
    # declined at 14:11: one minute of the visit, 720 * 1/20 = 36 s
    assert out[declined.pk].dwell_s == pytest.approx(36)
    assert out[declined.pk].outcome == "ended"


def _client(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _post(c: Client, url: str, body: Any) -> Any:
    return c.post(url, json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_done_rolls_up_the_pings_and_the_api_and_board_show_completed_apart_from_delivered(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Through the API as the phone does it: pings every 30 s inside the hot spot for
    ``minutes``, then "Done". Completing queues the visit rollup (eager Celery in tests)."""
    run = analysis_run()
    spot = hotspot(run, rank=1)
    squad, sergeant, (officer,) = squad_with_officers(district=DistrictFactory(), officers=1)
    phone = _client(officer)
    start = timezone.now() - timedelta(minutes=40)
    r = _post(
        phone,
        reverse("api-session-start"),
        {"client_uuid": str(uuid.uuid4()), "started_at": start.isoformat()},
    )
    assert r.status_code == 201
    lat, lon = at_metres(0, 0)
    m = mission(
        spot, officer=officer, status=MissionStatus.ACCEPTED, start=start, target_minutes=15
    )
    arrive = start + timedelta(minutes=5)
    # 5 minutes inside: pings at 0, 30, ..., 300 s = 11 pings; dwell 300 s = 5 min < 15.
    pings = [
        {
            "client_uuid": str(uuid.uuid4()),
            "recorded_at": (arrive + timedelta(seconds=30 * i)).isoformat(),
            "lat": lat,
            "lon": lon,
            "accuracy_m": 5.0,
        }
        for i in range(11)
    ]
    assert _post(phone, reverse("api-pings-batch"), {"pings": pings}).status_code == 200
    at = arrive + timedelta(minutes=5, seconds=10)
    with django_capture_on_commit_callbacks(execute=True):
        for step in ("arrive", "complete"):
            r = _post(phone, f"/api/v1/missions/{m.pk}/{step}", {"at": at.isoformat()})
            assert r.status_code == 200, r.content
    body = phone.get(f"/api/v1/missions/{m.pk}").json()
    assert body["status"] == "completed"
    assert (body["delivered"], body["outcome"], body["dwell_minutes"]) == (False, "short", 5)
    assert Visit.objects.filter(officer=officer).count() == 1  # rolled up by "Done"
    board = _client(sergeant).get(reverse("missions:board") + f"?squad={squad.pk}")
    assert "Completed · short · 5 min" in board.content.decode()
    api = _client(sergeant).get(reverse("api-squad-board", args=[squad.pk])).json()
    assert [(x["id"], x["outcome"]) for x in api["missions"]] == [(m.pk, "short")]
    csv = _client(sergeant).get(reverse("missions:board-csv") + f"?squad={squad.pk}")
    header, row = csv.content.decode().splitlines()[:2]
    assert header.endswith("delivered,dwell_minutes,outcome") and row.endswith("0,5,short")
    assert PatrolSession.objects.get(officer=officer).ended_at is None
