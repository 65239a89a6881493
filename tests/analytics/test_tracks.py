"""Track analytics: hand-worked tracks, scalar references, a real bus track and movingpandas.

Coordinates in the hand-worked tests are metres in a local plane; the hot spot is the square
(0, 0)-(200, 200) unless a test says otherwise. Times are seconds (the epoch origin does not
matter to the rules). Expected numbers are worked out in the comments.
"""

from __future__ import annotations

import csv
import itertools
import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from backend.analytics.projection import LocalProjection
from backend.analytics.tracks import (
    MODE_NAMES,
    TrackParams,
    analyze_tracks,
    build_hotspot_index,
    clean,
    fix_speeds,
    gaps,
    koper_compliant,
    officer_minutes,
    patrol_minutes,
    stops,
    visit_modes,
    visits,
)
from backend.patrols.trackfiles import read_gpx
from tests.conftest import TEST_DATA

SQUARE = box(0, 0, 200, 200)
BIG = box(0, 0, 1000, 200)  # a long hot spot, for driving tests
P = TrackParams()
Fix = tuple[float, float, float]  # (t s, x m, y m)


def track(*pieces: list[Fix]) -> tuple[np.ndarray, ...]:
    """(track_id, t, x, y) of one track from lists of (t, x, y) fixes."""
    fixes = [f for piece in pieces for f in piece]
    t, x, y = (np.array(c, dtype=float) for c in zip(*fixes, strict=True))
    return np.zeros(t.size, dtype=np.int64), t, x, y


def still(
    t0: float, t1: float, step: float, x: float, y: float
) -> list[tuple[float, float, float]]:
    """Fixes every ``step`` s from t0 to t1 inclusive at one place."""
    return [(t, x, y) for t in np.arange(t0, t1 + step / 2, step)]


def analyze(tr, t, x, y, polygons=(SQUARE,), params=P, **kw):
    return analyze_tracks(tr, t, x, y, build_hotspot_index(list(polygons)), params=params, **kw)


# --- hand-worked visits ---------------------------------------------------------------------


def test_a_15_minute_dwell_with_a_90_s_gap_is_one_visit_counting_the_gap_as_dwell() -> None:
    # Outside at -10 and -5 s, inside every 5 s from 0 to 900 s except (400, 490): the 90 s
    # interval is within the 120 s tolerance, so it is dwell (and reported in gaps_s, being
    # longer than a 60 s excursion), not a device gap. Dwell = 900 - 0.
    tr, t, x, y = track(
        [(-10, -100, 100), (-5, -50, 100)],
        still(0, 400, 5, 100, 100),
        still(490, 900, 5, 100, 100),
        [(905, 300, 100)],
    )
    a = analyze(tr, t, x, y)
    v = a.visits
    assert len(v) == 1
    assert (v.entered_at[0], v.exited_at[0]) == (0.0, 900.0)
    assert v.dwell_s[0] == 900.0
    assert v.gaps_s[0] == 90.0
    assert a.gaps.start.size == 0
    # Standing still the whole time: one stop of 900 s covering the visit -> stationary.
    assert a.stops.duration_s.tolist() == [900.0]
    assert a.modes.stopped_s[0] == 900.0
    assert a.modes.names == ["stationary"]
    assert a.koper_compliant.tolist() == [True]


def test_an_excursion_of_40_s_keeps_one_visit_and_is_not_dwell() -> None:
    # Inside 0..300 s, outside (250 m east, 50 m beyond the edge) 305..335 s, inside again
    # 340..700 s. Last inside 300, next inside 340: 40 s <= 60 s, so one visit; the two
    # intervals touching the excursion (300->305 ... 335->340) are 40 s not present.
    tr, t, x, y = track(
        still(0, 300, 5, 100, 100), still(305, 335, 5, 250, 100), still(340, 700, 5, 100, 100)
    )
    v = analyze(tr, t, x, y).visits
    assert len(v) == 1
    assert (v.entered_at[0], v.exited_at[0], v.dwell_s[0]) == (0.0, 700.0, 660.0)
    assert v.gaps_s[0] == 0.0
    assert v.span_start.tolist() == [0.0, 340.0]
    assert v.span_end.tolist() == [300.0, 700.0]


