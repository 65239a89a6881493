"""Track analytics for many tracks at once: cleaning, device gaps, speeds, visits to hot spots,
stops (stay points), mode of travel, Koper compliance, officer-minutes and patrol-minutes.

Conventions (every function):

- A *fix* is one location sample. Fixes of many tracks (officers, vehicles, sessions) are
  given as parallel 1-D arrays shaped ``(n,)``: ``track_id`` (int64, any values), ``t``
  (float64 seconds since the Unix epoch, UTC), ``x`` and ``y`` (float64 metres east and north
  in one ``LocalProjection``), sorted by ``(track_id, t)``: each track's fixes are contiguous
  and in time order (equal times are allowed). Functions raise ``ValueError`` otherwise.
- Results refer to fixes by their index into the arrays given; times are the same epoch
  seconds, distances metres, speeds metres per second, durations seconds.
- ``TrackParams`` holds every threshold, with the defaults of DESIGN.md.

Definitions (DESIGN.md "Visits, stops, mode"; where it is silent the choice is stated):

- **Cleaning** (``clean``): fixes with a non-finite position, a reported accuracy worse than
  ``max_accuracy_m``, or implying more than ``max_speed_mps`` from the last kept fix of their
  track are dropped; the other functions trust the fixes they are given.
- **Run**: a maximal sequence of consecutive fixes of one track with no interval longer than
  ``gap_s``. An interval longer than ``gap_s`` is a **device gap**: the phone did not report;
  it is never counted as absence, and nothing (visit, stop, speed) is bridged across it.
- **Visit** of a track to hot spot ``k``: fixes strictly inside polygon ``k`` are linked in
  time order; two successive inside fixes ``i < j`` are linked when ``j = i + 1`` (adjacent
  fixes, the interval is a data gap) and ``t[j] - t[i] <= gap_s``, or when the fixes between
  them are all outside ``k`` (an excursion) and ``t[j] - t[i] <= max_excursion_s``. A visit is
  a maximal linked chain, kept when its dwell is at least ``min_visit_s``.
  ``entered_at`` / ``exited_at`` are the times of its first and last inside fix. ``dwell_s``
  is the total length of the intervals between adjacent inside fixes (so data gaps within the
  tolerance count as presence, excursions do not): ``dwell_s <= exited_at - entered_at``.
  ``gaps_s`` is the part of the dwell made of intervals longer than ``max_excursion_s``:
  time bridged only by the gap tolerance, during which the officer could have left for longer
  than an excursion allows. (Those gaps are not device gaps: they are within the tolerance.)
- **Stop** (stay point, DESIGN.md "within 30 m for >= 120 s"). Two rules; the product uses
  ``stop_method="window"`` (the default), movingpandas' ``TrajectoryStopDetector`` rule with
  an axis-aligned box diagonal in place of its minimum-rotated-rectangle diagonal: a stop
  opens when the fixes of the last less-than-``min_stop_s`` seconds (at least two fixes) fit
  in a box whose diagonal is at most ``stop_distance_m``; it starts at the oldest of them,
  grows while its fixes still fit such a box, and is kept if it lasts ``min_stop_s`` (details
  in ``_window_stays``). Every two fixes of a stop are thus within ``stop_distance_m`` of each
  other. It is the default because it agrees with movingpandas on a real bus track (time IoU
  0.93, where the anchor rule reaches 0.77; ``tests/analytics/test_tracks.py``,
  ``bench/stops.py``). ``stop_method="anchor"`` is Li et al. (2008)'s greedy rule, kept for
  comparison: anchor fix ``i``; extend ``j = i + 1, i + 2, ...`` while ``j`` is in ``i``'s run
  and ``distance(i, j) <= stop_distance_m``; let ``e(i)`` be the last such ``j``. Fix ``i``
  anchors a stay when ``t[e(i)] - t[i] >= min_stop_s``. Scanning each track left to right,
  the first anchor found gives a stop ``[i, e(i)]`` and the scan resumes at ``e(i) + 1``.
  Duration runs from the first to the last fix within the distance (Li's pseudo-code measures
  to the first fix beyond it, which overstates the stop by one interval), and a stay that
  reaches the end of a run is kept (Li's pseudo-code drops it); its fixes may be up to twice
  ``stop_distance_m`` apart. Neither rule crosses a device gap.
  The stop's position is the mean of its fixes.
- **Speed** per fix: the device speed when it is finite and >= 0, else derived from
  consecutive fixes of the same run: distance / time between the previous and next fix
  (central difference), one-sided at the ends of a run, NaN for a run of one fix.
- **Mode** per visit: ``stationary`` when stops cover at least ``stationary_share`` of the
  dwell (DESIGN.md "the visit is one stop", tolerant of GPS drift splitting one stop in two);
  else by the median speed of the visit's inside fixes: ``foot`` when <= ``foot_max_mps``,
  ``vehicle`` when >= ``vehicle_min_mps``, else ``mixed``.
- **Officer-minutes** of a hot spot: dwell summed over all visits (officers), in minutes.
  **Patrol-minutes**: the length of the union of the visits' presence intervals, i.e. the
  time with at least one officer present, in minutes (a measure, not a count of clock minutes).

Hot spots are shapely polygons in the same metres, looked up through ``HotspotIndex`` (a fine
raster answering most fixes by array lookups, exact through ``contains_xy`` near boundaries).
On one core, 500 officers x 8 h at one fix per 5 s (2.8 M fixes) against 200 hot spots take
about 0.13 s for visits, 0.19 s for stops by the anchor rule and 0.14 s for speeds and modes
(``bench/tracks.py``); the window rule (the default) takes about twice the anchor rule's time
(8.2 s against 4.0 s in one run of ``bench/tracks.py`` on a machine loaded ~6x, where
movingpandas' detector, extrapolated, took 55 minutes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ModeArray = npt.NDArray[np.int8]

MODE_FOOT, MODE_MIXED, MODE_VEHICLE, MODE_STATIONARY = 0, 1, 2, 3
MODE_NAMES = ("foot", "mixed", "vehicle", "stationary")
"""``MODE_NAMES[code]`` is the name of a mode code (the values of ``patrols.TravelMode``)."""

StopMethod = Literal["anchor", "window"]


@dataclass(frozen=True)
class TrackParams:
    """Every threshold of the track analytics; the defaults are DESIGN.md's.

    Attributes:
        max_accuracy_m: metres; fixes reporting a worse (larger) accuracy are dropped.
        max_speed_mps: m/s; a fix that could only be reached from the last kept fix of its
            track faster than this is dropped.
        gap_s: seconds; a longer interval between consecutive fixes is a device gap
            (``math.inf``: never, e.g. to compare with tools that have no such rule).
        max_excursion_s: seconds; a visit survives leaving the polygon for at most this long.
        min_visit_s: seconds of dwell for a visit to count; must be > 0.
        stop_distance_m: metres, the distance threshold D (see ``stop_method``).
        min_stop_s: seconds, the time threshold T.
        stop_method: "window" (movingpandas' rule: the stop's fixes fit a box of diagonal at
            most D; the product's) or "anchor" (Li et al.: within D of the stop's first fix).
        foot_max_mps, vehicle_min_mps: m/s, median speed limits of the foot and vehicle modes.
        stationary_share: in (0, 1]; a visit whose stopped time is at least this share of its
            dwell is stationary.
        koper_min_s, koper_max_s: seconds; a visit is Koper-compliant when its dwell is in
            this closed interval (10-16 minutes).
    """

    max_accuracy_m: float = 50.0
    max_speed_mps: float = 60.0
    gap_s: float = 120.0
    max_excursion_s: float = 60.0
    min_visit_s: float = 60.0
    stop_distance_m: float = 30.0
    min_stop_s: float = 120.0
    stop_method: StopMethod = "window"
    foot_max_mps: float = 2.0
    vehicle_min_mps: float = 4.0
    stationary_share: float = 0.8
    koper_min_s: float = 600.0
    koper_max_s: float = 960.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "stop_method":
                if value not in ("anchor", "window"):
                    raise ValueError(f"stop_method must be 'anchor' or 'window', got {value!r}")
            elif not (
                isinstance(value, int | float)
                and value > 0
                and (math.isfinite(value) or f.name == "gap_s")
            ):
                raise ValueError(f"{f.name} must be a positive finite number, got {value!r}")
        if self.foot_max_mps > self.vehicle_min_mps:
            raise ValueError("foot_max_mps must be <= vehicle_min_mps")
        if self.koper_min_s > self.koper_max_s:
            raise ValueError("koper_min_s must be <= koper_max_s")
        if self.stationary_share > 1:
            raise ValueError("stationary_share must be in (0, 1]")


DEFAULT_PARAMS = TrackParams()


@dataclass(frozen=True, eq=False)
class Gaps:
    """Device gaps: intervals longer than ``gap_s`` between consecutive fixes of a track.

    Attributes (shape (G,), ordered by track then time):
        track: track id.
        before: index of the fix before the gap (the fix after it is ``before + 1``).
        start, end: epoch seconds of the fixes before and after the gap.
    """

    track: IntArray
    before: IntArray
    start: FloatArray
    end: FloatArray


@dataclass(frozen=True, eq=False)
class Stops:
    """Stay points (see the module docstring), shape (S,), ordered by track then time.

    Attributes:
        track: track id.
        first, last: indices of the stop's first and last fix.
        start, end: epoch seconds of those fixes; ``duration_s = end - start >= min_stop_s``.
        x, y: metres, mean position of the stop's fixes.
    """

    track: IntArray
    first: IntArray
    last: IntArray
    start: FloatArray
    end: FloatArray
    duration_s: FloatArray
    x: FloatArray
    y: FloatArray


@dataclass(frozen=True, eq=False)
class Visits:
    """Visits of tracks to hot spots (see the module docstring).

    Per visit, shape (V,), ordered by track, then ``entered_at``, then hot spot:
        track: track id.
        hotspot: index into the ``HotspotIndex`` polygons.
        first, last: indices of the first and last inside fix.
        entered_at, exited_at: epoch seconds of those fixes.
        dwell_s: seconds present (intervals between adjacent inside fixes).
        gaps_s: seconds of ``dwell_s`` made of intervals longer than ``max_excursion_s``.

    Presence spans, shape (P,), ordered by visit then time: maximal runs of adjacent inside
    fixes of a visit; a visit's dwell is the sum of its spans' lengths, and the spans are
    separated by excursions.
        span_visit: index of the span's visit.
        span_first, span_last: indices of the span's first and last fix.
        span_start, span_end: epoch seconds of those fixes.
    """

    track: IntArray
    hotspot: IntArray
    first: IntArray
    last: IntArray
    entered_at: FloatArray
    exited_at: FloatArray
    dwell_s: FloatArray
    gaps_s: FloatArray
    span_visit: IntArray
    span_first: IntArray
    span_last: IntArray
    span_start: FloatArray
    span_end: FloatArray

    def __len__(self) -> int:
        return int(self.track.size)


@dataclass(frozen=True, eq=False)
class VisitModes:
    """Per visit, shape (V,): how the visit was made.

    Attributes:
        mode: int8 code, ``MODE_NAMES[code]``.
        median_speed_mps: median speed of the visit's inside fixes, m/s.
        stopped_s: seconds of the dwell spent in stops (<= dwell_s).
    """

    mode: ModeArray
    median_speed_mps: FloatArray
    stopped_s: FloatArray

    @property
    def names(self) -> list[str]:
        """Mode names, one per visit."""
        return [MODE_NAMES[int(c)] for c in self.mode]


@dataclass(frozen=True, eq=False)
class TrackAnalysis:
    """Everything ``analyze_tracks`` computes.

    Fix indices in ``visits``, ``stops`` and ``gaps`` refer to the *kept* fixes: kept fix ``i``
    is input fix ``kept[i]``.

    Attributes:
        kept: int64 (m,), indices of the input fixes that survived ``clean``, ascending.
        speed_mps: float64 (m,), speed of each kept fix (see ``fix_speeds``).
        gaps, stops, visits, modes: as returned by the functions of the same names.
        koper_compliant: bool (V,), per visit.
        officer_minutes, patrol_minutes: float64 (H,), per hot spot.
    """

    kept: IntArray
    speed_mps: FloatArray
    gaps: Gaps
    stops: Stops
    visits: Visits
    modes: VisitModes
    koper_compliant: BoolArray
    officer_minutes: FloatArray
    patrol_minutes: FloatArray


# --------------------------------------------------------------------------------------------
# Input checks and runs


def _tracks(track_id: npt.ArrayLike, t: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Validated ``(track_id, t)``: 1-D, equal length, finite times, sorted by (track, t)."""
    tr = np.asarray(track_id)
    ta = np.asarray(t, dtype=np.float64)
    if tr.ndim != 1 or tr.shape != ta.shape:
        raise ValueError(f"track_id and t must be 1-D of equal length: {tr.shape}, {ta.shape}")
    if tr.size and not np.issubdtype(tr.dtype, np.integer):
        raise ValueError(f"track_id must be integers, got dtype {tr.dtype}")
    tr = tr.astype(np.int64, copy=False)
    if not np.isfinite(ta).all():
        raise ValueError("t must be finite")
    if tr.size > 1:
        dtr = tr[1:] - tr[:-1]
        if (dtr < 0).any() or ((dtr == 0) & (ta[1:] < ta[:-1])).any():
            raise ValueError("fixes must be sorted by (track_id, t)")
    return tr, ta


