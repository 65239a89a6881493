"""Workload and capacity: the hour-by-day matrices of a police staffing study.

Pure numpy (and ``zoneinfo`` for local hours). Every matrix is float64 shaped ``(24, 7)``:
row = local hour of the day (0 = 00:00-00:59), column = weekday (0 = Monday .. 6 = Sunday),
the layout of the 2006 staffing study's tables. Values are *hours per week* of that hour
block: the average over the weeks of a date range.

Definitions (DESIGN "Workload"):

* **Calls-for-service hours** (``cfs``): unit-hours consumed by calls, from en route
  (dispatched) to clear, every responding unit counted (a call with a backup counts both
  units' time). A call that runs across an hour or midnight is split across the hours it
  covers. Self-initiated activity is excluded. Each cell is the total unit-hours that fell in
  that local hour on that weekday within the range, divided by the number of times the
  weekday occurs in the range (a cell whose weekday does not occur is NaN).
* **Available hours** (``available``): officer-hours on duty minus meal and court time. The
  meal and court minutes of a shift are spread *evenly over the shift*: each on-duty minute
  counts ``(shift minutes - meal - court) / shift minutes`` of a minute (a 10-hour shift
  with 30 minutes of meal and 90 of court gives 0.8 of each hour it covers). Rosters rarely
  record when the meal or the court hearing happened; spreading keeps the shift's total
  exact without inventing a time. Averaged per weekday occurrence like ``cfs``.
* **% consumed** (``pct``): ``100 * cfs / available``; ``+inf`` where calls took time and
  nobody was available; NaN where both are zero or unknown.
* **Spare hours** (``spare``): ``available - cfs``, the officer-hours left for directed patrol
  (negative: calls needed more time than was available).

Flags against a :class:`Targets` (the study's Target 1 by default, see ``TARGET_1``): cells at
or above ``high_pct`` (80%) or at or below ``low_pct`` (30%) are out of target; cells over
100% cannot absorb any mission; peak cells above ``peak_max_pct`` and off-peak cells above
``offpeak_max_pct`` exceed the time calls should take; and a run of consecutive hours above
``run_pct`` (70%) lasting more than ``run_max_hours`` (4) is flagged as a whole. The week is
read as a cycle: Sunday 23:00 is followed by Monday 00:00, as it is on the street.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HOURS, DAYS = 24, 7
SHAPE = (HOURS, DAYS)
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# ---------------------------------------------------------------------------------------------
# Local hours of a date range


@dataclass(frozen=True, eq=False)
class HourBins:
    """The local hours of a range of days, as UTC instants.

    ``edges_s``: int64 shaped (n + 1,), non-decreasing UTC epoch seconds; bin ``i`` is
    ``[edges_s[i], edges_s[i + 1])`` and is local hour ``hour[i]`` of weekday ``weekday[i]``
    (both int64 shaped (n,)). On the spring-forward day the skipped hour is a bin of length 0;
    on the fall-back day the repeated hour is one bin of two hours. ``days_per_weekday``:
    int64 shaped (7,), how many times each weekday occurs in the range.
    """

    edges_s: IntArray
    hour: IntArray
    weekday: IntArray
    days_per_weekday: IntArray


def local_hour_bins(first_day: date, last_day: date, tz: ZoneInfo) -> HourBins:
    """The local hours from ``first_day`` 00:00 to ``last_day`` 24:00 (inclusive days) in
    ``tz``. Raises ValueError when ``last_day`` is before ``first_day``."""
    if last_day < first_day:
        raise ValueError(f"the last day {last_day} is before the first day {first_day}")
    n_days = (last_day - first_day).days + 1
    edges: list[int] = []
    hours: list[int] = []
    weekdays: list[int] = []
    per_weekday = np.zeros(DAYS, dtype=np.int64)
    for d in range(n_days):
        day = first_day + timedelta(days=d)
        per_weekday[day.weekday()] += 1
        for h in range(HOURS):
            edges.append(int(datetime(day.year, day.month, day.day, h, tzinfo=tz).timestamp()))
            hours.append(h)
            weekdays.append(day.weekday())
    end = last_day + timedelta(days=1)
    edges.append(int(datetime(end.year, end.month, end.day, tzinfo=tz).timestamp()))
    edge_arr = np.maximum.accumulate(np.asarray(edges, dtype=np.int64))
    return HourBins(
        edges_s=edge_arr,
        hour=np.asarray(hours, dtype=np.int64),
        weekday=np.asarray(weekdays, dtype=np.int64),
        days_per_weekday=per_weekday,
    )


def _coverage(t: IntArray, start: IntArray, end: IntArray, weight: FloatArray) -> FloatArray:
    """``C(t) = sum_j weight_j * clip(t - start_j, 0, end_j - start_j)`` for each ``t``:
    weighted seconds of the intervals before ``t``. O((n + m) log n) by prefix sums."""
    order_s = np.argsort(start, kind="stable")
    order_e = np.argsort(end, kind="stable")
    s_sorted, ws = start[order_s].astype(np.float64), weight[order_s]
    e_sorted, we = end[order_e].astype(np.float64), weight[order_e]
    cw_s = np.concatenate([[0.0], np.cumsum(ws)])
    cws_s = np.concatenate([[0.0], np.cumsum(ws * s_sorted)])
    cw_e = np.concatenate([[0.0], np.cumsum(we)])
    cwe_e = np.concatenate([[0.0], np.cumsum(we * e_sorted)])
    k_s = np.searchsorted(start[order_s], t, side="right")
    k_e = np.searchsorted(end[order_e], t, side="right")
    tf = t.astype(np.float64)
    started = cw_s[k_s] * tf - cws_s[k_s]
    ended = cw_e[k_e] * tf - cwe_e[k_e]
    out: FloatArray = started - ended
    return out


def seconds_per_bin(
    start_s: npt.ArrayLike,
    end_s: npt.ArrayLike,
    edges_s: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
) -> FloatArray:
    """Seconds of the intervals ``[start_s, end_s)`` (int64 epoch seconds, shaped (m,)) that
    fall in each bin ``[edges_s[i], edges_s[i + 1])``, each interval's seconds multiplied by
    ``weight`` (default 1). Returns float64 shaped (n,). An interval is split across every bin
    it covers; parts outside the bins are dropped. Intervals must have ``end >= start``."""
    start = np.asarray(start_s, dtype=np.int64).reshape(-1)
    end = np.asarray(end_s, dtype=np.int64).reshape(-1)
    edges = np.asarray(edges_s, dtype=np.int64).reshape(-1)
    if start.shape != end.shape:
        raise ValueError("start_s and end_s must have the same shape")
    if np.any(end < start):
        raise ValueError("every interval must end at or after its start")
    w = (
        np.ones(start.size, dtype=np.float64)
        if weight is None
        else np.asarray(weight, dtype=np.float64).reshape(-1)
    )
    if w.shape != start.shape:
        raise ValueError("weight must have one value per interval")
    if edges.size < 2:
        return np.zeros(0, dtype=np.float64)
    if start.size == 0:
        return np.zeros(edges.size - 1, dtype=np.float64)
    c = _coverage(edges, start, end, w)
    out: FloatArray = np.diff(c)
    return out


def bins_to_matrix(per_bin: npt.ArrayLike, bins: HourBins) -> FloatArray:
    """Sum per-bin seconds into (24, 7) cells and average per weekday occurrence, in hours.

    Cells whose weekday does not occur in the range are NaN."""
    values = np.asarray(per_bin, dtype=np.float64).reshape(-1)
    if values.shape != bins.hour.shape:
        raise ValueError("one value per bin is needed")
    total = np.zeros(SHAPE, dtype=np.float64)
    np.add.at(total, (bins.hour, bins.weekday), values)
    days = bins.days_per_weekday.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(days > 0, total / 3600.0 / np.maximum(days, 1.0), np.nan)
    return out


def cfs_hours_matrix(
    en_route_s: npt.ArrayLike,
    cleared_s: npt.ArrayLike,
    self_initiated: npt.ArrayLike,
    bins: HourBins,
) -> FloatArray:
    """Calls-for-service unit-hours per week, (24, 7) float64.

    One row per responding unit of a call (int64 UTC epoch seconds, shaped (m,)): the unit's
    time from en route to clear. ``self_initiated`` (bool, (m,)) rows are left out."""
    keep = ~np.asarray(self_initiated, dtype=np.bool_).reshape(-1)
    start = np.asarray(en_route_s, dtype=np.int64).reshape(-1)[keep]
    end = np.asarray(cleared_s, dtype=np.int64).reshape(-1)[keep]
    return bins_to_matrix(seconds_per_bin(start, end, bins.edges_s), bins)


def available_hours_matrix(
    shift_start_s: npt.ArrayLike,
    shift_end_s: npt.ArrayLike,
    meal_minutes: npt.ArrayLike,
    court_minutes: npt.ArrayLike,
    bins: HourBins,
) -> FloatArray:
    """Available officer-hours per week, (24, 7) float64, from roster shifts.

    One row per officer-shift (int64 UTC epoch seconds and minutes, shaped (m,)). The shift's
    meal and court minutes are spread evenly over it (module docstring); a shift whose meal
    and court minutes reach its length contributes nothing."""
    start = np.asarray(shift_start_s, dtype=np.int64).reshape(-1)
    end = np.asarray(shift_end_s, dtype=np.int64).reshape(-1)
    off = (
        np.asarray(meal_minutes, dtype=np.float64).reshape(-1)
        + np.asarray(court_minutes, dtype=np.float64).reshape(-1)
    ) * 60.0
    length = (end - start).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(length > 0, np.clip(1.0 - off / np.maximum(length, 1.0), 0.0, 1.0), 0.0)
    return bins_to_matrix(seconds_per_bin(start, end, bins.edges_s, weight), bins)


# ---------------------------------------------------------------------------------------------
# The four matrices and their flags


@dataclass(frozen=True, eq=False)
class Workload:
    """The four (24, 7) float64 matrices, hours per week (``pct`` in percent)."""

    cfs: FloatArray
    available: FloatArray
    pct: FloatArray
    spare: FloatArray


def _matrix(values: npt.ArrayLike, name: str) -> FloatArray:
    m = np.asarray(values, dtype=np.float64)
    if m.shape != SHAPE:
        raise ValueError(f"{name} must be shaped (24, 7), got {m.shape}")
    return m


def workload(cfs: npt.ArrayLike, available: npt.ArrayLike) -> Workload:
    """% consumed and spare hours from the CFS and available matrices (module docstring)."""
    c = _matrix(cfs, "cfs")
    a = _matrix(available, "available")
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(a > 0, 100.0 * c / np.where(a > 0, a, 1.0), np.nan)
    pct = np.where((a == 0) & (c > 0), np.inf, pct)
    pct = np.where(np.isnan(c) | np.isnan(a), np.nan, pct)
    return Workload(cfs=c, available=a, pct=pct, spare=a - c)


@dataclass(frozen=True)
class Targets:
    """What counts as in target (percent of available time consumed by calls).

    ``peak_share``: the share of the week's 168 hour blocks with the most CFS hours that count
    as *peak* (default the busiest third); the rest are off-peak. ``own_min_pct`` /
    ``own_max_pct``: the share of a district's calls its own officers should handle.
    """

    name: str
    offpeak_max_pct: float = 60.0
    peak_max_pct: float = 80.0
    high_pct: float = 80.0
    low_pct: float = 30.0
    run_pct: float = 70.0
    run_max_hours: int = 4
    own_min_pct: float = 80.0
    own_max_pct: float = 90.0
    peak_share: float = 1.0 / 3.0

    def __post_init__(self) -> None:
        if not 0 <= self.low_pct < self.high_pct:
            raise ValueError("low_pct must be below high_pct")
        if self.offpeak_max_pct <= 0 or self.peak_max_pct <= 0:
            raise ValueError("the ceilings must be positive")
        if self.run_max_hours < 1 or self.run_pct <= 0:
            raise ValueError("run_max_hours must be >= 1 and run_pct > 0")
        if not 0 <= self.own_min_pct <= self.own_max_pct <= 100:
            raise ValueError("0 <= own_min_pct <= own_max_pct <= 100")
        if not 0 <= self.peak_share <= 1:
            raise ValueError("peak_share must be in [0, 1]")


# The study's Target 1 (tests/data/README.md): calls take at most 50-60% of available time
# off-peak and 70-80% at peak (the ceilings flag above the top of each range), a peak above 70%
# lasts no more than 4 hours in a row, blocks at >= 80% or <= 30% are out of target, and
# district officers handle 80-90% of their district's calls.
TARGET_1 = Targets(name="Target 1")


def peak_cells(cfs: npt.ArrayLike, share: float) -> BoolArray:
    """True for the ``round(share * 168)`` cells with the most CFS hours (ties: earlier in the
    week first, Monday 00:00 onwards); NaN cells are never peak."""
    c = _matrix(cfs, "cfs")
    flat = c.T.reshape(-1)  # week order: Monday 00..23, Tuesday 00..23, ...
    n = round(share * flat.size)
    out = np.zeros(flat.size, dtype=np.bool_)
    if n > 0:
        keyed = np.where(np.isnan(flat), -np.inf, flat)
        order = np.lexsort((np.arange(flat.size), -keyed))
        chosen = order[:n]
        out[chosen[np.isfinite(keyed[chosen])]] = True
    result: BoolArray = out.reshape(DAYS, HOURS).T
    return result


@dataclass(frozen=True)
class Run:
    """Consecutive hour blocks above a threshold: starts at ``weekday``/``hour``, ``hours``
    long (may wrap from Sunday into Monday)."""

    weekday: int
    hour: int
    hours: int

    def label(self) -> str:
        end = (self.weekday * HOURS + self.hour + self.hours) % (DAYS * HOURS)
        end_day, end_hour = divmod(end, HOURS)
        return (
            f"{WEEKDAY_NAMES[self.weekday]} {self.hour:02d}:00 to "
            f"{WEEKDAY_NAMES[end_day]} {end_hour:02d}:00 ({self.hours} h)"
        )


def runs_above(pct: npt.ArrayLike, threshold: float, min_hours: int) -> tuple[Run, ...]:
    """Runs of consecutive cells with ``pct > threshold`` lasting at least ``min_hours``, on the
    weekly cycle (Sunday 23:00 is followed by Monday 00:00), in week order of their start. A
    week whose every cell is above is one run of 168 hours starting Monday 00:00."""
    p = _matrix(pct, "pct")
    above = (p.T.reshape(-1) > threshold) & ~np.isnan(p.T.reshape(-1))
    n = above.size
    if above.all():
        return (Run(0, 0, n),) if n >= min_hours else ()
    if not above.any():
        return ()
    # Start the scan right after a cell that is not above, so no run is cut by the wrap.
    first_below = int(np.flatnonzero(~above)[0])
    runs: list[Run] = []
    length = 0
    start = 0
    for k in range(1, n + 1):
        i = (first_below + k) % n
        if above[i]:
            if length == 0:
                start = i
            length += 1
        elif length:
            if length >= min_hours:
                runs.append(Run(start // HOURS, start % HOURS, length))
            length = 0
    runs.sort(key=lambda r: (r.weekday, r.hour))
    return tuple(runs)


def run_cells(runs: Sequence[Run]) -> BoolArray:
    """(24, 7) bool: the cells covered by ``runs``."""
    flat = np.zeros(DAYS * HOURS, dtype=np.bool_)
    for r in runs:
        start = r.weekday * HOURS + r.hour
        flat[(start + np.arange(r.hours)) % flat.size] = True
    out: BoolArray = flat.reshape(DAYS, HOURS).T
    return out


FLAG_OVER_100 = "over_100"
FLAG_HIGH = "high"
FLAG_LOW = "low"
FLAG_RUN = "long_run"
FLAG_OVER_PEAK = "over_peak_target"
FLAG_OVER_OFFPEAK = "over_offpeak_target"
FLAG_NO_DATA = "no_data"
FLAG_OK = "ok"


@dataclass(frozen=True, eq=False)
class Flags:
    """Per-cell (24, 7) bool masks and the runs; see the module docstring."""

    over_100: BoolArray
    high: BoolArray
    low: BoolArray
    long_run: BoolArray
    over_peak: BoolArray
    over_offpeak: BoolArray
    no_data: BoolArray
    peak: BoolArray
    runs: tuple[Run, ...]

    @property
    def out_of_target(self) -> BoolArray:
        """High or low: the study's "hour blocks at >= 80% or <= 30% are out of target"."""
        out: BoolArray = self.high | self.low
        return out

    def labels(self) -> list[list[str]]:
        """(24 rows of 7) ``;``-joined flag names per cell, ``ok`` when none applies."""
        masks = (
            (FLAG_NO_DATA, self.no_data),
            (FLAG_OVER_100, self.over_100),
            (FLAG_HIGH, self.high),
            (FLAG_LOW, self.low),
            (FLAG_RUN, self.long_run),
            (FLAG_OVER_PEAK, self.over_peak),
            (FLAG_OVER_OFFPEAK, self.over_offpeak),
        )
        out = []
        for h in range(HOURS):
            row = []
            for d in range(DAYS):
                names = [name for name, m in masks if m[h, d]]
                row.append(";".join(names) or FLAG_OK)
            out.append(row)
        return out


