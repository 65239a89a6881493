"""Workload matrices: the 2006 staffing study's own figures, and unit-hours and available hours
worked out by hand from calls and rosters built for the test."""

from __future__ import annotations

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from backend.analytics import workload as wl
from tests.conftest import TEST_DATA

STUDY = TEST_DATA / "staffing_2006"
NY = ZoneInfo("America/New_York")


def study_rows(name: str) -> list[list[str]]:
    with (STUDY / name).open(newline="") as f:
        return list(csv.reader(f))


def study_matrix(name: str) -> np.ndarray:
    """The file's 24 hour rows x 7 weekday columns (the layout the module uses)."""
    rows = study_rows(name)
    assert rows[0] == ["hour", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
    assert [r[0] for r in rows[1:]] == [f"{h:02d}00" for h in range(24)]
    return np.array([[float(x) for x in r[1:]] for r in rows[1:]])


@pytest.fixture(scope="module")
def city() -> wl.Workload:
    return wl.workload(study_matrix("cfs_city.csv"), study_matrix("avail_city.csv"))


def test_the_study_citywide_pct_consumed_matches_its_printed_figures(city: wl.Workload) -> None:
    # The study prints 78.8% for Monday 09:00 (15.6 / 19.8) and 52.8% for Sunday 23:00
    # (14.4 / 27.3).
    assert city.pct[9, 0] == pytest.approx(78.8, abs=0.2)
    assert city.pct[23, 6] == pytest.approx(52.8, abs=0.2)
    assert city.spare[9, 0] == pytest.approx(19.8 - 15.6)


def test_total_cfs_over_total_available_is_the_ratio_of_the_files_sums(
    city: wl.Workload,
) -> None:
    # Summed here with the csv module, independently of the module's arrays.
    cfs_total = sum(float(x) for r in study_rows("cfs_city.csv")[1:] for x in r[1:])
    avail_total = sum(float(x) for r in study_rows("avail_city.csv")[1:] for x in r[1:])
    # Within 2 h of the study's printed totals (2,298.5 and 3,523.6), as the data README says.
    assert abs(cfs_total - 2298.5) < 2 and abs(avail_total - 3523.6) < 2
    assert float(city.cfs.sum()) == pytest.approx(cfs_total, abs=1e-9)
    assert float(city.available.sum()) == pytest.approx(avail_total, abs=1e-9)
    assert float(city.cfs.sum() / city.available.sum()) == pytest.approx(
        cfs_total / avail_total, rel=1e-12
    )


def test_cells_out_of_target_are_counted_as_a_brute_force_loop_over_the_files_counts(
    city: wl.Workload,
) -> None:
    cfs, avail = study_rows("cfs_city.csv"), study_rows("avail_city.csv")
    high = low = over = 0
    for i in range(1, 25):
        for j in range(1, 8):
            pct = 100 * float(cfs[i][j]) / float(avail[i][j])
            high += pct >= 80
            low += pct <= 30
            over += pct > 100
    # Worked by hand from the two files, for the record:
    # > 100%: SUN 0100 (23.7/21.3 = 111.3), SUN 0300 (22.7/22.1 = 102.7), MON 1300 (17.1/16.3 =
    #   104.9), SUN 1300 (17.0/16.0 = 106.3), MON 1400 (16.3/15.8 = 103.2), FRI 1400 (15.9/15.5
    #   = 102.6), SUN 1400 (16.6/14.9 = 111.4), SAT 2100 (18.5/17.7 = 104.5), SAT 2200 (19.1/
    #   17.1 = 111.7): 9 cells.
    # <= 30%: WED 0700 (7.4/24.7 = 29.96), THU 0700 (6.2/26.4 = 23.5), FRI 0700 (7.7/27.9 =
    #   27.6): 3 cells.
    # >= 80%: 50 cells (the 9 above, the Saturday and Sunday small hours, the 12:00-14:00
    #   blocks and the Thursday-Sunday evenings).
    assert (high, low, over) == (50, 3, 9)
    flags = wl.flags(city)
    assert int(flags.high.sum()) == high
    assert int(flags.low.sum()) == low
    assert int(flags.over_100.sum()) == over
    assert int(flags.out_of_target.sum()) == high + low


def test_calls_are_split_across_hours_and_midnight_every_unit_counts_and_self_initiated_not() -> (
    None
):
    # Two weeks, Monday 2 Feb 2026 to Sunday 15 Feb 2026 (no clock change): every weekday occurs
    # twice, so each cell is the unit-hours that fell in it divided by 2.
    bins = wl.local_hour_bins(datetime(2026, 2, 2).date(), datetime(2026, 2, 15).date(), NY)

    def t(day: int, hour: int, minute: int) -> int:
        return int(datetime(2026, 2, day, hour, minute, tzinfo=NY).timestamp())

    calls = [  # (en route, cleared, self-initiated)
        (t(2, 9, 40), t(2, 10, 20), False),  # call 1, unit A1: Mon 09 20 min, Mon 10 20 min
        (t(2, 9, 50), t(2, 10, 5), False),  # call 1, backup B7: Mon 09 10 min, Mon 10 5 min
        (t(8, 23, 30), t(9, 1, 15), False),  # call 2 over midnight: Sun 23 30, Mon 00 60, Mon 01 15
        (t(9, 9, 0), t(9, 10, 0), True),  # self-initiated: left out
        (t(10, 14, 0), t(10, 14, 45), False),  # call 3: Tue 14 45 min
        (t(1, 23, 45), t(2, 0, 30), False),  # began before the range: only Mon 00 30 min counts
    ]
    start, end, self_init = (np.array(c) for c in zip(*calls, strict=True))
    got = wl.cfs_hours_matrix(start, end, self_init.astype(bool), bins)
    expected = np.zeros((24, 7))
    expected[9, 0] = (20 + 10) / 60 / 2  # 0.25
    expected[10, 0] = (20 + 5) / 60 / 2  # 0.208333
    expected[23, 6] = 30 / 60 / 2  # 0.25
    expected[0, 0] = (60 + 30) / 60 / 2  # 0.75
    expected[1, 0] = 15 / 60 / 2  # 0.125
    expected[14, 1] = 45 / 60 / 2  # 0.375
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_a_roster_with_meal_and_court_time_gives_the_available_hours_worked_by_hand() -> None:
    # One week, Monday 2 Feb 2026 to Sunday 8 Feb 2026.
    bins = wl.local_hour_bins(datetime(2026, 2, 2).date(), datetime(2026, 2, 8).date(), NY)

    def t(day: int, hour: int, minute: int = 0) -> int:
        return int(datetime(2026, 2, day, hour, minute, tzinfo=NY).timestamp())

    # Officer 1: Mon 22:00 to Tue 06:00 (480 min), meal 30 + court 90: 360 of 480 minutes are
    # available, spread evenly: 0.75 h of each of the 8 hours.
    # Officer 2: Mon 22:30 to Tue 02:30 (240 min), court 60: 180 of 240 available, 0.75 per
    # hour: Mon 22 half an hour -> 0.375, Mon 23 / Tue 00 / Tue 01 0.75, Tue 02 0.375.
    got = wl.available_hours_matrix(
        [t(2, 22), t(2, 22, 30)], [t(3, 6), t(3, 2, 30)], [30, 0], [90, 60], bins
    )
    expected = np.zeros((24, 7))
    expected[22, 0] = 0.75 + 0.375
    expected[23, 0] = 0.75 + 0.75
    expected[0, 1] = expected[1, 1] = 0.75 + 0.75
    expected[2, 1] = 0.75 + 0.375
    expected[3, 1] = expected[4, 1] = expected[5, 1] = 0.75
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert float(got.sum()) == pytest.approx(6 + 3)  # 360 + 180 minutes


def test_the_repeated_autumn_hour_counts_twice_and_the_skipped_spring_hour_not_at_all() -> None:
    # 1 Nov 2026 (Sunday) the clocks go back at 02:00 EDT: local 01:00-02:00 happens twice.
    bins = wl.local_hour_bins(datetime(2026, 11, 1).date(), datetime(2026, 11, 1).date(), NY)
    first = int(datetime(2026, 11, 1, 0, 0, tzinfo=NY).timestamp())
    busy = wl.cfs_hours_matrix([first], [first + 4 * 3600], [False], bins)  # 4 elapsed hours
    assert busy[0, 6] == 1 and busy[1, 6] == 2 and busy[2, 6] == 1 and np.nansum(busy) == 4
    assert np.isnan(busy[0, 0])  # Monday does not occur in the range: no figure, not zero
    # 8 Mar 2026 (Sunday) the clocks go forward at 02:00 EST: 00:00 to 04:00 local is 3 hours.
    bins = wl.local_hour_bins(datetime(2026, 3, 8).date(), datetime(2026, 3, 8).date(), NY)
    first = int(datetime(2026, 3, 8, 0, 0, tzinfo=NY).timestamp())
    last = int(datetime(2026, 3, 8, 4, 0, tzinfo=NY).timestamp())
    assert last - first == 3 * 3600
    busy = wl.cfs_hours_matrix([first], [last], [False], bins)
    assert [busy[h, 6] for h in range(5)] == [1, 1, 0, 1, 0]


def test_runs_above_70_percent_for_more_than_4_hours_are_found_across_the_week_end() -> None:
    pct = np.full((24, 7), 50.0)
    pct[10:15, 2] = 75  # Wednesday 10:00-14:59: 5 hours, flagged
    pct[18:22, 2] = 90  # Wednesday 18:00-21:59: 4 hours, not more than 4
    pct[22:24, 6] = 71  # Sunday 22:00 ... Monday 02:59: 5 hours across the week's end
    pct[0:3, 0] = 71
    cfs = pct.copy()
    w = wl.workload(cfs, np.full((24, 7), 100.0))
    flags = wl.flags(w)
    assert [(r.weekday, r.hour, r.hours) for r in flags.runs] == [(2, 10, 5), (6, 22, 5)]
    assert flags.runs[1].label() == "Sunday 22:00 to Monday 03:00 (5 h)"
    assert flags.long_run.sum() == 10 and flags.long_run[0, 0] and not flags.long_run[18, 2]
    labels = flags.labels()
    assert labels[12][2] == "long_run"  # 75% at a peak hour: within the 80% peak ceiling
    assert labels[3][3] == "ok"


def test_nobody_available_while_calls_take_time_is_over_100_and_both_zero_is_no_data() -> None:
    cfs, avail = np.zeros((24, 7)), np.full((24, 7), 10.0)
    cfs[5, 1], avail[5, 1] = 2.0, 0.0
    avail[6, 1] = 0.0
    w = wl.workload(cfs, avail)
    assert np.isinf(w.pct[5, 1]) and np.isnan(w.pct[6, 1])
    f = wl.flags(w)
    assert f.over_100[5, 1] and f.no_data[6, 1] and not f.over_100[6, 1]
    assert f.labels()[6][1] == "no_data"


def test_shift_minutes_below_a_ceiling_follow_the_hours_of_the_shift() -> None:
    pct = np.full((24, 7), 50.0)
    pct[8, 0] = 120.0  # Monday 08:00 is over capacity
    w = wl.workload(pct, np.full((24, 7), 100.0))
    bins = wl.local_hour_bins(datetime(2026, 2, 2).date(), datetime(2026, 2, 2).date(), NY)
    start = int(datetime(2026, 2, 2, 7, 30, tzinfo=NY).timestamp())
    hours = wl.shift_hours(w, bins, start, start + 3 * 3600)  # 07:30 to 10:30
    assert [(h.hour, round(h.pct)) for h in hours] == [(7, 50), (8, 120), (9, 50), (10, 50)]
    mask = wl.minutes_below(hours, start, start + 3 * 3600, 100.0)
    assert mask.size == 180 and mask[:30].all() and not mask[30:90].any() and mask[90:].all()
