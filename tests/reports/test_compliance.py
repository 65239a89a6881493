"""Compliance rows on a hand-built day: every figure below is worked out by hand in comments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from backend.accounts.models import Role
from backend.reports.compliance import compliance_compute
from backend.reports.models import ComplianceDay, Scope
from backend.reports.services import compliance_day_rebuild
from tests.reports.conftest import DAY, at, make_visit


def _row(**key) -> dict:
    row = ComplianceDay.objects.get(day=DAY, **key)
    return {
        f: getattr(row, f)
        for f in (
            "arm",
            "prescribed_visits",
            "delivered_visits",
            "koper_visits",
            "prescribed_minutes",
            "delivered_minutes",
            "officer_minutes",
            "patrol_minutes",
            "avl_minutes",
            "contamination_minutes",
            "gap_minutes",
        )
    }


def test_hot_spot_rows_match_the_hand_count(hand_built_day: dict) -> None:
    h1, h2, h3, h4 = hand_built_day["h"]
    compliance_day_rebuild(day=DAY)
    # h1: two Koper visits by two officers, 09:00-09:15 and 09:05-09:20: dose 20 minutes,
    # labour 30 officer-minutes; prescribed 3 x 15.
    assert _row(scope=Scope.HOTSPOT, hotspot=h1) == {
        "arm": "treatment",
        "prescribed_visits": 3,
        "delivered_visits": 2,
        "koper_visits": 2,
        "prescribed_minutes": 45,
        "delivered_minutes": 20,
        "officer_minutes": 30,
        "patrol_minutes": 20,
        "avl_minutes": 0,
        "contamination_minutes": 0,
        "gap_minutes": 0,
    }
    # h2: a 3-minute drive-by, and a 6-minute device gap with fixes inside h2 on both sides:
    # shown as a gap, not as presence and not as absence.
    assert _row(scope=Scope.HOTSPOT, hotspot=h2) == {
        "arm": "treatment",
        "prescribed_visits": 3,
        "delivered_visits": 1,
        "koper_visits": 0,
        "prescribed_minutes": 45,
        "delivered_minutes": 3,
        "officer_minutes": 3,
        "patrol_minutes": 3,
        "avl_minutes": 0,
        "contamination_minutes": 0,
        "gap_minutes": 6,
    }
    # h3 (control): officer 11:00-11:10, car 11:05-11:15: contamination 11:00-11:15 = 15 min.
    assert _row(scope=Scope.HOTSPOT, hotspot=h3) == {
        "arm": "control",
        "prescribed_visits": 0,
        "delivered_visits": 0,
        "koper_visits": 0,
        "prescribed_minutes": 0,
        "delivered_minutes": 0,
        "officer_minutes": 10,
        "patrol_minutes": 10,
        "avl_minutes": 10,
        "contamination_minutes": 15,
        "gap_minutes": 0,
    }
    assert not ComplianceDay.objects.filter(hotspot=h4).exists()  # outside the experiment


def test_officer_and_squad_rows_match_the_hand_count(hand_built_day: dict) -> None:
    o1, o2, squad = hand_built_day["o1"], hand_built_day["o2"], hand_built_day["squad"]
    compliance_day_rebuild(day=DAY)
    # o1: 2 missions (30 min) prescribed; h1 15 min (Koper) + h2 3 min delivered; gap 6 min.
    assert _row(scope=Scope.OFFICER, officer=o1) == {
        "arm": "",
        "prescribed_visits": 2,
        "delivered_visits": 2,
        "koper_visits": 1,
        "prescribed_minutes": 30,
        "delivered_minutes": 18,
        "officer_minutes": 18,
        "patrol_minutes": 18,
        "avl_minutes": 0,
        "contamination_minutes": 0,
        "gap_minutes": 6,
    }
    # o2: 1 mission (the cancelled one and tomorrow's do not count); h1 15 min; 10 min in a
    # control hot spot (contamination); a 4-minute gap outside any hot spot.
    assert _row(scope=Scope.OFFICER, officer=o2) == {
        "arm": "",
        "prescribed_visits": 1,
        "delivered_visits": 1,
        "koper_visits": 1,
        "prescribed_minutes": 15,
        "delivered_minutes": 15,
        "officer_minutes": 25,
        "patrol_minutes": 25,
        "avl_minutes": 0,
        "contamination_minutes": 10,
        "gap_minutes": 4,
    }
    # The squad: dose 20 (h1, together) + 3 (h2) = 23 minutes; officer-minutes 18 + 25 = 43;
    # patrol-minutes 20 + 3 + 10 = 33.
    assert _row(scope=Scope.SQUAD, squad=squad) == {
        "arm": "",
        "prescribed_visits": 3,
        "delivered_visits": 3,
        "koper_visits": 2,
        "prescribed_minutes": 45,
        "delivered_minutes": 23,
        "officer_minutes": 43,
        "patrol_minutes": 33,
        "avl_minutes": 0,
        "contamination_minutes": 10,
        "gap_minutes": 10,
    }


def test_by_arm_and_district_sum_the_hot_spots(hand_built_day: dict) -> None:
    by_arm = {r["label"]: r for r in compliance_compute(first=DAY, last=DAY, by="arm").rows()}
    assert by_arm["Treatment"]["prescribed_visits"] == 6
    assert by_arm["Treatment"]["delivered_visits"] == 3
    assert by_arm["Treatment"]["pct_delivered"] == pytest.approx(50.0)
    assert by_arm["Treatment"]["delivered_minutes"] == pytest.approx(23.0)
    assert by_arm["Control"]["contamination_minutes"] == pytest.approx(15.0)
    assert by_arm["Control"]["pct_delivered"] is None
    by_shift = compliance_compute(first=DAY, last=DAY, by="shift").rows()
    assert [r["label"] for r in by_shift] == ["07:00-17:00"]
    assert by_shift[0]["officer_minutes"] == pytest.approx(43.0)


def test_rebuilding_twice_leaves_the_same_rows(hand_built_day: dict) -> None:
    n = compliance_day_rebuild(day=DAY)
    first = sorted(ComplianceDay.objects.values_list("scope", "delivered_visits", "gap_minutes"))
    assert compliance_day_rebuild(day=DAY) == n
    again = sorted(ComplianceDay.objects.values_list("scope", "delivered_visits", "gap_minutes"))
    assert first == again
    assert ComplianceDay.objects.count() == n == 3 + 2 + 1


def test_a_period_equals_the_sum_of_its_days(hand_built_day: dict) -> None:
    h1 = hand_built_day["h"][0]
    o1 = hand_built_day["o1"]
    make_visit(h1, at(9, 0, DAY + timedelta(days=1)), 12, officer=o1, koper=True)
    rows = compliance_compute(first=DAY, last=DAY + timedelta(days=1), by="hotspot").rows()
    h1_row = next(r for r in rows if r["key"] == h1.pk)
    assert h1_row["prescribed_visits"] == 6  # two days of 3
    assert h1_row["delivered_visits"] == 3
    assert h1_row["delivered_minutes"] == pytest.approx(32.0)  # 20 + 12


def test_sergeant_scope_keeps_other_squads_out(hand_built_day: dict) -> None:
    from tests.factories import UserFactory

    stranger = UserFactory(role=Role.OFFICER)
    make_visit(hand_built_day["h"][0], at(15, 0), 12, officer=stranger)
    result = compliance_compute(
        first=DAY, last=DAY, by="officer", squad_ids=[hand_built_day["squad"].pk]
    )
    assert set(result.keys) == {hand_built_day["o1"].pk, hand_built_day["o2"].pk}


def test_a_rollup_recomputes_that_days_compliance(
    hand_built_day: dict, django_capture_on_commit_callbacks
) -> None:
    """The rollup's signal queues the day's compliance (eager here; a real worker in
    test_compliance_worker.py)."""
    from backend.patrols.rollup import visit_rebuild_for_day

    assert not ComplianceDay.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        visit_rebuild_for_day(officer_id=hand_built_day["o1"].pk, day=DAY)
    # o1 has no pings that day, so the rollup kept its visits (a day whose raw pings retention
    # removed keeps what was derived from them; docs/data-retention.md); the compliance of the
    # day was computed from them all the same.
    o1 = ComplianceDay.objects.get(scope=Scope.OFFICER, officer=hand_built_day["o1"], day=DAY)
    assert (o1.prescribed_visits, o1.delivered_visits) == (2, 2)
    o2 = ComplianceDay.objects.get(scope=Scope.OFFICER, officer=hand_built_day["o2"], day=DAY)
    assert o2.delivered_visits == 1


def _report(tmp_path, by: str, first: date = DAY, last: date = DAY) -> list[dict]:
    import csv

    from django.core.management import call_command

    out = tmp_path / f"{by}.csv"
    call_command(
        "compliance_report", "--from", str(first), "--to", str(last), "--by", by, "--csv", str(out)
    )
    with out.open(newline="") as f:
        return list(csv.DictReader(f))


def test_compliance_report_command_writes_the_hand_counted_columns(
    hand_built_day: dict, tmp_path
) -> None:
    h1 = hand_built_day["h"][0]
    rows = {r["hotspot"]: r for r in _report(tmp_path, "hotspot")}
    r = rows[str(h1.pk)]
    assert list(r)[:2] == ["hotspot", "label"]
    assert (r["prescribed_visits"], r["delivered_visits"], r["pct_delivered"]) == ("3", "2", "66.7")
    assert (r["prescribed_minutes"], r["delivered_minutes"]) == ("45.0", "20.0")
    assert (r["koper_visits"], r["officer_minutes"], r["patrol_minutes"]) == ("2", "30.0", "20.0")
    assert (r["gap_minutes"], r["contamination_minutes"], r["on_target_visits"]) == (
        "0.0",
        "0.0",
        "2",
    )
    total = rows["total"]  # the last row sums the hot spots: 6 prescribed, 3 delivered, 50%
    assert (total["prescribed_visits"], total["delivered_visits"], total["pct_delivered"]) == (
        "6",
        "3",
        "50.0",
    )
    officers = {r["officer"]: r for r in _report(tmp_path, "officer")}
    o2 = officers[str(hand_built_day["o2"].pk)]
    assert (o2["contamination_minutes"], o2["gap_minutes"]) == ("10.0", "4.0")
    squads = [s for s in _report(tmp_path, "squad") if s["squad"] != "total"]
    assert [(s["label"], s["delivered_minutes"], s["patrol_minutes"]) for s in squads] == [
        (hand_built_day["squad"].name, "23.0", "33.0")
    ]
    arms = {r["arm"]: r for r in _report(tmp_path, "arm")}
    assert arms["treatment"]["pct_delivered"] == "50.0"
    assert arms["control"]["pct_delivered"] == ""
    assert arms["control"]["contamination_minutes"] == "15.0"


def test_compliance_report_refuses_a_backwards_range(db: None, tmp_path) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="before"):
        _report(tmp_path, "hotspot", first=DAY, last=DAY - timedelta(days=1))
    assert not (tmp_path / "hotspot.csv").exists()


def test_extra_visits_never_make_up_for_a_missed_day(hand_built_day: dict) -> None:
    """h1 gets 4 more visits on DAY (6 in all against 3 prescribed) and none the next day:
    on target 3 + 0 = 3 of 6 prescribed over the two days, 50%, not 100%."""
    h1, o1 = hand_built_day["h"][0], hand_built_day["o1"]
    for hour in (14, 15, 16, 17):
        make_visit(h1, at(hour), 5, officer=o1)
    rows = compliance_compute(first=DAY, last=DAY + timedelta(days=1), by="hotspot").rows()
    h1_row = next(r for r in rows if r["key"] == h1.pk)
    assert (h1_row["prescribed_visits"], h1_row["delivered_visits"]) == (6, 6)
    assert h1_row["on_target_visits"] == 3
    assert h1_row["pct_delivered"] == pytest.approx(50.0)
    # o1 had 2 missions on DAY and made 2 + 4 treated visits: on target 2 of 2.
    officers = compliance_compute(first=DAY, last=DAY, by="officer").rows()
    o1_row = next(r for r in officers if r["key"] == o1.pk)
    assert (o1_row["delivered_visits"], o1_row["on_target_visits"]) == (6, 2)
    assert o1_row["pct_delivered"] == pytest.approx(100.0)


def test_the_hot_spot_table_exports_as_a_geopackage(hand_built_day: dict, client, tmp_path) -> None:
    """Read back with sqlite3 alone (tests/gis): polygons in EPSG:4326 with the same columns."""
    import shapely
    from django.urls import reverse
    from shapely.geometry import shape

    from tests.factories import UserFactory
    from tests.gis.test_layers import read_gpkg

    h1 = hand_built_day["h"][0]
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    response = client.get(
        reverse("reports:compliance-geojson"),
        {"from": DAY, "to": DAY, "by": "hotspot", "format": "gpkg"},
    )
    assert response.status_code == 200
    path = tmp_path / "compliance.gpkg"
    path.write_bytes(response.content)
    gpkg = read_gpkg(path)
    assert gpkg["crs"] == "EPSG:4326"
    rows = {props["hotspot"]: (geom, props) for geom, props in gpkg["features"]}
    geom, props = rows[h1.pk]
    assert shapely.equals_exact(geom.normalize(), shape(h1.geometry).normalize(), tolerance=1e-9)
    assert (props["prescribed_visits"], props["delivered_visits"], props["on_target_visits"]) == (
        3,
        2,
        2,
    )
    assert props["delivered_minutes"] == pytest.approx(20.0)


def test_rebuilding_a_range_at_once_equals_rebuilding_day_by_day(hand_built_day: dict) -> None:
    from backend.reports.services import compliance_days_rebuild

    make_visit(
        hand_built_day["h"][0],
        at(9, 0, DAY + timedelta(days=1)),
        12,
        officer=hand_built_day["o1"],
        koper=True,
    )
    fields = (
        "day",
        "scope",
        "hotspot",
        "officer",
        "squad",
        "arm",
        "prescribed_visits",
        "delivered_visits",
        "on_target_visits",
        "delivered_minutes",
        "gap_minutes",
    )
    compliance_day_rebuild(day=DAY)
    compliance_day_rebuild(day=DAY + timedelta(days=1))
    by_day = sorted(ComplianceDay.objects.values_list(*fields), key=str)
    assert compliance_days_rebuild(first=DAY, last=DAY + timedelta(days=1)) == len(by_day)
    assert sorted(ComplianceDay.objects.values_list(*fields), key=str) == by_day
    assert {row[0] for row in by_day} == {DAY, DAY + timedelta(days=1)}