def flags(w: Workload, targets: Targets = TARGET_1) -> Flags:
    """Flag every cell of ``w`` against ``targets``. NaN cells carry only ``no_data``."""
    pct = w.pct
    known = ~np.isnan(pct)
    with np.errstate(invalid="ignore"):
        over_100 = known & (pct > 100.0)
        high = known & (pct >= targets.high_pct)
        low = known & (pct <= targets.low_pct)
    runs = runs_above(pct, targets.run_pct, targets.run_max_hours + 1)
    peak = peak_cells(w.cfs, targets.peak_share)
    with np.errstate(invalid="ignore"):
        over_peak = known & peak & (pct > targets.peak_max_pct)
        over_offpeak = known & ~peak & (pct > targets.offpeak_max_pct)
    return Flags(
        over_100=over_100,
        high=high,
        low=low,
        long_run=run_cells(runs),
        over_peak=over_peak,
        over_offpeak=over_offpeak,
        no_data=~known,
        peak=peak,
        runs=runs,
    )


# ---------------------------------------------------------------------------------------------
# Own-district share


@dataclass(frozen=True)
class OwnShare:
    """One district's calls (not self-initiated) and how many its own officers handled.

    ``calls``: distinct calls; ``own_calls``: those whose first unit en route belonged to the
    district; ``unit_hours`` / ``own_unit_hours``: every responding unit's time, and the part
    worked by the district's own units."""

    district: int
    calls: int
    own_calls: int
    unit_hours: float
    own_unit_hours: float

    @property
    def pct_calls(self) -> float:
        return 100.0 * self.own_calls / self.calls if self.calls else float("nan")

    @property
    def pct_unit_hours(self) -> float:
        return 100.0 * self.own_unit_hours / self.unit_hours if self.unit_hours else float("nan")