def test_an_excursion_of_65_s_splits_the_visit() -> None:
    tr, t, x, y = track(
        still(0, 300, 5, 100, 100), still(305, 360, 5, 250, 100), still(365, 700, 5, 100, 100)
    )
    v = analyze(tr, t, x, y).visits
    assert list(zip(v.entered_at, v.exited_at, v.dwell_s, strict=True)) == [
        (0.0, 300.0, 300.0),
        (365.0, 700.0, 335.0),
    ]


@pytest.mark.parametrize(("back_at", "n_visits"), [(360, 1), (361, 2)])
def test_an_excursion_of_exactly_60_s_is_tolerated_and_61_s_is_not(
    back_at: int, n_visits: int
) -> None:
    # Last inside fix at 300 s, outside 305..355 s, first inside again at 360 or 361 s.
    tr, t, x, y = track(
        still(0, 300, 5, 100, 100),
        still(305, 355, 5, 250, 100),
        still(back_at, back_at + 300, 5, 100, 100),
    )
    assert len(analyze(tr, t, x, y).visits) == n_visits


@pytest.mark.parametrize(("gap", "n_visits", "n_gaps"), [(120, 1, 0), (121, 2, 1)])
def test_a_gap_of_exactly_120_s_is_tolerated_and_121_s_is_a_device_gap(
    gap: int, n_visits: int, n_gaps: int
) -> None:
    tr, t, x, y = track(still(0, 300, 5, 100, 100), still(300 + gap, 700, 5, 100, 100))
    a = analyze(tr, t, x, y)
    assert (len(a.visits), a.gaps.start.size) == (n_visits, n_gaps)
    if n_visits == 1:
        assert (a.visits.dwell_s[0], a.visits.gaps_s[0]) == (700.0, 120.0)


@pytest.mark.parametrize(("parked_until", "mode"), [(480, "stationary"), (475, "foot")])
def test_a_visit_stopped_for_80_percent_of_its_dwell_is_stationary(
    parked_until: int, mode: str
) -> None:
    # Parked at x = 100 until 480 s (or 475 s), then driving 40 m per 5 s along a 2 km hot
    # spot until 600 s: dwell 600 s, stopped 480 s = 80% (or 475 s = 79.2%). Otherwise the
    # median speed is that of the parked fixes, 0 m/s: foot.
    drive = [(t, 100 + 8 * (t - parked_until), 100) for t in range(parked_until + 5, 601, 5)]
    tr, t, x, y = track(still(0, parked_until, 5, 100, 100), drive)
    a = analyze(tr, t, x, y, polygons=(box(0, 0, 2000, 200),))
    assert a.visits.dwell_s.tolist() == [600.0]
    assert a.modes.stopped_s.tolist() == [float(parked_until)]
    assert a.modes.names == [mode]


def test_a_3_minute_gap_makes_two_visits_and_a_device_gap() -> None:
    # Inside 0..400 s and 580..1000 s with nothing between: 180 s > 120 s tolerance.
    tr, t, x, y = track(still(0, 400, 5, 100, 100), still(580, 1000, 5, 100, 100))
    a = analyze(tr, t, x, y)
    v = a.visits
    assert list(zip(v.entered_at, v.exited_at, v.dwell_s, strict=True)) == [
        (0.0, 400.0, 400.0),
        (580.0, 1000.0, 420.0),
    ]
    assert v.gaps_s.tolist() == [0.0, 0.0]
    assert list(zip(a.gaps.start, a.gaps.end, strict=True)) == [(400.0, 580.0)]
    # Stops never cross the device gap either: one stop each side.
    assert list(zip(a.stops.start, a.stops.end, strict=True)) == [(0.0, 400.0), (580.0, 1000.0)]


def test_driving_through_a_150_to_450_m_hot_spot_at_10_mps_is_too_short_to_be_a_visit() -> None:
    # 200 m at 10 m/s: inside fixes 21..39 s (x = 10..190), 18 s of dwell < 60 s.
    tr, t, x, y = track([(s, -200 + 10 * s, 100) for s in range(0, 61)])
    assert len(analyze(tr, t, x, y).visits) == 0


def test_a_drive_through_a_1_km_hot_spot_at_10_mps_is_a_vehicle_visit_and_not_stopped() -> None:
    # x = -200 + 10 t, fixes every second: inside (0 < x < 1000) for t = 21..119 s.
    tr, t, x, y = track([(s, -200 + 10 * s, 100) for s in range(0, 141)])
    a = analyze(tr, t, x, y, polygons=(BIG,))
    v = a.visits
    assert (v.entered_at[0], v.exited_at[0], v.dwell_s[0]) == (21.0, 119.0, 98.0)
    assert a.modes.median_speed_mps[0] == pytest.approx(10.0)
    assert a.modes.names == ["vehicle"]
    assert a.modes.stopped_s[0] == 0.0
    assert a.stops.first.size == 0


