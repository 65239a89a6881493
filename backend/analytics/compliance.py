"""Compliance arithmetic: prescribed against delivered dose, for any grouping of visits.

Pure numpy. A *group* is whatever the caller reports by (a hot spot-day, an officer-day, a
squad over a month, an experiment arm); the caller maps each visit, each device gap and each
prescription to a group index ``0 <= g < n_groups`` and this module sums.

Definitions (DESIGN "Compliance"; minutes are minutes of presence measured from GPS dwell,
never from a button):

* A visit is *treated* when its hot spot was prescribed dose that day (a treatment hot spot, or
  any active hot spot when no experiment runs), *control* when it was a control hot spot,
  *neither* otherwise. Codes: ``ARM_NONE`` 0, ``ARM_TREATED`` 1, ``ARM_CONTROL`` 2.
* ``delivered_visits``: officers' (app) visits to treated hot spots. AVL drive-bys are
  background presence, not dose.
* ``koper_visits``: those of the delivered visits that were Koper-compliant (10-16 minutes).
* ``delivered_minutes``: minutes in which a treated hot spot had at least one officer present
  (two officers together for 15 minutes deliver 15 minutes of dose, not 30).
* ``officer_minutes``: the sum of officers' dwell in any hot spot (two officers for 15
  minutes: 30), the labour spent.
* ``patrol_minutes``: minutes with at least one officer present, in any hot spot (the union
  of the visits' intervals per hot spot within the group; see ``covered_seconds``).
* ``avl_minutes``: minutes with at least one AVL vehicle present, any hot spot.
* ``contamination_minutes``: minutes with at least one officer or vehicle present in a
  *control* hot spot (the control arm must receive no dose).
* ``gap_minutes``: device gaps (the phone reported nothing for longer than the gap tolerance)
  attributed to the group by the caller. A gap is shown as a gap and never counted as absence
  or as presence.
* ``on_target_visits``: delivered visits counted up to each unit's prescription, a unit being
  the day of one hot spot (or of one officer): ``sum over units of min(delivered, prescribed)``.
  Ten visits to one hot spot on Monday and none on Tuesday deliver Monday's dose, not
  Tuesday's; extra visits never make up for a missed place or day.
* ``pct_delivered = 100 * on_target_visits / prescribed_visits`` (NaN when nothing was
  prescribed): the share of the prescribed dose delivered, at most 100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ARM_NONE, ARM_TREATED, ARM_CONTROL = 0, 1, 2

# Interval keys are int64 milliseconds offset by segment * _SEGMENT_MS, so one running maximum
# over all segments never carries an interval's end into the next segment: 2**41 ms is about
# 70 years of span per segment, and 2**21 segments still fit in int64.
_SEGMENT_MS = np.int64(2**41)
_MAX_SEGMENTS = 2**21


@dataclass(frozen=True, eq=False)
class ComplianceTable:
    """Per group, shape (n_groups,). Minutes are float64; visits are int64."""

    prescribed_visits: FloatArray
    prescribed_minutes: FloatArray
    delivered_visits: IntArray
    on_target_visits: IntArray
    delivered_minutes: FloatArray
    koper_visits: IntArray
    officer_minutes: FloatArray
    patrol_minutes: FloatArray
    avl_minutes: FloatArray
    contamination_minutes: FloatArray
    gap_minutes: FloatArray

    @property
    def pct_delivered(self) -> FloatArray:
        """``100 * on_target_visits / prescribed_visits``; NaN where nothing was prescribed."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out: FloatArray = np.where(
                self.prescribed_visits > 0,
                100.0 * self.on_target_visits / self.prescribed_visits,
                np.nan,
            )
        return out

    def __len__(self) -> int:
        return int(self.prescribed_visits.size)