def own_district_share(
    call_key: npt.ArrayLike,
    call_district: npt.ArrayLike,
    unit_district: npt.ArrayLike,
    en_route_s: npt.ArrayLike,
    cleared_s: npt.ArrayLike,
    self_initiated: npt.ArrayLike,
) -> tuple[OwnShare, ...]:
    """Per call district (ascending id), the share handled by its own officers.

    One row per responding unit (all int64/bool shaped (m,)): ``call_key`` identifies the call
    (rows of one call share it), ``call_district`` the call's district, ``unit_district`` the
    unit's (-1: none). A call's handler is its first unit en route (ties: the unit listed
    first). Self-initiated rows are left out."""
    keep = ~np.asarray(self_initiated, dtype=np.bool_).reshape(-1)
    key = np.asarray(call_key, dtype=np.int64).reshape(-1)[keep]
    cd = np.asarray(call_district, dtype=np.int64).reshape(-1)[keep]
    ud = np.asarray(unit_district, dtype=np.int64).reshape(-1)[keep]
    start = np.asarray(en_route_s, dtype=np.int64).reshape(-1)[keep]
    end = np.asarray(cleared_s, dtype=np.int64).reshape(-1)[keep]
    hours = (end - start).astype(np.float64) / 3600.0
    own = ud == cd
    order = np.lexsort((np.arange(key.size), start, key))
    first = np.zeros(key.size, dtype=np.bool_)
    if key.size:
        sorted_key = key[order]
        first[order[np.concatenate([[True], sorted_key[1:] != sorted_key[:-1]])]] = True
    out = []
    for d in np.unique(cd).tolist():
        rows = cd == d
        out.append(
            OwnShare(
                district=int(d),
                calls=int((first & rows).sum()),
                own_calls=int((first & rows & own).sum()),
                unit_hours=float(hours[rows].sum()),
                own_unit_hours=float(hours[rows & own].sum()),
            )
        )
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Ranking the hours of a shift