def test_driving_in_then_walking_half_and_half_is_mixed() -> None:
    # Fixes every 5 s along y = 100 in the 1 km hot spot: 12 intervals driving at 8 m/s
    # (40 m), then 13 walking at 1.4 m/s (7 m). Derived speeds (central differences): the
    # first 12 fixes 8 m/s, the fix where driving turns to walking (40 + 7) / 10 = 4.7 m/s,
    # the 13 walking fixes 1.4 m/s. 26 fixes: the middle two are 1.4 and 4.7 -> median
    # 3.05 m/s, between 2 and 4: mixed. Walking 7 m per 5 s never stays within 30 m for
    # 120 s, so there is no stop.
    xs = [100 + 40 * k for k in range(13)] + [100 + 480 + 7 * k for k in range(1, 14)]
    tr, t, x, y = track([(5 * k, xk, 100) for k, xk in enumerate(xs)])
    a = analyze(tr, t, x, y, polygons=(BIG,))
    assert a.modes.median_speed_mps[0] == pytest.approx(3.05)
    assert a.modes.names == ["mixed"]
    assert a.modes.stopped_s[0] == 0.0
    assert a.visits.dwell_s[0] == 125.0


def test_walking_is_foot_and_device_speed_wins_over_derived_speed() -> None:
    tr, t, x, y = track([(5 * k, 20 + 1.4 * 5 * k, 100) for k in range(25)])  # 1.4 m/s
    a = analyze(tr, t, x, y)
    assert a.modes.names == ["foot"]
    assert a.modes.median_speed_mps[0] == pytest.approx(1.4)
    # The phone says 5 m/s at every fix: device speed is used where it is given.
    a = analyze(tr, t, x, y, speed_mps=np.full(t.size, 5.0))
    assert a.modes.names == ["vehicle"]
    half = np.where(np.arange(t.size) % 2 == 0, 5.0, np.nan)  # 13 x 5.0 and 12 x 1.4
    assert analyze(tr, t, x, y, speed_mps=half).modes.median_speed_mps[0] == 5.0


def test_accuracy_outliers_and_jumps_over_60_mps_are_dropped() -> None:
    # Dwell at (100, 100) every 5 s from 0 to 600 s. Fix 10 (t = 50) reports 80 m accuracy
    # and sits 2 km away; fixes 20-21 (t = 100, 105) jump 1 km (200 m/s) with a good
    # accuracy; fix 30 has no accuracy reported (NaN: kept).
    tr, t, x, y = track(still(0, 600, 5, 100, 100))
    acc = np.full(t.size, 8.0)
    acc[10], acc[30] = 80.0, np.nan
    x[10] = 2100.0
    x[20:22] = 1100.0
    ok = clean(tr, t, x, y, acc)
    assert np.flatnonzero(~ok).tolist() == [10, 20, 21]
    a = analyze(tr, t, x, y, accuracy_m=acc)
    assert a.kept.size == t.size - 3
    assert (len(a.visits), a.visits.dwell_s[0]) == (1, 600.0)
    # Without cleaning the three bad fixes are excursions: 5+5 + 5+5+5 s of lost dwell.
    raw = visits(tr, t, x, y, build_hotspot_index([SQUARE]))
    assert raw.dwell_s.tolist() == [575.0]


def test_the_jump_filter_measures_from_the_last_kept_fix() -> None:
    # A fix 500 m away (100 m/s from fix 0) is dropped; the next fix is back home and is
    # compared with fix 0, not with the dropped fix (which would also be 100 m/s).
    tr, t, x, y = track([(0, 0, 0), (5, 500, 0), (10, 0, 0), (15, 10, 0)])
    assert clean(tr, t, x, y).tolist() == [True, False, True, True]
    # Two tracks: a jump between the last fix of one track and the first of the next is not
    # a jump at all.
    tr2 = np.array([0, 0, 1, 1])
    assert clean(tr2, np.array([0.0, 5, 0, 5]), np.array([0.0, 1, 9000, 9001]), np.zeros(4)).all()


