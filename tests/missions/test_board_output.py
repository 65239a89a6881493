"""The squad board API's output, pinned: every key, value and the missions' order for a board
with a plan and missions in every status, worked out by hand from the rows written here.

The board is polled every 10 s per sergeant, so ``MissionOutputSerializer`` builds its missions
in one pass instead of DRF's field loop; these tests hold that pass to the contract (and to DRF's
own output for the same serializer) so a cheaper board never means a different board.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework import serializers

from backend.accounts.models import Role, Squad, User
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.missions.api import (
    MissionOutputSerializer,
    ShiftPlanOutputSerializer,
    SquadBoardApi,
    board_payload,
)
from backend.missions.models import Mission, MissionStatus, MissionType, ShiftPlan
from backend.patrols.models import TravelMode, Visit
from tests.factories import DistrictFactory, SquadFactory, UserFactory
from tests.missions.builders import analysis_run

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
DAY = date(2026, 1, 15)  # winter: New York is UTC-05:00 all day
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-80.2, 25.8], [-80.19, 25.8], [-80.19, 25.81], [-80.2, 25.8]]],
}


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def officer(username: str, squad: Squad, **fields: Any) -> User:
    return UserFactory(username=username, role=Role.OFFICER, squad=squad, **fields)


def spot(run: AnalysisRun, rank: int, lat: float, address: str, briefing: dict) -> Hotspot:
    return Hotspot.objects.create(
        run=run,
        rank=rank,
        geometry=SQUARE,
        centroid_lat=lat,
        centroid_lon=-80.195,
        cells=[[0, 0]],
        harm=10.0,
        incident_count=3,
        gi_z_max=3.0,
        address=address,
        briefing=briefing,
    )


def write(n: int, **fields: Any) -> Mission:
    """Mission number ``n`` (its client UUID ends in ``n``), created 08:00, last changed 16:30."""
    m = Mission.objects.create(client_uuid=uuid.UUID(int=n), **fields)
    Mission.objects.filter(pk=m.pk).update(created_at=local(8), updated_at=local(16, 30))
    return m


def visit(who: User, where: Hotspot, entered: datetime, minutes: int, dwell_s: float) -> None:
    Visit.objects.create(
        officer=who,
        hotspot=where,
        day=entered.date(),
        entered_at=entered,
        exited_at=entered + timedelta(minutes=minutes),
        dwell_s=dwell_s,
        mode=TravelMode.FOOT,
    )


@pytest.fixture
def board() -> dict[str, Any]:
    """Squad Bravo's 15 January: a plan of two missions, seven missions in every status but
    accepted, GPS visits that deliver one, fall short on another and count for an open one."""
    sergeant = UserFactory(username="sgt-bravo", role=Role.SERGEANT)
    squad = SquadFactory(
        name="Bravo",
        district=DistrictFactory(),
        sergeant=sergeant,
        shift_start=time(7, 0),
        shift_hours=10,
    )
    ana = officer("ana", squad, first_name="Ana", last_name="Ruiz", badge_number="B-101")
    two = officer("officer-two", squad, first_name="", last_name="")
    run = analysis_run()
    a = spot(
        run,
        1,
        25.806,
        "100 Main St",
        {"one_line": "Robberies after dark", "peak_label": "Fri 20-24"},
    )
    b = spot(run, 2, 25.807, "200 Oak Ave", {})
    presence = MissionType.objects.create(name="Visible presence", objective="Be seen.")
    plan = ShiftPlan.objects.create(
        squad=squad,
        day=DAY,
        seed=123456789012345678,
        mission_type=presence,
        shift_start=local(7),
        shift_end=local(17),
        visits_per_hotspot=3,
        visit_minutes=15,
        created_by=sergeant,
    )
    ShiftPlan.objects.filter(pk=plan.pk).update(created_at=local(6, 30))
    common = {"squad": squad, "target_minutes": 15}
    m5 = write(  # written first: it ties with m1 at 09:00 and goes after it, by hot spot rank
        5,
        **common,
        hotspot=b,
        officer=two,
        status="on_scene",
        source="draw",
        window_start=local(9),
        window_end=local(9, 15),
        accepted_at=local(8, 50),
        on_scene_at=local(9, 5),
    )
    m1 = write(
        1,
        **common,
        hotspot=a,
        officer=ana,
        plan=plan,
        mission_type=presence,
        status="completed",
        source="schedule",
        window_start=local(9),
        window_end=local(9, 15),
        accepted_at=local(8, 55),
        on_scene_at=local(9, 2),
        ended_at=local(9, 20),
        status_note="Quiet",
    )
    m2 = write(
        2,
        **common,
        hotspot=b,
        officer=two,
        plan=plan,
        mission_type=presence,
        status="completed",
        source="schedule",
        window_start=local(10),
        window_end=local(10, 15),
        accepted_at=local(9, 58),
        on_scene_at=local(10, 1),
        ended_at=local(10, 6),
    )
    m3 = write(
        3,
        **common,
        hotspot=a,
        officer=two,
        status="declined",
        decline_reason="dispatched",
        window_start=local(11),
        window_end=local(11, 15),
        ended_at=local(10, 50),
        status_note="Robbery call",
    )
    m4 = write(
        4, **common, hotspot=b, officer=ana, window_start=local(13), window_end=local(13, 15)
    )
    m6 = write(
        6,
        **common,
        hotspot=a,
        officer=ana,
        status="cancelled",
        window_start=local(15),
        window_end=local(15, 15),
        ended_at=local(14),
        status_note="Shift change",
    )
    m7 = write(
        7,
        squad=squad,
        target_minutes=20,
        hotspot=b,
        officer=ana,
        status="interrupted",
        source="draw",
        window_start=local(16),
        window_end=local(16, 20),
        accepted_at=local(15, 55),
        on_scene_at=local(16, 2),
        ended_at=local(16, 5),
        status_note="Called away",
    )
    # Not on this board: the day before, and another squad's officer.
    write(
        8,
        **common,
        hotspot=a,
        officer=ana,
        window_start=local(12, day=DAY - timedelta(1)),
        window_end=local(13, day=DAY - timedelta(1)),
    )
    other = officer("other", SquadFactory(name="Charlie"))
    write(
        9, hotspot=a, officer=other, squad=other.squad, window_start=local(12), window_end=local(13)
    )
    visit(ana, a, local(9), 20, 1080)  # m1: all 20 min inside its span, 18 min of dwell
    visit(two, b, local(10, 1), 10, 540)  # m2: half inside (4.5 min); m5 (open): all (9 min)
    return {
        "squad": squad,
        "sergeant": sergeant,
        "plan": plan,
        "presence": presence,
        "spots": (a, b),
        "officers": (ana, two),
        "missions": (m1, m5, m2, m3, m4, m6, m7),
    }


def expected(board: dict[str, Any]) -> dict[str, Any]:
    """The board's JSON, written out by hand from the fixture's rows."""
    squad, plan, presence = board["squad"], board["plan"], board["presence"]
    a, b = board["spots"]
    ana, two = board["officers"]
    m1, m5, m2, m3, m4, m6, m7 = board["missions"]
    spot_a = {
        "hotspot": a.pk,
        "hotspot_rank": 1,
        "hotspot_lat": 25.806,
        "hotspot_lon": -80.195,
        "hotspot_geometry": SQUARE,
        "hotspot_reason": "Robberies after dark",
        "hotspot_address": "100 Main St",
        "hotspot_street_brief": "Marked by an analyst near 100 Main St; busiest Fri 20-24",
    }
    spot_b = {
        "hotspot": b.pk,
        "hotspot_rank": 2,
        "hotspot_lat": 25.807,
        "hotspot_lon": -80.195,
        "hotspot_geometry": SQUARE,
        "hotspot_reason": "",
        "hotspot_address": "200 Oak Ave",
        "hotspot_street_brief": "Marked by an analyst near 200 Oak Ave",
    }
    by_ana = {"officer": ana.pk, "officer_name": "Ana Ruiz", "officer_badge": "B-101"}
    by_two = {"officer": two.pk, "officer_name": "officer-two", "officer_badge": ""}

    def card(m: Mission, n: int, status: str, label: str, source: str, **rest: Any) -> dict:
        return {
            "id": m.pk,
            "client_uuid": f"00000000-0000-0000-0000-00000000000{n}",
            "status": status,
            "status_label": label,
            "source": source,
            **rest["spot"],
            **rest["by"],
            "squad": squad.pk,
            "mission_type": rest.get("type"),
            "mission_type_name": rest.get("type_name"),
            "experiment": None,
            "window_start": rest["window"][0],
            "window_end": rest["window"][1],
            "target_minutes": rest.get("target", 15),
            "decline_reason": rest.get("reason", ""),
            "decline_reason_label": rest.get("reason_label", ""),
            "status_note": rest.get("note", ""),
            "accepted_at": rest.get("accepted"),
            "on_scene_at": rest.get("on_scene"),
            "ended_at": rest.get("ended"),
            "created_at": "2026-01-15T08:00:00-05:00",
            "updated_at": "2026-01-15T16:30:00-05:00",
            "delivered": rest.get("delivered", False),
            "dwell_minutes": rest.get("dwell", 0),
            "outcome": rest["outcome"],
        }

    t = "2026-01-15T{}:00-05:00".format
    typed = {"type": presence.pk, "type_name": "Visible presence"}
    return {
        "squad": squad.pk,
        "squad_name": "Bravo",
        "date": "2026-01-15",
        "shift_start": t("07:00"),
        "shift_end": t("17:00"),
        "plan": {
            "id": plan.pk,
            "squad": squad.pk,
            "day": "2026-01-15",
            "seed": "123456789012345678",
            "shift_start": t("07:00"),
            "shift_end": t("17:00"),
            "visits_per_hotspot": 3,
            "visit_minutes": 15,
            "experiment": None,
            "mission_type": presence.pk,
            "created_by": "sgt-bravo",
            "created_at": t("06:30"),
            "missions": 2,
        },
        "treatment": "No experiment is running on the active hot spots: every hot spot is "
        "treated (there is no control).",
        "counts": {
            "assigned": 1,
            "accepted": 0,
            "on_scene": 1,
            "completed": 2,
            "declined": 1,
            "cancelled": 1,
            "interrupted": 1,
        },
        "missions": [
            card(
                m1,
                1,
                "completed",
                "Completed",
                "schedule",
                spot=spot_a,
                by=by_ana,
                **typed,
                window=(t("09:00"), t("09:15")),
                accepted=t("08:55"),
                on_scene=t("09:02"),
                ended=t("09:20"),
                note="Quiet",
                delivered=True,
                dwell=18,
                outcome="delivered",
            ),
            card(
                m5,
                5,
                "on_scene",
                "On scene",
                "draw",
                spot=spot_b,
                by=by_two,
                window=(t("09:00"), t("09:15")),
                accepted=t("08:50"),
                on_scene=t("09:05"),
                dwell=9,
                outcome="open",
            ),
            card(
                m2,
                2,
                "completed",
                "Completed",
                "schedule",
                spot=spot_b,
                by=by_two,
                **typed,
                window=(t("10:00"), t("10:15")),
                accepted=t("09:58"),
                on_scene=t("10:01"),
                ended=t("10:06"),
                dwell=4,
                outcome="short",
            ),
            card(
                m3,
                3,
                "declined",
                "Declined",
                "hand",
                spot=spot_a,
                by=by_two,
                window=(t("11:00"), t("11:15")),
                ended=t("10:50"),
                reason="dispatched",
                reason_label="Dispatched to a call",
                note="Robbery call",
                outcome="ended",
            ),
            card(
                m4,
                4,
                "assigned",
                "Assigned",
                "hand",
                spot=spot_b,
                by=by_ana,
                window=(t("13:00"), t("13:15")),
                outcome="open",
            ),
            card(
                m6,
                6,
                "cancelled",
                "Cancelled",
                "hand",
                spot=spot_a,
                by=by_ana,
                window=(t("15:00"), t("15:15")),
                ended=t("14:00"),
                note="Shift change",
                outcome="ended",
            ),
            card(
                m7,
                7,
                "interrupted",
                "Interrupted by a call",
                "draw",
                spot=spot_b,
                by=by_ana,
                window=(t("16:00"), t("16:20")),
                target=20,
                accepted=t("15:55"),
                on_scene=t("16:02"),
                ended=t("16:05"),
                note="Called away",
                outcome="ended",
            ),
        ],
    }


@override_settings(TIME_ZONE="America/New_York", LANGUAGE_CODE="en")
def test_the_board_api_returns_the_board_worked_out_by_hand(board: dict[str, Any]) -> None:
    client = Client()
    client.force_login(board["sergeant"])
    url = reverse("api-squad-board", args=[board["squad"].pk])
    response = client.get(url, {"date": "2026-01-15"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200, response.content
    body, want = response.json(), expected(board)
    assert body == want
    # Order too: the keys as the schema lists them, the counts by status, the missions by time,
    # then hot spot rank (m1 and m5 both start at 09:00).
    assert list(body) == list(want) and list(body["counts"]) == list(want["counts"])
    assert list(body["plan"]) == list(want["plan"])
    assert [list(m) for m in body["missions"]] == [MissionOutputSerializer.Meta.fields] * 7


@override_settings(TIME_ZONE="America/New_York")
def test_the_board_reads_the_database_four_times(
    board: dict[str, Any], django_assert_num_queries: Any
) -> None:
    """Missions, their visits, the plan with its mission count, the running experiment (hot
    reads are off in tests): nothing per mission, no second query for the plan's count."""
    squad = Squad.objects.get(pk=board["squad"].pk)
    with django_assert_num_queries(4):
        body = SquadBoardApi.BoardOutputSerializer(board_payload(squad=squad, day=DAY)).data
    assert len(body["missions"]) == 7


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_one_pass_missions_are_what_drfs_field_loop_makes(
    board: dict[str, Any], language: str
) -> None:
    """MissionOutputSerializer's own ``to_representation`` against DRF's generic one on the same
    serializer, for every status, with and without type, plan, visits, in both languages and in
    UTC and local time: the missions list, a mission and the schedule share it with the board."""
    ids = [m.pk for m in board["missions"]]
    missions = list(
        Mission.objects.filter(pk__in=ids).select_related("hotspot", "officer", "mission_type")
    )
    assert {m.status for m in missions} == set(MissionStatus.values) - {"accepted"}
    for zone in ("UTC", "America/New_York"):
        with translation.override(language), timezone.override(zone):
            fast = MissionOutputSerializer(missions, many=True).data
            loop = MissionOutputSerializer(missions, many=True)
            generic = [serializers.Serializer.to_representation(loop.child, m) for m in missions]
            assert [dict(m) for m in fast] == generic
            assert [list(m) for m in fast] == [list(m) for m in generic]


def test_the_one_pass_plan_and_board_are_what_drfs_field_loop_makes(board: dict[str, Any]) -> None:
    """The plan (counted by the board's query, or by a query of its own as the schedule API
    reads it) and the board's own keys, against DRF's loop on the same serializers."""
    squad = Squad.objects.get(pk=board["squad"].pk)
    payload = board_payload(squad=squad, day=DAY)
    plain = ShiftPlan.objects.get(pk=board["plan"].pk)
    for zone in ("UTC", "America/New_York"):
        with timezone.override(zone):
            for plan in (payload["plan"], plain):
                fast = ShiftPlanOutputSerializer(plan).data
                generic = serializers.Serializer.to_representation(
                    ShiftPlanOutputSerializer(), plan
                )
                assert fast == generic and list(fast) == list(generic)
                assert fast["missions"] == 2
            fast = SquadBoardApi.BoardOutputSerializer(payload).data
            loop = SquadBoardApi.BoardOutputSerializer(payload)
            generic = serializers.Serializer.to_representation(loop, payload)
            assert fast == generic and list(fast) == list(generic)
