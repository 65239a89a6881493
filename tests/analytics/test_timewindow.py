"""Weekly time windows: parsing and the mask, checked against hand-worked days and minutes."""

from __future__ import annotations

import numpy as np
import pytest

from backend.analytics.timewindow import TimeWindow, parse_window

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


def inside(window: str, day: int, minute: int) -> bool:
    return bool(parse_window(window).mask(np.array([day]), np.array([minute]))[0])


@pytest.mark.parametrize(
    ("day", "minute", "expected", "why"),
    [
        (FRI, hm(20), True, "starts Fri 20:00, start inclusive"),
        (FRI, hm(19, 59), False, "one minute before the start"),
        (FRI, hm(23, 59), True, "Fri evening"),
        (SAT, hm(1), True, "spill from Friday's window past midnight"),
        (SAT, hm(3, 59), True, "last minute of Friday's window"),
        (SAT, hm(4), False, "end exclusive"),
        (SAT, hm(12), False, "Saturday midday"),
        (SAT, hm(21), True, "Saturday's own window"),
        (SUN, hm(3), True, "spill from Saturday's window"),
        (SUN, hm(20, 30), False, "Sunday is not a start day"),
        (FRI, hm(2), False, "Thursday is not a start day, so no spill into Friday"),
        (MON, hm(1), False, "no spill from Sunday"),
    ],
)
def test_fri_sat_evening_window(day: int, minute: int, expected: bool, why: str) -> None:
    assert inside("Fri-Sat 20:00-04:00", day, minute) is expected, why


def test_parse_gives_start_days_and_minutes() -> None:
    assert parse_window("Fri-Sat 20:00-04:00") == TimeWindow((FRI, SAT), hm(20), hm(4))
    assert parse_window("Sat 22:00-02:00") == TimeWindow((SAT,), hm(22), hm(2))
    assert parse_window("20:00-04:00") == TimeWindow(tuple(range(7)), hm(20), hm(4))
    assert parse_window("Mon-Sun 00:00-24:00") == TimeWindow(tuple(range(7)), 0, 1440)
    assert parse_window("sat-mon 08:30-17:00") == TimeWindow((MON, SAT, SUN), hm(8, 30), hm(17))
    assert parse_window(" Mon, Wed-Fri  7:05 - 9:00 ") == TimeWindow(
        (MON, WED, THU, FRI), hm(7, 5), hm(9)
    )
    assert parse_window("Friday 20:00-04:00") == TimeWindow((FRI,), hm(20), hm(4))


def test_whole_week_window_covers_every_minute() -> None:
    days, minutes = np.meshgrid(np.arange(7), np.arange(1440), indexing="ij")
    assert parse_window("Mon-Sun 00:00-24:00").mask(days, minutes).all()


def test_every_day_overnight_window_has_eight_hours_a_day() -> None:
    days, minutes = np.meshgrid(np.arange(7), np.arange(1440), indexing="ij")
    mask = parse_window("20:00-04:00").mask(days, minutes)
    assert (mask.sum(axis=1) == 8 * 60).all()
    assert mask[MON, hm(2)] and mask[MON, hm(22)] and not mask[MON, hm(12)]


def test_single_day_window_spills_into_sunday_only() -> None:
    days, minutes = np.meshgrid(np.arange(7), np.arange(1440), indexing="ij")
    mask = parse_window("Sat 22:00-02:00").mask(days, minutes)
    assert mask.sum() == 4 * 60
    assert mask[SAT, hm(22) :].all() and mask[SUN, : hm(2)].all()
    assert not mask[SUN, hm(2)] and not mask[SAT, hm(21, 59)] and not mask[FRI, hm(23)]


def test_sunday_window_spills_into_monday() -> None:
    assert inside("Sun 23:00-01:00", MON, hm(0, 30))
    assert not inside("Sun 23:00-01:00", SUN, hm(0, 30))


def test_equal_start_and_end_is_a_full_day_ending_next_day() -> None:
    days, minutes = np.meshgrid(np.arange(7), np.arange(1440), indexing="ij")
    mask = parse_window("Wed 06:00-06:00").mask(days, minutes)
    assert mask.sum() == 1440
    assert mask[WED, hm(6)] and mask[THU, hm(5, 59)] and not mask[THU, hm(6)]


def test_mask_is_vectorized_and_keeps_shape() -> None:
    window = parse_window("Fri-Sat 20:00-04:00")
    wd = np.array([[FRI, SAT], [SUN, SUN]])
    mn = np.array([[hm(21), hm(1)], [hm(3), hm(20, 30)]])
    np.testing.assert_array_equal(window.mask(wd, mn), [[True, True], [True, False]])


def test_str_round_trips() -> None:
    window = parse_window("Fri-Sat 20:00-04:00")
    assert str(window) == "Fri,Sat 20:00-04:00"
    assert parse_window(str(window)) == window


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected '\\[DAYS\\] HH:MM-HH:MM'"),
        ("Fri-Sat", "expected"),
        ("Fri-Sat 20:00", "expected"),
        ("Fri-Sat 20:00-04:00 extra", "expected"),
        ("Fri-Sat 25:00-04:00", "hours must be 00-23"),
        ("Fri-Sat 20:60-04:00", "minutes must be 00-59"),
        ("24:00-04:00", "bad start time"),
        ("Fry-Sat 20:00-04:00", "unknown day 'Fry'"),
        ("Fri-Sat-Sun 20:00-04:00", "bad day range"),
        ("Fri,,Sat 20:00-04:00", "empty day"),
    ],
)
def test_parse_rejects_bad_text_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(text)


@pytest.mark.parametrize(("weekday", "minute"), [(7, 0), (-1, 0), (0, 1440), (0, -5)])
def test_mask_rejects_out_of_range_inputs(weekday: int, minute: int) -> None:
    with pytest.raises(ValueError, match="must be in"):
        parse_window("20:00-04:00").mask(np.array([weekday]), np.array([minute]))


def test_mask_rejects_float_inputs() -> None:
    with pytest.raises(ValueError, match="integer"):
        parse_window("20:00-04:00").mask(np.array([1.0]), np.array([30]))