def covered_seconds(
    segment: npt.ArrayLike, start_s: npt.ArrayLike, end_s: npt.ArrayLike, dwell_s: npt.ArrayLike
) -> FloatArray:
    """Seconds each interval adds to the union of the intervals of its segment.

    ``segment``: int (n,), e.g. a (group, hot spot) key; ``start_s``, ``end_s``: epoch seconds
    (n,), ``end >= start``; ``dwell_s``: seconds present within the interval (n,), ``<= end -
    start`` (a visit may step out for short excursions). Returns float64 (n,), in input order:
    the part of ``[start, end]`` not already covered by an earlier-starting interval of the
    same segment, scaled by the interval's presence density ``dwell / (end - start)``. So the
    sum over a segment is its union length, exactly, when dwell equals span; and a lone party's
    union equals its dwell. Resolution: 1 ms. One sort and one running maximum: O(n log n).
    """
    seg = np.asarray(segment, dtype=np.int64)
    s = np.asarray(start_s, dtype=np.float64)
    e = np.asarray(end_s, dtype=np.float64)
    d = np.asarray(dwell_s, dtype=np.float64)
    n = seg.size
    if not (s.shape == e.shape == d.shape == (n,)):
        raise ValueError("segment, start_s, end_s and dwell_s must be 1-D of one length")
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    if (e < s).any():
        raise ValueError("every interval must end at or after its start")
    _, seg_rank = np.unique(seg, return_inverse=True)
    if int(seg_rank.max()) >= _MAX_SEGMENTS:
        raise ValueError(f"at most {_MAX_SEGMENTS} segments at once")
    t0 = float(s.min())
    s_ms = np.round((s - t0) * 1000.0).astype(np.int64)
    e_ms = np.round((e - t0) * 1000.0).astype(np.int64)
    if int(e_ms.max()) >= int(_SEGMENT_MS):
        raise ValueError("intervals span more than 70 years")
    base = seg_rank.astype(np.int64) * _SEGMENT_MS
    order = np.lexsort((e_ms, s_ms, seg_rank))
    ks, ke = (base + s_ms)[order], (base + e_ms)[order]
    reach = np.maximum.accumulate(ke)
    before = np.empty_like(reach)
    before[0] = np.iinfo(np.int64).min
    before[1:] = reach[:-1]
    new_ms = np.maximum(ke - np.maximum(ks, before), 0)
    span = (e - s)[order]
    density = np.where(span > 0, np.minimum(d[order] / np.where(span > 0, span, 1.0), 1.0), 0.0)
    out[order] = new_ms / 1000.0 * density
    return out


def compliance_table(
    *,
    n_groups: int,
    visit_group: npt.ArrayLike,
    visit_hotspot: npt.ArrayLike,
    visit_start_s: npt.ArrayLike,
    visit_end_s: npt.ArrayLike,
    visit_dwell_s: npt.ArrayLike,
    visit_koper: npt.ArrayLike,
    visit_avl: npt.ArrayLike,
    visit_arm: npt.ArrayLike,
    gap_group: npt.ArrayLike,
    gap_s: npt.ArrayLike,
    prescribed_visits: npt.ArrayLike,
    prescribed_minutes: npt.ArrayLike,
    on_target_visits: npt.ArrayLike | None = None,
) -> ComplianceTable:
    """Sum visits, device gaps and prescriptions into a ``ComplianceTable`` (module docstring).

    Visits, shape (V,): ``visit_group`` group index; ``visit_hotspot`` hot spot id (any int);
    ``visit_start_s``/``visit_end_s`` epoch seconds; ``visit_dwell_s`` seconds present;
    ``visit_koper`` bool; ``visit_avl`` bool (True: a vehicle's AVL visit, False: an officer's
    app visit); ``visit_arm`` ``ARM_*`` code of the hot spot on the visit's day.
    Gaps, shape (G,): ``gap_group`` group index, ``gap_s`` seconds.
    Prescriptions, shape (n_groups,): visits and minutes. ``on_target_visits`` (n_groups,),
    from ``on_target_by_group`` when a group spans several units; default: each group is one
    unit, ``min(delivered, prescribed)``.
    """
    g = np.asarray(visit_group, dtype=np.int64)
    hot = np.asarray(visit_hotspot, dtype=np.int64)
    start = np.asarray(visit_start_s, dtype=np.float64)
    end = np.asarray(visit_end_s, dtype=np.float64)
    dwell = np.asarray(visit_dwell_s, dtype=np.float64)
    koper = np.asarray(visit_koper, dtype=bool)
    avl = np.asarray(visit_avl, dtype=bool)
    arm = np.asarray(visit_arm, dtype=np.int64)
    gg = np.asarray(gap_group, dtype=np.int64)
    gs = np.asarray(gap_s, dtype=np.float64)
    pv = np.asarray(prescribed_visits, dtype=np.float64)
    pm = np.asarray(prescribed_minutes, dtype=np.float64)
    n = g.size
    for name, a in (("hotspot", hot), ("start", start), ("end", end), ("dwell", dwell)):
        if a.shape != (n,):
            raise ValueError(f"visit_{name} must have shape ({n},), got {a.shape}")
    for name, a in (("koper", koper), ("avl", avl), ("arm", arm)):
        if a.shape != (n,):
            raise ValueError(f"visit_{name} must have shape ({n},), got {a.shape}")
    if gg.shape != gs.shape:
        raise ValueError("gap_group and gap_s must have one shape")
    if pv.shape != (n_groups,) or pm.shape != (n_groups,):
        raise ValueError(f"prescriptions must have shape ({n_groups},)")
    for name, idx in (("visit_group", g), ("gap_group", gg)):
        if idx.size and (idx.min() < 0 or idx.max() >= n_groups):
            raise ValueError(f"{name} must lie in [0, {n_groups})")
    if (dwell < 0).any() or (gs < 0).any():
        raise ValueError("dwell and gap seconds must be non-negative")

    def count(mask: BoolArray) -> IntArray:
        return np.bincount(g[mask], minlength=n_groups).astype(np.int64)

    def minutes(mask: BoolArray, seconds: FloatArray) -> FloatArray:
        return np.bincount(g[mask], weights=seconds[mask], minlength=n_groups) / 60.0

    def union_minutes(mask: BoolArray) -> FloatArray:
        if not mask.any():
            return np.zeros(n_groups, dtype=np.float64)
        # Segment = (group, hot spot): presence is unioned within one hot spot of one group.
        _, seg = np.unique(np.stack([g[mask], hot[mask]]), axis=1, return_inverse=True)
        sec = covered_seconds(seg.ravel(), start[mask], end[mask], dwell[mask])
        return np.bincount(g[mask], weights=sec, minlength=n_groups) / 60.0

    app = ~avl
    treated = app & (arm == ARM_TREATED)
    delivered = count(treated)
    if on_target_visits is None:
        on_target = np.minimum(delivered, pv).astype(np.int64)
    else:
        on_target = np.asarray(on_target_visits, dtype=np.int64)
        if on_target.shape != (n_groups,):
            raise ValueError(f"on_target_visits must have shape ({n_groups},)")
    return ComplianceTable(
        prescribed_visits=pv,
        prescribed_minutes=pm,
        delivered_visits=delivered,
        on_target_visits=on_target,
        delivered_minutes=union_minutes(treated),
        koper_visits=count(treated & koper),
        officer_minutes=minutes(app, dwell),
        patrol_minutes=union_minutes(app),
        avl_minutes=union_minutes(avl),
        contamination_minutes=union_minutes(arm == ARM_CONTROL),
        gap_minutes=np.bincount(gg, weights=gs, minlength=n_groups) / 60.0,
    )