def _coords(n: int, **arrays: npt.ArrayLike) -> list[FloatArray]:
    out = []
    for name, a in arrays.items():
        arr = np.asarray(a, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        out.append(arr)
    return out


def _run_breaks(tr: IntArray, t: FloatArray, gap_s: float) -> BoolArray:
    """Shape (n-1,): True where fix k+1 starts a new run (other track, or a device gap)."""
    out: BoolArray = (tr[1:] != tr[:-1]) | ((t[1:] - t[:-1]) > gap_s)
    return out


def _run_last(brk: BoolArray, n: int) -> IntArray:
    """Shape (n,): index of the last fix of each fix's run."""
    ends = np.flatnonzero(np.append(brk, True))
    run_id = np.zeros(n, dtype=np.int64)
    np.cumsum(brk, out=run_id[1:])
    out: IntArray = ends[run_id].astype(np.int64, copy=False)
    return out


def _group_sums(group: IntArray, values: FloatArray, n_groups: int) -> FloatArray:
    """Float64 (n_groups,): sum of ``values`` per ``group`` (0..n_groups-1)."""
    out: FloatArray = np.bincount(group, values, minlength=n_groups).astype(np.float64)
    return out


def _range_sums(values: FloatArray, lo: IntArray, hi: IntArray) -> FloatArray:
    """``sum(values[lo[i]:hi[i]])`` for each i (0 where lo >= hi), without cumulative error."""
    if lo.size == 0:
        return np.zeros(0)
    padded = np.append(values, 0.0)
    idx = np.empty(2 * lo.size, dtype=np.int64)
    idx[0::2], idx[1::2] = lo, hi
    sums = np.add.reduceat(padded, idx)[0::2]
    out: FloatArray = np.where(hi > lo, sums, 0.0)
    return out


# --------------------------------------------------------------------------------------------
# Cleaning, gaps, speeds


def clean(
    track_id: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    accuracy_m: npt.ArrayLike | None = None,
    params: TrackParams = DEFAULT_PARAMS,
) -> BoolArray:
    """Which fixes to keep, bool shaped (n,).

    A fix is dropped when its position is not finite, when ``accuracy_m`` (metres, shape (n,),
    NaN = not reported, kept) exceeds ``max_accuracy_m``, or when it is implausibly far from
    the last kept fix of its track: distance > ``max_speed_mps`` * time (a fix at the same
    time and another place counts as infinitely fast). This is sequential ("the last *kept*
    fix") so a run of bad fixes is dropped whole; the loop runs only where a jump is found.
    The first acceptable fix of a track is trusted; if it is itself a jump, the fixes after it
    are dropped only until the true position becomes reachable from it at the speed limit.
    """
    tr, ta = _tracks(track_id, t)
    xa, ya = _coords(tr.size, x=x, y=y)
    ok = np.isfinite(xa) & np.isfinite(ya)
    if accuracy_m is not None:
        (acc,) = _coords(tr.size, accuracy_m=accuracy_m)
        ok &= ~(acc > params.max_accuracy_m)
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        return ok
    trk, tk, xk, yk = tr[idx], ta[idx], xa[idx], ya[idx]
    same = trk[1:] == trk[:-1]
    dist = np.hypot(xk[1:] - xk[:-1], yk[1:] - yk[:-1])
    jumps = np.flatnonzero(same & (dist > params.max_speed_mps * (tk[1:] - tk[:-1])))
    if jumps.size == 0:
        return ok
    track_end = np.flatnonzero(np.append(~same, True))
    keep = np.ones(idx.size, dtype=np.bool_)
    resume = -1
    chunk = 64
    for v in jumps.tolist():
        if v + 1 <= resume:
            continue  # already decided by the walk from an earlier jump
        # Fix v is kept (it is the resume point or untouched); walk forward from it.
        anchor = v
        last = int(track_end[np.searchsorted(track_end, v)])
        j = v + 1
        while j <= last:
            hi = min(j + chunk, last + 1)
            too_fast = np.hypot(xk[j:hi] - xk[anchor], yk[j:hi] - yk[anchor]) > (
                params.max_speed_mps * (tk[j:hi] - tk[anchor])
            )
            if too_fast.all():
                keep[j:hi] = False
                j = hi
                continue
            first_ok = j + int(np.argmin(too_fast))
            keep[j:first_ok] = False
            j = first_ok
            break
        resume = j
    ok[idx[~keep]] = False
    return ok


def gaps(track_id: npt.ArrayLike, t: npt.ArrayLike, params: TrackParams = DEFAULT_PARAMS) -> Gaps:
    """Device gaps: consecutive fixes of one track more than ``gap_s`` seconds apart."""
    tr, ta = _tracks(track_id, t)
    if tr.size < 2:
        e = np.zeros(0, dtype=np.int64)
        return Gaps(track=e, before=e.copy(), start=np.zeros(0), end=np.zeros(0))
    before = np.flatnonzero((tr[1:] == tr[:-1]) & ((ta[1:] - ta[:-1]) > params.gap_s))
    return Gaps(
        track=tr[before], before=before.astype(np.int64), start=ta[before], end=ta[before + 1]
    )


def fix_speeds(
    track_id: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    speed_mps: npt.ArrayLike | None = None,
    params: TrackParams = DEFAULT_PARAMS,
) -> FloatArray:
    """Speed of each fix in m/s, float64 shaped (n,).

    The device speed (``speed_mps``, shape (n,), NaN = not reported) where it is finite and
    >= 0; otherwise derived within the fix's run (no device gap crossed): distance between
    the previous and the next fix over their time difference, or the one-sided difference at
    the first and last fix of a run; NaN for a run of one fix or zero elapsed time.
    """
    tr, ta = _tracks(track_id, t)
    xa, ya = _coords(tr.size, x=x, y=y)
    n = tr.size
    derived = np.full(n, np.nan)
    if n >= 2:
        brk = _run_breaks(tr, ta, params.gap_s)
        # Central difference everywhere inside, then one-sided at run ends.
        dt = ta[2:] - ta[:-2]
        np.divide(np.hypot(xa[2:] - xa[:-2], ya[2:] - ya[:-2]), dt, out=derived[1:-1], where=dt > 0)
        starts = np.flatnonzero(np.append(True, brk))  # first fix of each run
        ends = np.append(starts[1:] - 1, n - 1)  # last fix of each run
        for edge, other in ((starts, starts + 1), (ends, ends - 1)):
            edge, other = edge[ends > starts], other[ends > starts]
            dt_e = np.abs(ta[other] - ta[edge])
            dist = np.hypot(xa[other] - xa[edge], ya[other] - ya[edge])
            derived[edge] = np.divide(dist, dt_e, out=np.full(edge.size, np.nan), where=dt_e > 0)
        derived[starts[ends == starts]] = np.nan
    if speed_mps is None:
        return derived
    (device,) = _coords(n, speed_mps=speed_mps)
    out: FloatArray = np.where(np.isfinite(device) & (device >= 0), device, derived)
    return out


# --------------------------------------------------------------------------------------------
# Hot spot index

_OUTSIDE = -1
_MULTI = -2  # cell touched by several polygons: test every polygon whose box holds the fix
_EXACT0 = -3  # code _EXACT0 - k: the cell meets polygon k's boundary; test polygon k only


@dataclass(frozen=True, eq=False)
class HotspotIndex:
    """Point-in-polygon lookup for hot spots, exact (shapely ``contains_xy`` semantics).

    A raster of square cells of ``cell_m`` metres over the polygons' bounding box (plus a
    margin of two cells that is always outside), stored as tiles of ``block x block`` cells;
    tile slots no polygon touches share tile 0, which is all outside. Each cell holds a code:
    -1 outside every polygon; ``k >= 0``: entirely inside polygon ``k`` and no other;
    ``-3 - k``: polygon ``k``'s boundary may cross the cell (test polygon ``k``); -2: several
    polygons touch the cell (test each). So most fixes need two array lookups and only those
    near a boundary a ``contains_xy`` call. Build with ``build_hotspot_index``.

    Attributes:
        polygons: the hot spots in local metres, prepared; a hot spot's index is its position.
        cell_m: metres; x0, y0: metres, south-west corner of cell (0, 0).
        block: cells per tile side (a power of two); nbx, nby: tile slots per row, column.
        tile_of: int32 (nby * nbx,), row-major, the tile of each slot (0: empty).
        tiles: int32 (n_tiles, block * block), row-major cell codes; tiles[0] is all -1.
        bounds: float64 (H, 4), each polygon's (minx, miny, maxx, maxy).
    """

    polygons: tuple[BaseGeometry, ...]
    cell_m: float
    x0: float
    y0: float
    block: int
    nbx: int
    nby: int
    tile_of: npt.NDArray[np.int32]
    tiles: npt.NDArray[np.int32]
    bounds: FloatArray

    def __len__(self) -> int:
        return len(self.polygons)

    def locate(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """Which fixes lie strictly inside which hot spots.

        ``x``, ``y``: metres, shape (n,) (NaN allowed: never inside). Returns ``(fix,
        hotspot)``, int64 arrays of equal length, one pair per (fix, containing polygon),
        sorted by fix then hot spot. A point on a polygon's boundary is not inside it.
        """
        xa = np.asarray(x, dtype=np.float64).ravel()
        ya = np.asarray(y, dtype=np.float64).ravel()
        if xa.shape != ya.shape:
            raise ValueError(f"x and y must have one shape, got {xa.shape} and {ya.shape}")
        empty = np.zeros(0, dtype=np.int64)
        if not self.polygons or xa.size == 0:
            return empty, empty.copy()
        shift = self.block.bit_length() - 1
        mask = self.block - 1
        # Clamp into the raster: anything beyond it (and NaN, which fmax turns into 0) lands
        # on the outer margin cells, which are outside every polygon.
        cx = self._cells(xa, self.x0, self.nbx * self.block)
        cy = self._cells(ya, self.y0, self.nby * self.block)
        slot = (cy >> shift) * np.int32(self.nbx) + (cx >> shift)
        cell = (self.tile_of[slot] << (2 * shift)) | ((cy & mask) << shift) | (cx & mask)
        code = self.tiles.ravel()[cell]
        fix = np.flatnonzero(code >= 0)
        fix_parts = [fix]
        hot_parts = [code[fix].astype(np.int64)]
        exact = np.flatnonzero(code <= _EXACT0)
        if exact.size:
            poly_of = _EXACT0 - code[exact]
            order = np.argsort(poly_of, kind="stable")
            exact, poly_of = exact[order], poly_of[order]
            cuts = np.flatnonzero(np.diff(poly_of)) + 1
            for grp in np.split(np.arange(exact.size), cuts):
                k = int(poly_of[grp[0]])
                f = exact[grp]
                sel = shapely.contains_xy(self.polygons[k], xa[f], ya[f])
                fix_parts.append(f[sel])
                hot_parts.append(np.full(int(sel.sum()), k, dtype=np.int64))
        multi = np.flatnonzero(code == _MULTI)
        if multi.size:
            xm, ym = xa[multi], ya[multi]
            for k, (bx0, by0, bx1, by1) in enumerate(self.bounds.tolist()):
                cand = np.flatnonzero((xm >= bx0) & (xm <= bx1) & (ym >= by0) & (ym <= by1))
                if cand.size:
                    f = multi[cand]
                    sel = shapely.contains_xy(self.polygons[k], xa[f], ya[f])
                    fix_parts.append(f[sel])
                    hot_parts.append(np.full(int(sel.sum()), k, dtype=np.int64))
        fix = np.concatenate(fix_parts).astype(np.int64)
        hot = np.concatenate(hot_parts)
        if len(fix_parts) > 1:
            order = np.lexsort((hot, fix))
            fix, hot = fix[order], hot[order]
        return fix, hot

    def _cells(self, v: FloatArray, v0: float, n_cells: int) -> npt.NDArray[np.int32]:
        buf = v - v0
        buf *= 1.0 / self.cell_m
        np.fmax(buf, 0.0, out=buf)
        np.fmin(buf, n_cells - 1, out=buf)
        return buf.astype(np.int32)


def build_hotspot_index(
    polygons: Sequence[BaseGeometry], cell_m: float = 5.0, block: int = 32
) -> HotspotIndex:
    """Rasterize hot spot polygons (local metres, Polygon or MultiPolygon, holes allowed).

    ``cell_m``: raster cell size in metres (smaller: fewer exact tests, more memory); ``block``:
    cells per tile side, a power of two. Polygons may touch or overlap: a fix can be inside
    several. The raster is exact: a cell is marked inside or outside only when no polygon
    boundary meets it (boundaries are sampled every ``cell_m / 4`` and each sample's 3 x 3
    cell neighbourhood is flagged, which covers every cell the boundary passes through).
    The polygons are prepared in place (``shapely.prepare``).
    """
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres, got {cell_m!r}")
    if block < 1 or block & (block - 1):
        raise ValueError(f"block must be a power of two, got {block}")
    polys = tuple(polygons)
    for k, p in enumerate(polys):
        if not isinstance(p, Polygon | MultiPolygon) or p.is_empty:
            raise ValueError(f"hot spot {k} is not a non-empty Polygon or MultiPolygon")
    shift = block.bit_length() - 1
    if not polys:
        return HotspotIndex(
            polygons=(),
            cell_m=float(cell_m),
            x0=0.0,
            y0=0.0,
            block=block,
            nbx=0,
            nby=0,
            tile_of=np.zeros(0, dtype=np.int32),
            tiles=np.full((1, block * block), _OUTSIDE, np.int32),
            bounds=np.zeros((0, 4)),
        )
    bounds = np.asarray(shapely.bounds(np.asarray(polys, dtype=object)), dtype=np.float64)
    if not np.isfinite(bounds).all():
        raise ValueError("hot spot coordinates must be finite")
    # Two cells of margin so the 3 x 3 dilation of boundary samples stays on the raster.
    x0 = (math.floor(bounds[:, 0].min() / cell_m) - 2) * cell_m
    y0 = (math.floor(bounds[:, 1].min() / cell_m) - 2) * cell_m
    ncx = math.floor((bounds[:, 2].max() - x0) / cell_m) + 3
    ncy = math.floor((bounds[:, 3].max() - y0) / cell_m) + 3
    nbx, nby = -(-ncx // block), -(-ncy // block)
    if nbx * nby > 1 << 24:
        raise ValueError("hot spots spread too far for this cell size; use a larger cell_m")
    row = nbx * block  # cells per raster row
    cell_ids: list[IntArray] = []
    codes: list[IntArray] = []
    step = cell_m / 4.0
    for k, poly in enumerate(polys):
        shapely.prepare(poly)
        band = _boundary_cells(poly, x0, y0, cell_m, step, row)
        ix0 = math.floor((bounds[k, 0] - x0) / cell_m)
        iy0 = math.floor((bounds[k, 1] - y0) / cell_m)
        ix1 = math.floor((bounds[k, 2] - x0) / cell_m)
        iy1 = math.floor((bounds[k, 3] - y0) / cell_m)
        gx, gy = np.meshgrid(np.arange(ix0, ix1 + 1), np.arange(iy0, iy1 + 1))
        ids = (gy * row + gx).ravel().astype(np.int64)
        interior = ids[~np.isin(ids, band)]
        cx = x0 + (interior % row + 0.5) * cell_m
        cy = y0 + (interior // row + 0.5) * cell_m
        interior = interior[shapely.contains_xy(poly, cx, cy)]
        cell_ids += [interior, band]
        codes += [np.full(interior.size, k, np.int64), np.full(band.size, _EXACT0 - k, np.int64)]
    all_ids = np.concatenate(cell_ids)
    all_codes = np.concatenate(codes)
    order = np.argsort(all_ids, kind="stable")
    all_ids, all_codes = all_ids[order], all_codes[order]
    uniq, first, count = np.unique(all_ids, return_index=True, return_counts=True)
    cell_code = np.where(count > 1, _MULTI, all_codes[first])
    ucx, ucy = uniq % row, uniq // row
    slot = (ucy >> shift) * nbx + (ucx >> shift)
    slots, tile_idx = np.unique(slot, return_inverse=True)
    if (slots.size + 1) * block * block >= 1 << 31:
        raise ValueError("too many raster tiles for this cell size; use a larger cell_m")
    tile_of = np.zeros(nbx * nby, dtype=np.int32)
    tile_of[slots] = np.arange(1, slots.size + 1)
    tiles = np.full((slots.size + 1, block * block), _OUTSIDE, dtype=np.int32)
    tiles[tile_idx + 1, ((ucy & (block - 1)) << shift) | (ucx & (block - 1))] = cell_code
    return HotspotIndex(
        polygons=polys,
        cell_m=float(cell_m),
        x0=x0,
        y0=y0,
        block=block,
        nbx=nbx,
        nby=nby,
        tile_of=tile_of,
        tiles=tiles,
        bounds=bounds,
    )


def _boundary_cells(
    poly: BaseGeometry, x0: float, y0: float, cell_m: float, step: float, row: int
) -> IntArray:
    """Sorted unique raster cell ids (``iy * row + ix``) within one cell of the boundary."""
    rings = shapely.get_rings(shapely.get_parts(poly))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    seg = np.flatnonzero(ring[1:] == ring[:-1])  # segment: coords[s] -> coords[s + 1]
    a, b = coords[seg], coords[seg + 1]
    n_samples = np.ceil(np.hypot(*(b - a).T) / step).astype(np.int64) + 1
    which = np.repeat(np.arange(seg.size), n_samples)
    starts = np.cumsum(n_samples) - n_samples
    u = (np.arange(which.size) - starts[which]) / np.maximum(n_samples[which] - 1, 1)
    pts = a[which] + u[:, None] * (b - a)[which]
    cx = np.floor((pts[:, 0] - x0) / cell_m).astype(np.int64)
    cy = np.floor((pts[:, 1] - y0) / cell_m).astype(np.int64)
    base = np.unique(cy * row + cx)
    near = base[:, None] + (np.array([-row, 0, row])[:, None] + np.array([-1, 0, 1])).ravel()
    out: IntArray = np.unique(near)
    return out


# --------------------------------------------------------------------------------------------
# Visits


def _empty_visits() -> Visits:
    i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
    return Visits(
        track=i,
        hotspot=i,
        first=i,
        last=i,
        entered_at=f,
        exited_at=f,
        dwell_s=f,
        gaps_s=f,
        span_visit=i,
        span_first=i,
        span_last=i,
        span_start=f,
        span_end=f,
    )


def visits(
    track_id: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    index: HotspotIndex,
    params: TrackParams = DEFAULT_PARAMS,
) -> Visits:
    """Visits of every track to every hot spot of ``index`` (see the module docstring).

    ``x``, ``y``: metres in the projection of ``index``'s polygons. Pass cleaned fixes: every
    fix given is trusted. Cost: one raster lookup per fix plus a sort of the inside fixes.
    """
    tr, ta = _tracks(track_id, t)
    xa, ya = _coords(tr.size, x=x, y=y)
    fix, hot = index.locate(xa, ya)
    if fix.size == 0:
        return _empty_visits()
    # Group the (fix, hot spot) pairs by (track, hot spot), keeping time order inside a group.
    # Pairs come sorted by fix, hence by track: a dense track rank is a running count.
    ptr = tr[fix]
    rank = np.zeros(fix.size, dtype=np.int64)
    np.cumsum(ptr[1:] != ptr[:-1], out=rank[1:])
    key = rank * len(index) + hot
    if fix.size > 1 and (key[1:] < key[:-1]).any():
        order = np.argsort(key, kind="stable")
        fix, hot, key = fix[order], hot[order], key[order]
    pt = ta[fix]
    same = key[1:] == key[:-1]
    dt = pt[1:] - pt[:-1]
    adjacent = same & (fix[1:] == fix[:-1] + 1)
    presence = adjacent & (dt <= params.gap_s)  # interval inside the polygon, counted as dwell
    linked = presence | (same & ~adjacent & (dt <= params.max_excursion_s))
    vstart = np.flatnonzero(np.append(True, ~linked))
    vend = np.append(vstart[1:] - 1, fix.size - 1)
    vid = np.repeat(np.arange(vstart.size), vend - vstart + 1)
    pair_vid = vid[:-1]
    dwell = _group_sums(pair_vid[presence], dt[presence], vstart.size)
    long_gap = presence & (dt > params.max_excursion_s)
    gap_s = _group_sums(pair_vid[long_gap], dt[long_gap], vstart.size)
    keep = dwell >= params.min_visit_s
    if not keep.any():
        return _empty_visits()
    # Presence spans: runs of pairs linked by ``presence``.
    sstart = np.flatnonzero(np.append(True, ~presence))
    send = np.append(sstart[1:] - 1, fix.size - 1)
    svid = vid[sstart]
    skeep = keep[svid]
    sstart, send, svid = sstart[skeep], send[skeep], svid[skeep]
    kept = np.flatnonzero(keep)
    # Order visits by (track, entered_at, hot spot); spans follow their visit.
    v_first, v_last = fix[vstart[kept]], fix[vend[kept]]
    v_hot = hot[vstart[kept]]
    order = np.lexsort((v_hot, pt[vstart[kept]], rank[vstart[kept]]))
    new_id = np.empty(kept.size, dtype=np.int64)
    new_id[order] = np.arange(kept.size)
    old_to_new = np.full(vstart.size, -1, dtype=np.int64)
    old_to_new[kept] = new_id
    s_visit = old_to_new[svid]
    sorder = np.argsort(s_visit, kind="stable")
    sstart, send, s_visit = sstart[sorder], send[sorder], s_visit[sorder]
    v_first, v_last, v_hot = v_first[order], v_last[order], v_hot[order]
    return Visits(
        track=tr[v_first],
        hotspot=v_hot,
        first=v_first,
        last=v_last,
        entered_at=ta[v_first],
        exited_at=ta[v_last],
        dwell_s=dwell[kept][order],
        gaps_s=gap_s[kept][order],
        span_visit=s_visit,
        span_first=fix[sstart],
        span_last=fix[send],
        span_start=pt[sstart],
        span_end=pt[send],
    )


# --------------------------------------------------------------------------------------------
# Stops


def stops(
    track_id: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    params: TrackParams = DEFAULT_PARAMS,
) -> Stops:
    """Stops of every track (see the module docstring for the exact rules of both methods).

    ``x``, ``y``: metres. Pass cleaned fixes. No stop crosses a device gap. Vectorized in two
    passes: a cheap necessary test of every fix at once (a few array operations per fix) that
    leaves the possible stop starts; then the left-to-right scan, one step of every track per
    round: its next possible start is tested and extended exactly, in blocks of 64 fixes. The
    rounds number about the stops of the busiest track (plus the few false candidates).
    """
    tr, ta = _tracks(track_id, t)
    xa, ya = _coords(tr.size, x=x, y=y)
    n = tr.size
    none = np.zeros(0, dtype=np.int64)
    if n < 2:
        return _stops_from(tr, ta, xa, ya, none, none)
    brk = _run_breaks(tr, ta, params.gap_s)
    run_last = _run_last(brk, n)
    track_first = np.flatnonzero(np.append(True, tr[1:] != tr[:-1]))
    track_last = np.append(track_first[1:] - 1, n - 1)
    d2 = params.stop_distance_m**2
    if params.stop_method == "anchor":
        first, last = _li_stays(ta, xa, ya, brk, run_last, track_first, track_last, d2, params)
    else:
        first, last = _window_stays(ta, xa, ya, brk, run_last, track_first, track_last, d2, params)
    order = np.argsort(first)
    return _stops_from(tr, ta, xa, ya, first[order], last[order])


def _stops_from(
    tr: IntArray, t: FloatArray, x: FloatArray, y: FloatArray, first: IntArray, last: IntArray
) -> Stops:
    count = (last - first + 1).astype(np.float64)
    return Stops(
        track=tr[first],
        first=first.astype(np.int64, copy=False),
        last=last.astype(np.int64, copy=False),
        start=t[first],
        end=t[last],
        duration_s=t[last] - t[first],
        x=_range_sums(x, first, last + 1) / count,
        y=_range_sums(y, first, last + 1) / count,
    )


def _next_true(flags: BoolArray) -> IntArray:
    """Shape (n + 1,): the first index >= j where ``flags`` is True (n when there is none)."""
    n = flags.size
    at = np.where(flags, np.arange(n), n)
    out: IntArray = np.append(np.minimum.accumulate(at[::-1])[::-1], n).astype(np.int64)
    return out


def _run_time(t: FloatArray, brk: BoolArray, min_s: float) -> tuple[FloatArray, IntArray]:
    """Run-monotone time and each fix's run start.

    Returns ``(tt, run_first)``, shapes (n,): ``tt`` equals ``t`` up to a per-run offset and
    increases across runs by more than ``min_s`` at every run break, so one ``searchsorted``
    over all tracks finds "the first fix ``min_s`` later" without leaving a run (resolution
    ~1e-9 of the total duration of all runs).
    """
    n = t.size
    starts = np.flatnonzero(np.append(True, brk))
    run_id = np.zeros(n, dtype=np.int64)
    np.cumsum(brk, out=run_id[1:])
    ends = np.append(starts[1:] - 1, n - 1)
    span = t[ends] - t[starts]
    offset = np.cumsum(np.append(0.0, span[:-1] + min_s + 1.0))
    run_first = starts[run_id].astype(np.int64, copy=False)
    tt: FloatArray = t - t[run_first] + offset[run_id]
    return tt, run_first


def _near(x: FloatArray, y: FloatArray, a: IntArray, b: IntArray, d2: float) -> BoolArray:
    out: BoolArray = (x[b] - x[a]) ** 2 + (y[b] - y[a]) ** 2 <= d2
    return out


def _li_stays(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    brk: BoolArray,
    run_last: IntArray,
    track_first: IntArray,
    track_last: IntArray,
    d2: float,
    params: TrackParams,
) -> tuple[IntArray, IntArray]:
    """Li et al.'s greedy scan: (first, last) fix of each stay, unordered across tracks.

    Fix i anchors a stay iff every fix up to m(i), the first fix at or after ``t[i] + T``,
    is in i's run and within D of i. A cheap necessary test (m(i) exists in the run, and
    m(i) and the fixes a quarter, half and three quarters of the way there are within D)
    leaves few candidates besides the true anchors; the scan then takes, per track and
    round, the first candidate at or after its position, extends it exactly (its stay end
    e), and either records the stay and resumes after e or, when ``t[e] - t[i] < T`` (not an
    anchor after all), resumes at i + 1.
    """
    n = t.size
    min_s = params.min_stop_s
    tt, _ = _run_time(t, brk, min_s)
    m = np.searchsorted(tt, tt + min_s, side="left").astype(np.int64)
    mc = np.minimum(m, n - 1)
    idx = np.flatnonzero((m <= run_last) & ((x[mc] - x) ** 2 + (y[mc] - y) ** 2 <= d2))
    for num, den in ((1, 2), (1, 4), (3, 4)):
        k = idx + (num * (m[idx] - idx) + den - 1) // den
        idx = idx[_near(x, y, idx, k, d2)]
    maybe = np.zeros(n, dtype=np.bool_)
    maybe[idx] = True
    next_maybe = _next_true(maybe)
    pos, limit = track_first, track_last
    firsts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    lasts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    while pos.size:
        c = next_maybe[pos]
        alive = c <= limit
        c, limit = c[alive], limit[alive]
        if c.size == 0:
            break
        e = _stay_ends(c, x, y, run_last, d2, box=False)
        stay = t[e] - t[c] >= min_s
        firsts.append(c[stay])
        lasts.append(e[stay])
        pos = np.where(stay, e + 1, c + 1)
        alive = pos <= limit
        pos, limit = pos[alive], limit[alive]
    return np.concatenate(firsts), np.concatenate(lasts)


def _window_stays(
    t: FloatArray,
    x: FloatArray,
    y: FloatArray,
    brk: BoolArray,
    run_last: IntArray,
    track_first: IntArray,
    track_last: IntArray,
    d2: float,
    params: TrackParams,
) -> tuple[IntArray, IntArray]:
    """The trailing-window scan (movingpandas' rule, box test): (first, last) of each stop.

    State of a track's scan: ``r``, the first fix it may use (the track start, or the fix
    after the last stop), and ``j``, the next fix to test as "now". The window of "now" j is
    ``[w(j), j]`` with ``w(j)`` the first fix less than ``min_s`` before j, but at least one
    fix before j and not before r or j's run. A fresh scan tests j = r + 1, whose window is
    [r, r + 1]; a window that fits the box opens a stop at its first fix, extended while the
    box holds; kept if it lasts ``min_s`` (scan restarts after it), else the scan goes on two
    fixes after its end (the fix that broke the box was tested with the untrimmed window).
    Windows starting before r are prefixes of the fresh stop, so after a fresh attempt only
    windows with ``w(j) >= r`` matter; ``w`` is non-decreasing, so those are a suffix of j.
    A cheap necessary test (first and last fix of the window within the diagonal) picks
    candidate j; the exact box test is the extension from w(j) reaching j.
    """
    n = t.size
    min_s = params.min_stop_s
    tt, run_first = _run_time(t, brk, min_s)
    first_after = np.searchsorted(tt, tt - min_s, side="right").astype(np.int64)
    win = np.maximum(np.minimum(first_after, np.arange(n) - 1), run_first)
    starts = np.flatnonzero(np.append(True, brk))
    win[starts] = starts  # a run's first fix has no window
    j_all = np.flatnonzero(win < np.arange(n))
    maybe = np.zeros(n, dtype=np.bool_)
    maybe[j_all[_near(x, y, win[j_all], j_all, d2)]] = True
    next_maybe = _next_true(maybe)
    r, limit = track_first, track_last
    j = r + 1
    fresh = np.ones(r.size, dtype=np.bool_)
    firsts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    lasts: list[IntArray] = [np.zeros(0, dtype=np.int64)]
    while r.size:
        cand = next_maybe[np.minimum(np.maximum(j, np.searchsorted(win, r)), n)]
        s = np.where(fresh, r, win[np.minimum(cand, n - 1)])
        alive = fresh | (cand <= limit)
        r, j, limit, fresh = r[alive], j[alive], limit[alive], fresh[alive]
        s, cand = s[alive], cand[alive]
        if r.size == 0:
            break
        e = _stay_ends(s, x, y, run_last, d2, box=True)
        fits = fresh | (e >= cand)  # a candidate window fits iff its box extends to j
        kept = fits & (e > s) & (t[e] - t[s] >= min_s)
        firsts.append(s[kept])
        lasts.append(e[kept])
        # Kept: restart fresh after the stop. Fitted but too short: go on two fixes after the
        # fix that broke the box (r + 2 when even [r, r + 1] did not fit). Candidate that did
        # not fit: go on at the next fix.
        j = np.where(kept, e + 2, np.where(fits, np.where(e > s, e + 2, s + 2), cand + 1))
        r = np.where(kept, e + 1, r)
        fresh = kept
        alive = r <= limit
        r, j, limit, fresh = r[alive], j[alive], limit[alive], fresh[alive]
    return np.concatenate(firsts), np.concatenate(lasts)


def _stay_ends(
    anchor: IntArray, x: FloatArray, y: FloatArray, run_last: IntArray, d2: float, box: bool
) -> IntArray:
    """For each anchor, the last fix ``e`` of its run such that fixes anchor..e are all within
    sqrt(d2) of the anchor (``box=False``) or fit in a box of that diagonal (``box=True``)."""
    block = 64
    end = anchor.copy()
    act = np.arange(anchor.size)
    start = anchor + 1
    xa, ya = x[anchor], y[anchor]
    lo_x, hi_x, lo_y, hi_y = xa, xa, ya, ya
    steps = np.arange(block)
    while act.size:
        k = start[:, None] + steps  # (m, block)
        lim = run_last[anchor[act]][:, None]
        valid = k <= lim
        kc = np.minimum(k, lim)
        xk, yk = x[kc], y[kc]
        if box:
            cl_x = np.minimum(np.minimum.accumulate(xk, axis=1), lo_x[:, None])
            ch_x = np.maximum(np.maximum.accumulate(xk, axis=1), hi_x[:, None])
            cl_y = np.minimum(np.minimum.accumulate(yk, axis=1), lo_y[:, None])
            ch_y = np.maximum(np.maximum.accumulate(yk, axis=1), hi_y[:, None])
            good = valid & ((ch_x - cl_x) ** 2 + (ch_y - cl_y) ** 2 <= d2)
        else:
            good = valid & ((xk - xa[act, None]) ** 2 + (yk - ya[act, None]) ** 2 <= d2)
        bad = ~good
        stopped = bad.any(axis=1)
        first_bad = np.argmax(bad, axis=1)
        done = np.flatnonzero(stopped)
        end[act[done]] = start[done] + first_bad[done] - 1
        go = np.flatnonzero(~stopped)
        if box:
            lo_x, hi_x = cl_x[go, -1], ch_x[go, -1]
            lo_y, hi_y = cl_y[go, -1], ch_y[go, -1]
        act, start = act[go], start[go] + block
    return end


# --------------------------------------------------------------------------------------------
# Mode, compliance, minutes


def visit_modes(
    v: Visits,
    s: Stops,
    t: npt.ArrayLike,
    speed_mps: npt.ArrayLike,
    params: TrackParams = DEFAULT_PARAMS,
) -> VisitModes:
    """Mode, median speed and stopped time of each visit (see the module docstring).

    ``v`` and ``s`` must come from the same fixes ``t`` (epoch seconds, shape (n,)) and
    ``speed_mps`` (m/s, shape (n,), e.g. ``fix_speeds``). A visit's stopped time is the part
    of its presence intervals that lies within stops. A visit's median speed is NaN only when
    none of its inside fixes has a speed, which cannot happen when ``dwell_s > 0``; such a
    visit would be "mixed".
    """
    ta = np.asarray(t, dtype=np.float64)
    (sp,) = _coords(ta.size, speed_mps=speed_mps)
    n_visits = len(v)
    if n_visits == 0:
        return VisitModes(
            mode=np.zeros(0, dtype=np.int8), median_speed_mps=np.zeros(0), stopped_s=np.zeros(0)
        )
    # Intervals (k, k+1) inside a stop, weighted by their length.
    if ta.size > 1:
        inside_stop = np.cumsum(
            np.bincount(s.first, minlength=ta.size) - np.bincount(s.last, minlength=ta.size)
        )[:-1]
        stopped_dt = np.where(inside_stop > 0, ta[1:] - ta[:-1], 0.0)
    else:
        stopped_dt = np.zeros(0)
    span_stopped = _range_sums(stopped_dt, v.span_first, v.span_last)
    stopped = _group_sums(v.span_visit, span_stopped, n_visits)

    median = _visit_median_speed(v, sp)
    mode = np.full(n_visits, MODE_MIXED, dtype=np.int8)
    mode[median <= params.foot_max_mps] = MODE_FOOT
    mode[median >= params.vehicle_min_mps] = MODE_VEHICLE
    stationary = (stopped > 0) & (stopped >= params.stationary_share * v.dwell_s)
    mode[stationary] = MODE_STATIONARY
    return VisitModes(mode=mode, median_speed_mps=median, stopped_s=stopped)


def _visit_median_speed(v: Visits, speed: FloatArray) -> FloatArray:
    """Median of the finite speeds of each visit's inside fixes (NaN when there are none)."""
    n_visits = len(v)
    length = v.span_last - v.span_first + 1
    total = int(length.sum())
    offset = np.repeat(v.span_first - (np.cumsum(length) - length), length)
    fix = np.arange(total) + offset
    group = np.repeat(v.span_visit, length)
    sp = speed[fix]
    finite = np.isfinite(sp)
    sp, group = sp[finite], group[finite]
    count = np.bincount(group, minlength=n_visits)
    # numpy sorts complex numbers by real then imaginary part: an exact (visit, speed) sort.
    ordered = np.sort(group + 1j * sp).imag
    start = np.cumsum(count) - count
    median = np.full(n_visits, np.nan)
    has = count > 0
    lo = start[has] + (count[has] - 1) // 2
    hi = start[has] + count[has] // 2
    median[has] = 0.5 * (ordered[lo] + ordered[hi])
    return median


def koper_compliant(dwell_s: npt.ArrayLike, params: TrackParams = DEFAULT_PARAMS) -> BoolArray:
    """Bool per visit: ``koper_min_s <= dwell_s <= koper_max_s`` (seconds, inclusive)."""
    d = np.asarray(dwell_s, dtype=np.float64)
    out: BoolArray = (d >= params.koper_min_s) & (d <= params.koper_max_s)
    return out


def _clipped_spans(
    v: Visits, start: float | None, end: float | None
) -> tuple[FloatArray, FloatArray, IntArray]:
    s = v.span_start if start is None else np.maximum(v.span_start, start)
    e = v.span_end if end is None else np.minimum(v.span_end, end)
    keep = e > s
    return s[keep], e[keep], v.hotspot[v.span_visit[keep]]


def officer_minutes(
    v: Visits, n_hotspots: int, start: float | None = None, end: float | None = None
) -> FloatArray:
    """Float64 (n_hotspots,): minutes of presence summed over visits (so over officers).

    ``start``, ``end``: optional epoch seconds; only presence within [start, end] counts
    (e.g. one day). Presence is the visits' spans, so this is ``sum(dwell_s) / 60`` unclipped.
    """
    s, e, h = _clipped_spans(v, start, end)
    out: FloatArray = np.bincount(h, e - s, minlength=n_hotspots) / 60.0
    return out


def patrol_minutes(
    v: Visits, n_hotspots: int, start: float | None = None, end: float | None = None
) -> FloatArray:
    """Float64 (n_hotspots,): minutes with at least one officer present (union of spans).

    ``start``, ``end`` as in ``officer_minutes``. Always <= officer-minutes.
    """
    s, e, h = _clipped_spans(v, start, end)
    if s.size == 0:
        return np.zeros(n_hotspots)
    # Sweep the spans of each hot spot in start order; shifting hot spot h by h * stride makes
    # one running maximum serve every hot spot (stride > the whole time range).
    t0 = float(s.min())
    stride = float(e.max()) - t0 + 1.0
    order = np.lexsort((s, h))
    s, e, h = s[order], e[order], h[order]
    s_shift = s - t0 + h * stride
    e_shift = e - t0 + h * stride
    reach = np.maximum.accumulate(e_shift)
    prev = np.append(-np.inf, reach[:-1])
    new = np.maximum(e_shift - np.maximum(s_shift, prev), 0.0)
    out: FloatArray = np.bincount(h, new, minlength=n_hotspots) / 60.0
    return out


def analyze_tracks(
    track_id: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    index: HotspotIndex,
    *,
    accuracy_m: npt.ArrayLike | None = None,
    speed_mps: npt.ArrayLike | None = None,
    params: TrackParams = DEFAULT_PARAMS,
) -> TrackAnalysis:
    """Clean, then gaps, speeds, stops, visits, modes, Koper compliance and minutes.

    Inputs as in the module docstring (shape (n,), sorted by (track_id, t)); ``accuracy_m``
    in metres and ``speed_mps`` in m/s are optional, NaN where a fix did not report them.
    ``index`` holds the hot spots in the same projection as ``x``, ``y``.
    """
    tr, ta = _tracks(track_id, t)
    xa, ya = _coords(tr.size, x=x, y=y)
    ok = clean(tr, ta, xa, ya, accuracy_m, params)
    kept = np.flatnonzero(ok).astype(np.int64)
    tr, ta, xa, ya = tr[kept], ta[kept], xa[kept], ya[kept]
    device = None if speed_mps is None else _coords(ok.size, speed_mps=speed_mps)[0][kept]
    speed = fix_speeds(tr, ta, xa, ya, device, params)
    s = stops(tr, ta, xa, ya, params)
    v = visits(tr, ta, xa, ya, index, params)
    return TrackAnalysis(
        kept=kept,
        speed_mps=speed,
        gaps=gaps(tr, ta, params),
        stops=s,
        visits=v,
        modes=visit_modes(v, s, ta, speed, params),
        koper_compliant=koper_compliant(v.dwell_s, params),
        officer_minutes=officer_minutes(v, len(index)),
        patrol_minutes=patrol_minutes(v, len(index)),
    )
