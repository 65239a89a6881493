"""CAD calls and rosters, imported as analysts upload them: exact unit-hours and available hours
worked by hand, every bad row reported by line, nothing half-written, retries stored once."""

from __future__ import annotations

import uuid
from datetime import date

import numpy as np
import pytest

from backend.accounts.models import District
from backend.audit.models import AuditEvent
from backend.workload.imports import (
    ImportRejected,
    calls_import,
    matrix_import,
    roster_import,
)
from backend.workload.models import CallRecord, RosterShift, WorkloadImport
from backend.workload.selectors import workload_for
from tests.factories import DistrictFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "call_id,unit,unit_district,call_district,received,dispatched,on_scene,cleared,priority,"
    "self_initiated\n"
)
CALLS = (
    HEADER
    + """C1,A1,North,North,2026-02-02 09:35,2026-02-02 09:40,2026-02-02 09:48,2026-02-02 10:20,2,no
C1,B7,South,North,2026-02-02 09:35,2026-02-02 09:50,,2026-02-02 10:05,2,no
C2,A2,North,North,2026-02-08 23:25,2026-02-08 23:30,2026-02-08 23:41,2026-02-09 01:15,1,no
S1,A1,North,North,2026-02-09 09:00,2026-02-09 09:00,2026-02-09 09:00,2026-02-09 10:00,,yes
C3,B7,South,North,2026-02-10 13:58,2026-02-10 14:00,2026-02-10 14:09,2026-02-10 14:45,3,no
C4,B1,South,South,2026-02-03 02:00,2026-02-03 02:05,,2026-02-03 02:35,3,no
"""
)


Pair = tuple[District, District]


@pytest.fixture
def districts() -> Pair:
    return DistrictFactory(name="North", code="north"), DistrictFactory(name="South", code="south")


def test_calls_give_exact_unit_hours_per_cell_for_the_calls_district(districts: Pair) -> None:
    north, south = districts
    result = calls_import(data=CALLS.encode(), file_name="cad.csv")
    assert (result.imp.rows, result.imp.imported, result.imp.duplicates) == (6, 6, 0)
    # Two weeks, Monday 2 Feb to Sunday 15 Feb 2026: each cell is divided by 2.
    view = workload_for(district=north, first=date(2026, 2, 2), last=date(2026, 2, 15))
    expected = np.zeros((24, 7))
    expected[9, 0] = (20 + 10) / 60 / 2  # C1: A1 09:40-10:00 and backup B7 09:50-10:00
    expected[10, 0] = (20 + 5) / 60 / 2  # C1: A1 10:00-10:20, B7 10:00-10:05
    expected[23, 6] = 30 / 60 / 2  # C2: Sunday 23:30-24:00
    expected[0, 0] = 60 / 60 / 2  # C2: Monday 00:00-01:00
    expected[1, 0] = 15 / 60 / 2  # C2: Monday 01:00-01:15
    expected[14, 1] = 45 / 60 / 2  # C3 by a South unit still counts for North's calls
    # S1 is self-initiated: not in the calls figure. C4 is South's call.
    np.testing.assert_allclose(view.workload.cfs, expected, atol=1e-12)
    assert view.cfs_source.kind == "records"
    assert view.self_initiated_hours == pytest.approx(1.0)
    south_view = workload_for(district=south, first=date(2026, 2, 2), last=date(2026, 2, 15))
    assert south_view.workload.cfs[2, 1] == pytest.approx(30 / 60 / 2)
    city = workload_for(district=None, first=date(2026, 2, 2), last=date(2026, 2, 15))
    np.testing.assert_allclose(city.workload.cfs, expected + south_view.workload.cfs)


def test_the_own_district_share_counts_each_call_by_its_first_unit(districts: Pair) -> None:
    calls_import(data=CALLS.encode(), file_name="cad.csv")
    view = workload_for(district=None, first=date(2026, 2, 2), last=date(2026, 2, 15))
    share = {r["district"]: r for r in view.own_share}
    # North's calls C1 (first en route: A1 of North), C2 (A2, North), C3 (B7, South): 2 of 3.
    # Unit-hours: A1 40 min + B7 15 + A2 105 + B7 45 = 205 min, North's own 145 min.
    assert (share["North"]["calls"], share["North"]["own_calls"]) == (3, 2)
    assert share["North"]["pct_calls"] == pytest.approx(200 / 3)
    assert share["North"]["unit_hours"] == pytest.approx(205 / 60)
    assert share["North"]["own_unit_hours"] == pytest.approx(145 / 60)
    assert share["North"]["below_target"]  # 66.7% < 80%
    assert (share["South"]["calls"], share["South"]["own_calls"]) == (1, 1)