@pytest.mark.parametrize(
    ("dwell", "compliant"), [(599.0, False), (600.0, True), (960.0, True), (961.0, False)]
)
def test_koper_compliance_is_10_to_16_minutes_inclusive(dwell: float, compliant: bool) -> None:
    assert koper_compliant(np.array([dwell])).tolist() == [compliant]
    tr, t, x, y = track(still(0, dwell, 1, 100, 100))
    a = analyze(tr, t, x, y)
    assert a.visits.dwell_s.tolist() == [dwell]
    assert a.koper_compliant.tolist() == [compliant]


def test_a_visit_shorter_than_60_s_is_not_kept() -> None:
    tr, t, x, y = track(still(0, 59, 1, 100, 100))
    assert len(analyze(tr, t, x, y).visits) == 0
    tr, t, x, y = track(still(0, 60, 1, 100, 100))
    assert analyze(tr, t, x, y).visits.dwell_s.tolist() == [60.0]


def test_officer_minutes_sum_officers_and_patrol_minutes_count_time_with_anyone_present() -> None:
    # Officer 0 in the square 0..600 s, officer 1 300..900 s: overlapping 300..600 s.
    t0, x0, y0 = np.arange(0, 601, 5.0), np.full(121, 100.0), np.full(121, 100.0)
    t1 = np.arange(300, 901, 5.0)
    tr = np.r_[np.zeros(121, np.int64), np.ones(121, np.int64)]
    a = analyze(tr, np.r_[t0, t1], np.r_[x0, x0], np.r_[y0, y0])
    assert a.officer_minutes.tolist() == [20.0]  # 10 + 10
    assert a.patrol_minutes.tolist() == [15.0]  # 0..900 s
    # Clipped to one window (e.g. a day), 500..700 s: 100 + 200 s and 200 s.
    assert officer_minutes(a.visits, 1, 500, 700).tolist() == [5.0]
    assert patrol_minutes(a.visits, 1, 500, 700).tolist() == [pytest.approx(200 / 60)]


@pytest.mark.parametrize("polygons", [[], [SQUARE]])
def test_no_fixes_one_fix_and_no_hot_spots_give_empty_results(polygons: list[Polygon]) -> None:
    index = build_hotspot_index(polygons)
    none = np.zeros(0)
    a = analyze_tracks(np.zeros(0, np.int64), none, none, none, index)
    assert (len(a.visits), a.stops.first.size, a.gaps.start.size) == (0, 0, 0)
    assert a.officer_minutes.tolist() == a.patrol_minutes.tolist() == [0.0] * len(polygons)
    a = analyze_tracks(np.zeros(1, np.int64), [0.0], [100.0], [100.0], index)
    assert (len(a.visits), a.stops.first.size, a.kept.tolist()) == (0, 0, [0])
    assert np.isnan(a.speed_mps).all()


def test_fixes_must_be_sorted_by_track_then_time() -> None:
    with pytest.raises(ValueError, match="sorted"):
        gaps(np.array([0, 0]), np.array([5.0, 0.0]))
    with pytest.raises(ValueError, match="sorted"):
        gaps(np.array([1, 0]), np.array([0.0, 5.0]))
    with pytest.raises(ValueError, match="stop_method"):
        TrackParams(stop_method="radius")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_visit_s"):
        TrackParams(min_visit_s=0)


# --- scalar references and properties --------------------------------------------------------


def visits_reference(tr, t, x, y, polygons, p):
    """DESIGN.md's visit rule, one fix at a time: (track, hot spot, first, last, dwell, gaps)."""
    out = []
    for k, poly in enumerate(polygons):
        inside = shapely.contains_xy(poly, x, y)
        for track_id in np.unique(tr):
            chains: list[list[int]] = []
            for i in np.flatnonzero((tr == track_id) & inside).tolist():
                if chains:
                    prev = chains[-1][-1]
                    dt = t[i] - t[prev]
                    if (i == prev + 1 and dt <= p.gap_s) or (
                        i > prev + 1 and dt <= p.max_excursion_s
                    ):
                        chains[-1].append(i)
                        continue
                chains.append([i])
            for ch in chains:
                steps = [(a, b) for a, b in itertools.pairwise(ch) if b == a + 1]
                dwell = sum(t[b] - t[a] for a, b in steps)
                gap = sum(t[b] - t[a] for a, b in steps if t[b] - t[a] > p.max_excursion_s)
                if dwell >= p.min_visit_s:
                    out.append((int(track_id), k, ch[0], ch[-1], dwell, gap))
    return sorted(out, key=lambda v: (v[0], t[v[2]], v[1]))


