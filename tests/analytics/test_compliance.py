"""Compliance arithmetic on hand-worked visits; the interval union against a brute-force merge."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics.compliance import (
    ARM_CONTROL,
    ARM_NONE,
    ARM_TREATED,
    compliance_table,
    covered_seconds,
    streak_days,
)

T, C, N = ARM_TREATED, ARM_CONTROL, ARM_NONE


def _table(visits: list[tuple], gaps: list[tuple] = (), rx: list[tuple] = (), n: int = 2):
    # visit: (group, hotspot, start, end, dwell, koper, avl, arm)
    cols = list(zip(*visits, strict=True)) if visits else [[]] * 8
    pv = np.zeros(n)
    pm = np.zeros(n)
    for g, v, m in rx:
        pv[g], pm[g] = v, m
    return compliance_table(
        n_groups=n,
        visit_group=np.asarray(cols[0], dtype=np.int64),
        visit_hotspot=np.asarray(cols[1], dtype=np.int64),
        visit_start_s=np.asarray(cols[2], dtype=float),
        visit_end_s=np.asarray(cols[3], dtype=float),
        visit_dwell_s=np.asarray(cols[4], dtype=float),
        visit_koper=np.asarray(cols[5], dtype=bool),
        visit_avl=np.asarray(cols[6], dtype=bool),
        visit_arm=np.asarray(cols[7], dtype=np.int64),
        gap_group=np.asarray([g for g, _ in gaps], dtype=np.int64),
        gap_s=np.asarray([s for _, s in gaps], dtype=float),
        prescribed_visits=pv,
        prescribed_minutes=pm,
    )


def test_two_officers_at_once_count_twice_as_labour_and_once_as_dose() -> None:
    # Hot spot A (group 0, treated), worked by hand:
    #   officer 1: 0-900 s (15 min, Koper); officer 2: 600-1500 s (15 min, Koper), overlapping
    #   300 s; officer 1 again 5000-5120 s (a 2-minute drive-by); a car's AVL 200-400 s.
    #   officer-minutes = (900 + 900 + 120) / 60 = 32; with at least one officer present:
    #   0-1500 s and 5000-5120 s = 1620 s = 27 minutes; AVL 200 s = 3.33 min.
    # Hot spot B (group 1, control): officer 3 100-700 s, a car 600-1000 s:
    #   contamination = 100-1000 s = 15 min; officer-minutes 10; no dose delivered.
    t = _table(
        [
            (0, 1, 0, 900, 900, True, False, T),
            (0, 1, 600, 1500, 900, True, False, T),
            (0, 1, 5000, 5120, 120, False, False, T),
            (0, 1, 200, 400, 200, False, True, T),
            (1, 2, 100, 700, 600, False, False, C),
            (1, 2, 600, 1000, 400, False, True, C),
        ],
        gaps=[(0, 300.0)],
        rx=[(0, 3, 45)],
    )
    assert t.delivered_visits.tolist() == [3, 0]
    assert t.koper_visits.tolist() == [2, 0]
    assert t.officer_minutes.tolist() == pytest.approx([32.0, 10.0])
    assert t.patrol_minutes.tolist() == pytest.approx([27.0, 10.0])
    assert t.delivered_minutes.tolist() == pytest.approx([27.0, 0.0])
    assert t.avl_minutes.tolist() == pytest.approx([200 / 60, 400 / 60])
    assert t.contamination_minutes.tolist() == pytest.approx([0.0, 15.0])
    assert t.gap_minutes.tolist() == pytest.approx([5.0, 0.0])
    assert t.pct_delivered[0] == pytest.approx(100.0)
    assert math.isnan(t.pct_delivered[1])  # nothing prescribed to a control hot spot


def test_presence_is_unioned_per_hot_spot_not_across_hot_spots() -> None:
    # One group, two hot spots visited at the same time by two officers: 10 + 10 minutes.
    t = _table([(0, 1, 0, 600, 600, False, False, T), (0, 2, 0, 600, 600, False, False, T)], n=1)
    assert t.patrol_minutes.tolist() == pytest.approx([20.0])


def test_a_visit_with_an_excursion_counts_only_its_dwell() -> None:
    # 0-1000 s with 200 s stepped outside: 800 s present, alone: patrol = officer = 13.33 min.
    t = _table([(0, 1, 0, 1000, 800, False, False, T)], n=1)
    assert t.officer_minutes[0] == pytest.approx(800 / 60)
    assert t.patrol_minutes[0] == pytest.approx(800 / 60)


def test_visits_to_hot_spots_outside_the_experiment_are_not_dose() -> None:
    t = _table([(0, 1, 0, 600, 600, True, False, N)], rx=[(0, 3, 45)], n=1)
    assert t.delivered_visits[0] == 0
    assert t.officer_minutes[0] == pytest.approx(10.0)
    assert t.pct_delivered[0] == 0.0


def test_empty_groups_are_zero() -> None:
    t = _table([], n=3)
    assert t.delivered_visits.tolist() == [0, 0, 0]
    assert t.patrol_minutes.tolist() == [0.0, 0.0, 0.0]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="visit_group"):
        _table([(5, 1, 0, 10, 10, False, False, T)], n=2)
    with pytest.raises(ValueError, match="end at or after"):
        covered_seconds([0], [10.0], [5.0], [0.0])


def _brute_union(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 100_000),
            st.integers(0, 5_000),
        ),
        max_size=60,
    )
)
def test_covered_seconds_sum_to_the_union_of_each_segment(rows: list[tuple[int, int, int]]) -> None:
    seg = np.array([r[0] for r in rows], dtype=np.int64)
    start = np.array([r[1] for r in rows], dtype=float) + 1.7e9
    end = start + np.array([r[2] for r in rows], dtype=float)
    got = covered_seconds(seg, start, end, end - start)
    for k in range(4):
        sel = seg == k
        expected = _brute_union(list(zip(start[sel], end[sel], strict=True)))
        assert got[sel].sum() == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        ([], (0, 0)),
        ([True, True, False, True, True, True], (3, 3)),
        ([True, True, True, False], (0, 3)),
        ([False, True, False, True], (1, 1)),
    ],
)
def test_streaks(met: list[bool], expected: tuple[int, int]) -> None:
    assert streak_days(met) == expected


def test_on_target_caps_each_unit_at_its_prescription() -> None:
    from backend.analytics.compliance import on_target_by_group

    # Group 0 holds units 10 (3 prescribed, 5 delivered) and 11 (3 prescribed, 1 delivered):
    # on target 3 + 1 = 4. Group 1: unit 20 (2 prescribed in two rows, 2 delivered) -> 2; a
    # visit to unit 99, which has no prescription, counts nothing.
    got = on_target_by_group(
        n_groups=2,
        visit_unit=[10, 10, 10, 10, 10, 11, 20, 20, 99],
        rx_unit=[10, 11, 20, 20],
        rx_visits=[3, 3, 1, 1],
        rx_group=[0, 0, 1, 1],
    )
    assert got.tolist() == [4, 2]