def test_every_bad_row_is_reported_by_line_and_nothing_is_written(districts: Pair) -> None:
    bad = CALLS.splitlines()
    bad[2] = bad[2].replace("2026-02-02 10:05", "2026-02-02 09:45")  # cleared before en route
    bad[3] = bad[3].replace(",North,North,", ",North,Westside,")  # unknown district
    bad[5] = bad[5].replace("2026-02-10 14:00", "yesterday")  # not a time
    bad.append("C9,A1,North")  # too few fields
    with pytest.raises(ImportRejected) as caught:
        calls_import(data=("\n".join(bad) + "\n").encode(), file_name="cad.csv")
    got = [(p["line"], p["field"]) for p in caught.value.problems]
    assert got == [(3, "cleared"), (4, "call_district"), (6, "en_route"), (8, "")]
    reasons = [p["reason"] for p in caught.value.problems]
    assert reasons[0] == "cleared is before en route"
    assert reasons[1].startswith("no district is named 'Westside'")
    assert reasons[3] == "expected 10 fields, found 3"
    assert not CallRecord.objects.exists() and not WorkloadImport.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_retried_upload_is_stored_once_and_a_reimport_counts_duplicates(districts: Pair) -> None:
    key = uuid.uuid4()
    first = calls_import(data=CALLS.encode(), file_name="cad.csv", client_uuid=key)
    retry = calls_import(data=CALLS.encode(), file_name="cad.csv", client_uuid=key)
    assert first.created and not retry.created and retry.imp.pk == first.imp.pk
    again = calls_import(data=CALLS.encode(), file_name="cad-again.csv")
    assert (again.imp.imported, again.imp.duplicates) == (0, 6)
    assert CallRecord.objects.count() == 6 and WorkloadImport.objects.count() == 2


ROSTER = """officer,district,shift_start,shift_end,meal_minutes,court_minutes
Ofc. Ruiz,North,2026-02-02 22:00,2026-02-03 06:00,30,90
Ofc. Chen,North,2026-02-02 22:30,2026-02-03 02:30,0,60
Ofc. Diaz,South,2026-02-02 22:00,2026-02-03 06:00,30,0
"""


def test_a_roster_with_meal_and_court_time_gives_the_exact_available_hours(districts: Pair) -> None:
    north, _ = districts
    roster_import(data=ROSTER.encode(), file_name="roster.csv")
    view = workload_for(district=north, first=date(2026, 2, 2), last=date(2026, 2, 8))
    # Ruiz: 480 min on duty, 120 off -> 0.75 of each hour 22:00-06:00.
    # Chen: 240 min, 60 off -> 0.75 of each hour 22:30-02:30 (half hours at each end).
    expected = np.zeros((24, 7))
    expected[22, 0] = 0.75 + 0.375
    expected[23, 0] = expected[0, 1] = expected[1, 1] = 1.5
    expected[2, 1] = 0.75 + 0.375
    expected[3, 1] = expected[4, 1] = expected[5, 1] = 0.75
    np.testing.assert_allclose(view.workload.available, expected, atol=1e-12)
    assert view.available_source.kind == "records"


def test_a_roster_row_with_more_meal_and_court_time_than_the_shift_is_refused(
    districts: Pair,
) -> None:
    bad = ROSTER.replace("0,60", "200,100")  # 300 minutes off a 240-minute shift
    with pytest.raises(ImportRejected) as caught:
        roster_import(data=bad.encode(), file_name="roster.csv")
    assert [(p["line"], p["field"]) for p in caught.value.problems] == [(3, "court_minutes")]
    assert not RosterShift.objects.exists()


def test_records_in_the_range_win_over_imported_matrices_and_citywide_sums_districts(
    districts: Pair,
) -> None:
    north, south = districts
    ones = "hour,MON,TUE,WED,THU,FRI,SAT,SUN\n" + "".join(
        f"{h:02d}00,1,1,1,1,1,1,1\n" for h in range(24)
    )
    twos = ones.replace(",1", ",2")
    matrix_import(kind="cfs", district=north, data=ones.encode(), file_name="n.csv")
    matrix_import(kind="cfs", district=south, data=twos.encode(), file_name="s.csv")
    view = workload_for(district=None, first=date(2026, 2, 2), last=date(2026, 2, 8))
    assert view.cfs_source.kind == "sum" and np.all(view.workload.cfs == 3)
    matrix_import(kind="cfs", district=None, data=ones.encode(), file_name="city.csv")
    view = workload_for(district=None, first=date(2026, 2, 2), last=date(2026, 2, 8))
    assert view.cfs_source.kind == "matrix" and np.all(view.workload.cfs == 1)
    calls_import(data=CALLS.encode(), file_name="cad.csv")
    view = workload_for(district=north, first=date(2026, 2, 2), last=date(2026, 2, 8))
    assert view.cfs_source.kind == "records"
    later = workload_for(district=north, first=date(2026, 3, 2), last=date(2026, 3, 8))
    assert later.cfs_source.kind == "matrix" and np.all(later.workload.cfs == 1)