def li_reference(tr, t, x, y, p):
    """Li et al.'s stay points, one fix at a time: (first, last) of each stop."""
    out, i, n = [], 0, len(t)
    d2 = p.stop_distance_m**2
    while i < n:
        j, last = i + 1, i
        while (
            j < n
            and tr[j] == tr[i]
            and t[j] - t[j - 1] <= p.gap_s
            and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= d2
        ):
            last, j = j, j + 1
        if t[last] - t[i] >= p.min_stop_s:
            out.append((i, last))
            i = last + 1
        else:
            i += 1
    return out


def window_reference(tr, t, x, y, p):
    """movingpandas' TrajectoryStopDetector loop (box diagonal for its rectangle), per run."""
    out, n, d2 = [], len(t), p.stop_distance_m**2
    bounds = [0] + [k for k in range(1, n) if tr[k] != tr[k - 1] or t[k] - t[k - 1] > p.gap_s]
    for a, b in zip(bounds, [*bounds[1:], n], strict=True):
        w: list[int] = []
        stopped = False
        for j in range(a, b):
            was = stopped
            w.append(j)
            if not stopped:
                while len(w) > 2 and t[w[-1]] - t[w[0]] >= p.min_stop_s:
                    w.pop(0)
            xs, ys = x[w], y[w]
            stopped = len(w) > 1 and (xs.max() - xs.min()) ** 2 + (ys.max() - ys.min()) ** 2 <= d2
            if not stopped and was and t[w[-2]] - t[w[0]] >= p.min_stop_s:
                out.append((w[0], w[-2]))
                w = [w[-1]]
        if stopped and t[w[-1]] - t[w[0]] >= p.min_stop_s:
            out.append((w[0], w[-1]))
    return out


@st.composite
def random_tracks(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    """1-3 tracks of up to 60 fixes: integer seconds and metres (no float ties at limits),
    intervals from 0 s to 200 s, steps from standing still to driving, around the square."""
    n = draw(st.integers(1, 80))
    tr = np.sort(np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))))
    dts = draw(
        st.lists(st.sampled_from([0, 1, 5, 5, 10, 30, 61, 90, 121, 200]), min_size=n, max_size=n)
    )
    steps = draw(st.lists(st.sampled_from([0, 0, 3, 7, 20, 60]), min_size=n, max_size=n))
    dirs = draw(st.lists(st.integers(0, 7), min_size=n, max_size=n))
    t = np.zeros(n)
    x = np.zeros(n)
    y = np.zeros(n)
    x[0], y[0] = draw(st.integers(-60, 260)), draw(st.integers(-60, 260))
    for k in range(1, n):
        if tr[k] != tr[k - 1]:
            t[k], x[k], y[k] = 0, draw(st.integers(-60, 260)), draw(st.integers(-60, 260))
            continue
        ang = dirs[k] * math.pi / 4
        t[k] = t[k - 1] + dts[k]
        x[k] = x[k - 1] + round(steps[k] * math.cos(ang))
        y[k] = y[k - 1] + round(steps[k] * math.sin(ang))
    return tr, t, x, y


POLYGONS = [
    box(0, 0, 200, 200),
    box(200, 0, 260, 80),  # touches the square
    box(150, 150, 320, 320),  # overlaps it
    Polygon([(-50, 100), (0, 260), (-120, 300)]),  # slanted edges
    box(-60, -60, 60, 60).difference(box(-20, -20, 20, 20)),  # a hole
]
PARAMS = [
    P,
    replace(P, min_visit_s=10, max_excursion_s=20, gap_s=60, min_stop_s=30, stop_distance_m=12.5),
]