def on_target_by_group(
    *,
    n_groups: int,
    visit_unit: npt.ArrayLike,
    rx_unit: npt.ArrayLike,
    rx_visits: npt.ArrayLike,
    rx_group: npt.ArrayLike,
) -> IntArray:
    """Per group, ``sum over its units of min(delivered, prescribed)`` (module docstring).

    ``visit_unit``: int (V,), the unit (any int key, e.g. a hot spot-day) of each delivered
    visit (pass only delivered ones: officers' visits to treated hot spots). ``rx_unit``,
    ``rx_visits``, ``rx_group``: (R,), prescription rows: their unit, visits prescribed, and
    group (a unit's rows must share one group). A unit with no prescription row counts 0.
    """
    vu = np.asarray(visit_unit, dtype=np.int64)
    ru = np.asarray(rx_unit, dtype=np.int64)
    rv = np.asarray(rx_visits, dtype=np.float64)
    rg = np.asarray(rx_group, dtype=np.int64)
    if not (ru.shape == rv.shape == rg.shape):
        raise ValueError("rx_unit, rx_visits and rx_group must have one shape")
    if ru.size == 0:
        return np.zeros(n_groups, dtype=np.int64)
    units, inverse = np.unique(ru, return_inverse=True)
    inverse = inverse.ravel()
    prescribed = np.bincount(inverse, weights=rv, minlength=units.size)
    group = np.zeros(units.size, dtype=np.int64)
    group[inverse] = rg
    pos = np.searchsorted(units, vu)
    known = (pos < units.size) & (units[np.minimum(pos, units.size - 1)] == vu)
    delivered = np.bincount(pos[known], minlength=units.size)
    capped = np.minimum(delivered, prescribed)
    return np.bincount(group, weights=capped, minlength=n_groups).round().astype(np.int64)


def streak_days(met: npt.ArrayLike) -> tuple[int, int]:
    """``(current, longest)`` runs of consecutive True in ``met`` (bool (D,), oldest first).

    ``current`` is the run ending at the last day. A day without any prescription should be
    left out by the caller (it neither breaks nor extends a streak).
    """
    m = np.asarray(met, dtype=bool)
    if m.size == 0:
        return 0, 0
    padded = np.concatenate([[False], m, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = edges[1::2] - edges[0::2]
    longest = int(runs.max()) if runs.size else 0
    current = int(runs[-1]) if runs.size and edges[-1] == m.size else 0
    return current, longest