@dataclass(frozen=True)
class HourCapacity:
    """One local hour of a shift: ``start_s`` (UTC epoch seconds), its cell, and the cell's
    % consumed and spare hours (NaN: no figures)."""

    start_s: int
    weekday: int
    hour: int
    pct: float
    spare: float


def shift_hours(w: Workload, bins: HourBins, start_s: int, end_s: int) -> tuple[HourCapacity, ...]:
    """The local hours that overlap ``[start_s, end_s)``, each with its cell's figures, in time
    order. ``bins`` must cover the shift."""
    out = []
    edges = bins.edges_s
    for i in range(bins.hour.size):
        lo, hi = int(edges[i]), int(edges[i + 1])
        if hi <= lo or hi <= start_s or lo >= end_s:
            continue
        h, d = int(bins.hour[i]), int(bins.weekday[i])
        out.append(
            HourCapacity(
                start_s=max(lo, start_s),
                weekday=d,
                hour=h,
                pct=float(w.pct[h, d]),
                spare=float(w.spare[h, d]),
            )
        )
    return tuple(out)


def minutes_below(
    hours: Sequence[HourCapacity], start_s: int, end_s: int, ceiling_pct: float
) -> BoolArray:
    """Bool per whole minute of the shift ``[start_s, end_s)``: True where the minute's hour is
    known and consumed below ``ceiling_pct`` (the minutes a mission may use)."""
    n = max((end_s - start_s) // 60, 0)
    out = np.zeros(n, dtype=np.bool_)
    for k, hc in enumerate(hours):
        lo = (hc.start_s - start_s) // 60
        hi = ((hours[k + 1].start_s if k + 1 < len(hours) else end_s) - start_s) // 60
        if not np.isnan(hc.pct) and hc.pct < ceiling_pct:
            out[max(lo, 0) : min(hi, n)] = True
    return out