def random_batch(seed: int, n_tracks: int) -> tuple[np.ndarray, ...]:
    """Many random tracks in one set of arrays: intervals that hit the 5/60/120 s limits
    exactly, continuous positions (no distance ties), standing, walking and driving."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 70, n_tracks)
    n = int(sizes.sum())
    tr = np.repeat(np.arange(n_tracks), sizes)
    first = np.r_[True, tr[1:] != tr[:-1]]
    dt = rng.choice([0, 1, 1, 2, 5, 5, 10, 20, 30, 40, 60, 61, 120, 121, 300], n)
    t = np.cumsum(np.where(first, 0, dt)).astype(float)
    t -= np.repeat(t[first], sizes)
    speed = rng.choice([0.0, 0.3, 1.4, 4.0, 12.0], n_tracks)[tr]  # each track's usual speed
    mode_change = rng.random(n) < 0.1
    speed = np.where(mode_change, rng.choice([0.0, 1.4, 12.0], n), speed)
    ang = rng.uniform(0, 2 * np.pi, n)
    step = np.where(first, 0.0, speed * np.minimum(dt, 30) + rng.normal(0, 2.0, n))
    x = np.cumsum(step * np.cos(ang))
    y = np.cumsum(step * np.sin(ang))
    x = x - np.repeat(x[first], sizes) + np.repeat(rng.uniform(-60, 260, n_tracks), sizes)
    y = y - np.repeat(y[first], sizes) + np.repeat(rng.uniform(-60, 260, n_tracks), sizes)
    return tr, t, x, y


@pytest.mark.parametrize(
    "p", PARAMS_BATCH := [P, replace(P, min_stop_s=15.0, stop_distance_m=15.0)]
)
def test_2000_random_tracks_at_once_match_the_one_fix_at_a_time_rules(p: TrackParams) -> None:
    tr, t, x, y = random_batch(20240601, 2000)
    for method, reference in (("anchor", li_reference), ("window", window_reference)):
        q = replace(p, stop_method=method)
        s = stops(tr, t, x, y, q)
        found = list(zip(s.first.tolist(), s.last.tolist(), strict=True))
        want = reference(tr, t, x, y, q)
        assert len(want) > 500
        assert found == want
    v = visits(tr, t, x, y, build_hotspot_index(POLYGONS), p)
    want_v = visits_reference(tr, t, x, y, POLYGONS, p)
    assert len(want_v) > 200
    got = zip(v.track.tolist(), v.hotspot.tolist(), v.first.tolist(), v.last.tolist(), strict=True)
    assert list(got) == [w[:4] for w in want_v]
    np.testing.assert_allclose(v.dwell_s, [w[4] for w in want_v])
    np.testing.assert_allclose(v.gaps_s, [w[5] for w in want_v])
    assert np.count_nonzero(v.gaps_s) > 20


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_tracks(), st.sampled_from(PARAMS))
def test_visits_match_the_one_fix_at_a_time_rule_and_never_overlap(data, p) -> None:
    tr, t, x, y = data
    v = visits(tr, t, x, y, build_hotspot_index(POLYGONS, cell_m=7.0), p)
    got = list(
        zip(v.track.tolist(), v.hotspot.tolist(), v.first.tolist(), v.last.tolist(), strict=True)
    )
    want = visits_reference(tr, t, x, y, POLYGONS, p)
    assert got == [w[:4] for w in want]
    np.testing.assert_allclose(v.dwell_s, [w[4] for w in want])
    np.testing.assert_allclose(v.gaps_s, [w[5] for w in want])
    # Properties: within the track's time span, dwell <= exited - entered, no overlap in time
    # for one track and hot spot, spans partition the dwell.
    for i in range(len(v)):
        mine = t[tr == v.track[i]]
        assert mine.min() <= v.entered_at[i] <= v.exited_at[i] <= mine.max()
        assert p.min_visit_s <= v.dwell_s[i] <= v.exited_at[i] - v.entered_at[i]
        assert 0 <= v.gaps_s[i] <= v.dwell_s[i]
        spans = v.span_visit == i
        assert np.sum(v.span_end[spans] - v.span_start[spans]) == pytest.approx(v.dwell_s[i])
    for key in set(zip(v.track.tolist(), v.hotspot.tolist(), strict=True)):
        same = (v.track == key[0]) & (v.hotspot == key[1])
        assert np.all(v.entered_at[same][1:] > v.exited_at[same][:-1])
    om, pm = officer_minutes(v, len(POLYGONS)), patrol_minutes(v, len(POLYGONS))
    assert np.all(pm <= om + 1e-9)


@settings(max_examples=300, deadline=None)
@given(random_tracks(), st.sampled_from(PARAMS), st.sampled_from(["anchor", "window"]))
def test_stops_match_the_one_fix_at_a_time_algorithms(data, p, method) -> None:
    tr, t, x, y = data
    p = replace(p, stop_method=method)
    s = stops(tr, t, x, y, p)
    reference = li_reference if method == "anchor" else window_reference
    assert list(zip(s.first.tolist(), s.last.tolist(), strict=True)) == reference(tr, t, x, y, p)
    assert np.all(s.duration_s >= p.min_stop_s)
    for i in range(s.first.size):
        sel = slice(s.first[i], s.last[i] + 1)
        assert (s.x[i], s.y[i]) == pytest.approx((x[sel].mean(), y[sel].mean()))


@settings(max_examples=150, deadline=None)
@given(random_tracks(), st.sampled_from(PARAMS))
def test_stopped_time_and_modes_agree_with_a_direct_computation(data, p) -> None:
    tr, t, x, y = data
    s = stops(tr, t, x, y, p)
    v = visits(tr, t, x, y, build_hotspot_index(POLYGONS), p)
    speed = fix_speeds(tr, t, x, y, params=p)
    m = visit_modes(v, s, t, speed, p)
    in_stop = np.zeros(t.size, dtype=bool)  # interval k -> k+1 lies in a stop
    for a, b in zip(s.first, s.last, strict=True):
        in_stop[a:b] = True
    for i in range(len(v)):
        fixes = np.concatenate(
            [
                np.arange(a, b + 1)
                for a, b in zip(
                    v.span_first[v.span_visit == i], v.span_last[v.span_visit == i], strict=True
                )
            ]
        )
        stopped = sum(t[k + 1] - t[k] for k in fixes[:-1] if k + 1 in fixes and in_stop[k])
        assert m.stopped_s[i] == pytest.approx(stopped)
        median = float(np.nanmedian(speed[fixes]))
        assert m.median_speed_mps[i] == pytest.approx(median)
        expected = (
            "stationary"
            if stopped > 0 and stopped >= p.stationary_share * v.dwell_s[i]
            else "foot"
            if median <= p.foot_max_mps
            else "vehicle"
            if median >= p.vehicle_min_mps
            else "mixed"
        )
        assert MODE_NAMES[m.mode[i]] == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-80, 340), st.floats(-80, 340)), min_size=1, max_size=200),
    st.sampled_from([1.0, 5.0, 7.3, 40.0]),
)
def test_the_raster_index_is_exactly_shapely_contains_xy(points, cell_m) -> None:
    # Add every vertex and edge midpoint of every polygon: the hardest cases.
    edge_pts = []
    for poly in POLYGONS:
        c = shapely.get_coordinates(poly.boundary)
        edge_pts += [*map(tuple, c), *map(tuple, (c[1:] + c[:-1]) / 2)]
    xy = np.array(points + edge_pts)
    fix, hot = build_hotspot_index(POLYGONS, cell_m=cell_m).locate(xy[:, 0], xy[:, 1])
    want = sorted(
        (i, k)
        for k, poly in enumerate(POLYGONS)
        for i in np.flatnonzero(shapely.contains_xy(poly, xy[:, 0], xy[:, 1])).tolist()
    )
    assert list(zip(fix.tolist(), hot.tolist(), strict=True)) == want


def test_speeds_use_the_neighbours_within_a_run() -> None:
    # Fixes at 0, 10, 20 m, then a 200 s device gap, then two fixes 50 m apart in 10 s, then a
    # lone fix after another gap: central 20/20 = 1 in the middle, one-sided at run ends,
    # NaN for the lone fix (no neighbour in its run).
    tr = np.zeros(6, np.int64)
    t = np.array([0.0, 10, 20, 220, 230, 500])
    x = np.array([0.0, 10, 20, 100, 150, 0])
    sp = fix_speeds(tr, t, x, np.zeros(6))
    np.testing.assert_allclose(sp[:5], [1.0, 1.0, 1.0, 5.0, 5.0])
    assert math.isnan(sp[5])


# --- a real bus track -----------------------------------------------------------------------

BUS_GPX = TEST_DATA / "gps" / "limerick_bus_304_2019-02-18.gpx"
BUS_STOPS = TEST_DATA / "gps" / "limerick_bus_304_stops.csv"
# A bus dwells 15-60 s at a stop: the production rule (TrackParams' default stop_method) with a
# 15 s minimum and a 15 m box diagonal, movingpandas' max_diameter in the comparison below.
BUS_PARAMS = replace(P, min_stop_s=15.0, stop_distance_m=15.0)
assert BUS_PARAMS.stop_method == TrackParams().stop_method == "window"  # the product's rule


def bus() -> tuple[np.ndarray, ...]:
    tf = read_gpx(BUS_GPX)
    proj = LocalProjection(float(tf.lat[0]), float(tf.lon[0]))
    x, y = proj.to_xy(tf.lat, tf.lon)
    return np.zeros(len(tf), np.int64), tf.t, x, y, proj


def recall_precision(proj: LocalProjection, sx: np.ndarray, sy: np.ndarray) -> tuple[float, float]:
    """Recall (share of the 36 true bus stops with a found stop within 30 m) and precision
    (share of found stops within 30 m of a true bus stop), positions ``sx, sy`` in metres."""
    with BUS_STOPS.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 36
    tx, ty = proj.to_xy([float(r["lat"]) for r in rows], [float(r["lon"]) for r in rows])
    d = np.hypot(sx[:, None] - tx[None, :], sy[:, None] - ty[None, :])  # (found, true) m
    return float(np.mean(d.min(axis=0) <= 30.0)), float(np.mean(d.min(axis=1) <= 30.0))


def test_bus_stops_are_found_near_the_route_s_real_bus_stops() -> None:
    tr, t, x, y, proj = bus()
    assert t.size == 2144
    s = stops(tr, t, x, y, BUS_PARAMS)  # the production rule
    recall, precision = recall_precision(proj, s.x, s.y)
    print(f"\nbus 304: {s.first.size} stops found; recall {recall:.2f}, precision {precision:.2f}")
    # Measured 24/36 = 0.67 and 25/35 = 0.71 (bench/stops.py prints them beside movingpandas'
    # 0.72 and 0.75 on the same track). A bus does not stop at every stop of its route (no one
    # waiting), and not everything it stops at is a bus stop (traffic lights, the terminus).
    assert recall >= 24 / 36
    assert precision >= 0.7


def test_the_moving_parts_of_the_bus_route_are_vehicle_speed() -> None:
    tr, t, x, y, _ = bus()
    s = stops(tr, t, x, y, BUS_PARAMS)
    speed = fix_speeds(tr, t, x, y, params=BUS_PARAMS)
    moving = np.ones(t.size, dtype=bool)
    for a, b in zip(s.first, s.last, strict=True):
        moving[a : b + 1] = False
    assert float(np.nanmedian(speed[moving])) >= BUS_PARAMS.vehicle_min_mps
    # Segment by segment between stops: the median speed of most is vehicle speed.
    cuts = np.r_[0, s.last + 1]
    ends = np.r_[s.first, t.size]
    medians = [np.nanmedian(speed[a:b]) for a, b in zip(cuts, ends, strict=True) if b - a >= 5]
    assert np.mean(np.array(medians) >= BUS_PARAMS.vehicle_min_mps) >= 0.8


def interval_iou(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Total duration of the intersection of two sets of intervals over that of their union."""

    def union(iv: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for s, e in sorted(iv):
            if out and s <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        return out

    ua, ub = union(a), union(b)
    inter = sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in ua for s2, e2 in ub)
    total = sum(e - s for s, e in union(a + b))
    return inter / total


def test_the_production_stop_rule_agrees_with_movingpandas_on_the_bus_track() -> None:
    from datetime import timedelta

    import geopandas as gpd
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optional-dependency notices on import
        import movingpandas as mpd

    tf = read_gpx(BUS_GPX)
    gdf = gpd.GeoDataFrame(
        {"geometry": gpd.points_from_xy(tf.lon, tf.lat)},
        index=pd.to_datetime(tf.t, unit="s"),
        crs="EPSG:4326",  # movingpandas measures geodesic metres itself
    )
    ranges = mpd.TrajectoryStopDetector(mpd.Trajectory(gdf, 1)).get_stop_time_ranges(
        max_diameter=15.0, min_duration=timedelta(seconds=15)
    )
    epoch = pd.Timestamp(0)
    theirs = [((r.t_0 - epoch).total_seconds(), (r.t_n - epoch).total_seconds()) for r in ranges]
    tr, t, x, y, _ = bus()
    # movingpandas has no device-gap rule, so for this comparison neither do we. The rule is
    # the production one (TrackParams' default stop_method), not named here.
    p = replace(BUS_PARAMS, gap_s=math.inf)
    s = stops(tr, t, x, y, p)
    iou = interval_iou(list(zip(s.start, s.end, strict=True)), theirs)
    li = stops(tr, t, x, y, replace(p, stop_method="anchor"))
    li_iou = interval_iou(list(zip(li.start, li.end, strict=True)), theirs)
    print(
        f"\nmovingpandas {len(theirs)} stops, ours {s.first.size}: time IoU {iou:.3f} "
        f"(production rule, {p.stop_method}), {li_iou:.3f} (Li anchor rule)"
    )
    assert iou >= 0.8  # the bar the tracking work set; measured 0.93
    assert abs(s.first.size - len(theirs)) <= 3
