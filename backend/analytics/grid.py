"""Hot-spot grid analytics: binning, Getis-Ord Gi*, top-K cells, merging, profiles.

Coordinates are metres in a ``LocalProjection`` plane (x east, y north). Grids are numpy
arrays shaped ``(ny, nx)``: row ``iy`` runs south -> north, column ``ix`` west -> east, and
the flat cell id is ``iy * nx + ix`` (row-major, the same order as PySAL's ``lat2W``).
Cells are square, ``cell_size`` metres on a side; cell ``(iy, ix)`` covers
``[x0 + ix * size, x0 + (ix + 1) * size) x [y0 + iy * size, y0 + (iy + 1) * size)``.

Grid-relative cells ``(iy, ix)`` depend on the bounding box of the points analysed. To compare
periods use *global* cells ``(gy, gx) = (iy + j0, ix + i0)``, the cell's position counted from
the projection origin, which is the same for any data set binned with the same projection and
cell size (see ``Grid.to_global``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Cell = tuple[int, int]

HOURS_PER_WEEK = 168


@dataclass(frozen=True, eq=False)
class Grid:
    """Points binned into square cells over the bounding box of the points.

    Attributes:
        ix, iy: int64 arrays shaped (n_points,): each point's column and row.
        cell: int64 array shaped (n_points,): flat cell id ``iy * nx + ix``.
        nx, ny: number of columns and rows; the grid covers every point.
        i0, j0: global column and row of cell (0, 0), i.e. ``floor(min(x) / cell_size)``.
        x0, y0: metres, south-west corner of cell (0, 0) (``i0 * cell_size``, ``j0 * cell_size``).
        cell_size: metres.
    """

    ix: IntArray
    iy: IntArray
    cell: IntArray
    nx: int
    ny: int
    i0: int
    j0: int
    x0: float
    y0: float
    cell_size: float

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)``, the shape of every per-cell array of this grid."""
        return (self.ny, self.nx)

    def to_global(self, cells: Iterable[Cell]) -> tuple[Cell, ...]:
        """Grid-relative ``(iy, ix)`` cells -> global ``(gy, gx)`` cells (see module docstring)."""
        return tuple((iy + self.j0, ix + self.i0) for iy, ix in cells)


@dataclass(frozen=True)
class HotspotCells:
    """A micro hot spot: one or more selected cells that touch (8-connectivity).

    Attributes:
        rank: 1 = most harm.
        cells: grid-relative ``(iy, ix)`` cells, sorted by flat id.
        harm: harm summed over the cells (units of the input harm weights).
        count: incidents in the cells.
        z_max: highest Gi* z-score among the cells.
    """

    rank: int
    cells: tuple[Cell, ...]
    harm: float
    count: int
    z_max: float


@dataclass(frozen=True)
class Concentration:
    """How concentrated harm is in the selected cells.

    Attributes:
        harm_share: harm in the selected cells / all harm, in [0, 1].
        area_share_nonempty: selected cells / cells with at least one incident. This is the
            share used in ``sentence``: it is the conservative one (larger), since cells with no
            incident may lie outside the jurisdiction (water, other towns).
        area_share_grid: selected cells / all cells of the bounding grid. Smaller, and depends
            on the shape of the city's bounding box; shown for comparison with studies that
            count every street segment or cell.
        sentence: e.g. ``"41% of harm in 2.6% of the area"``.
    """

    harm_share: float
    area_share_nonempty: float
    area_share_grid: float
    sentence: str


@dataclass(frozen=True)
class Stability:
    """Overlap of this period's hot spot cells with the previous period's.

    Attributes:
        retained_share: |current & previous| / |current|; 0 when there are no current cells.
        jaccard: |current & previous| / |current | previous|; 0 when both are empty.
        n_current, n_previous, n_common: set sizes.
    """

    retained_share: float
    jaccard: float
    n_current: int
    n_previous: int
    n_common: int


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything ``analyze`` computes. ``H`` is the number of hot spots, ``C`` of categories.

    Attributes:
        grid: the binning (per-point cells included).
        count: int64 (ny, nx), incidents per cell.
        harm: float64 (ny, nx), harm per cell.
        z: float64 (ny, nx), Gi* z-scores of ``harm``.
        hotspots: H hot spots, rank 1 first.
        member: int64 (n_points,), index into ``hotspots`` of each point's hot spot, -1 if none.
        category_counts: int64 (H, C), incidents per hot spot and category.
        profile_count: int64 (H, 7, 24), incidents by weekday (0 = Monday) and hour.
        profile_harm: float64 (H, 7, 24), harm by weekday and hour.
        last_incident_t: float64 (H,), latest ``t_seconds`` of an incident in each hot spot.
        concentration: harm concentration in the selected cells.
    """

    grid: Grid
    count: IntArray
    harm: FloatArray
    z: FloatArray
    hotspots: tuple[HotspotCells, ...]
    member: IntArray
    category_counts: IntArray
    profile_count: IntArray
    profile_harm: FloatArray
    last_incident_t: FloatArray
    concentration: Concentration


def bin_cells(x: npt.ArrayLike, y: npt.ArrayLike, cell_size: float) -> Grid:
    """Bin points into square cells covering their bounding box.

    ``x``, ``y``: metres (shape (n,), n >= 1, finite) in a local projection; ``cell_size``:
    metres, > 0. The grid origin is ``floor(min / cell_size)`` cells from the projection origin,
    so cell edges line up across data sets binned with the same projection and size.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {xa.shape} and {ya.shape}")
    if xa.size == 0:
        raise ValueError("cannot bin zero points")
    if not (math.isfinite(cell_size) and cell_size > 0):
        raise ValueError(f"cell_size must be a positive number of metres, got {cell_size!r}")
    gx = np.floor(xa / cell_size)
    gy = np.floor(ya / cell_size)
    lo_x, hi_x, lo_y, hi_y = gx.min(), gx.max(), gy.min(), gy.max()
    # min/max propagate NaN, so one check per axis catches NaN and inf anywhere.
    if not all(math.isfinite(v) for v in (lo_x, hi_x, lo_y, hi_y)):
        raise ValueError("x and y must be finite")
    i0, j0 = int(lo_x), int(lo_y)
    ix = (gx - lo_x).astype(np.int64)
    iy = (gy - lo_y).astype(np.int64)
    nx, ny = int(hi_x - lo_x) + 1, int(hi_y - lo_y) + 1
    return Grid(
        ix=ix,
        iy=iy,
        cell=iy * nx + ix,
        nx=nx,
        ny=ny,
        i0=i0,
        j0=j0,
        x0=i0 * cell_size,
        y0=j0 * cell_size,
        cell_size=float(cell_size),
    )


def cell_sums(grid: Grid, weights: npt.ArrayLike) -> tuple[IntArray, FloatArray]:
    """Per-cell incident count and harm, each shaped ``grid.shape`` = (ny, nx).

    ``weights``: harm per point, shape (n_points,), any unit (e.g. crime-harm days).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != grid.cell.shape:
        raise ValueError(f"weights shape {w.shape} != points shape {grid.cell.shape}")
    n_cells = grid.nx * grid.ny
    count = np.bincount(grid.cell, minlength=n_cells).astype(np.int64).reshape(grid.shape)
    harm = np.bincount(grid.cell, weights=w, minlength=n_cells).astype(np.float64, copy=False)
    harm = harm.reshape(grid.shape)
    return count, harm


def _box3_sum(a: FloatArray) -> FloatArray:
    """Sum over each cell's 3x3 neighbourhood (self + 8 queen neighbours), zeros outside."""
    p = np.pad(a, 1)
    rows = p[:, :-2] + p[:, 1:-1] + p[:, 2:]
    out: FloatArray = rows[:-2] + rows[1:-1] + rows[2:]
    return out


def gi_star(values_2d: npt.ArrayLike) -> FloatArray:
    """Getis-Ord Gi* z-scores on a grid with binary queen weights including self.

    ``values_2d``: shape (ny, nx), e.g. harm per cell; every cell of the rectangle is an
    observation (empty cells count as zeros). Each cell's neighbourhood is itself plus its up
    to 8 neighbours (fewer on edges and corners). With ``n`` cells, mean ``m`` and population
    standard deviation ``s`` of all values, ``S_i`` the neighbourhood sum and ``W_i`` the
    neighbourhood size::

        z_i = (S_i - m * W_i) / (s * sqrt((n * W_i - W_i**2) / (n - 1)))

    This equals PySAL ``esda.G_Local(y, lat2W(ny, nx, rook=False), transform='B',
    star=True).Zs`` with ``y`` flattened row-major. Where that is undefined this returns 0:
    all values equal (s = 0), or the neighbourhood is the whole grid (W_i = n, grids up to 3x3).
    Returns float64 shaped (ny, nx).
    """
    v = np.asarray(values_2d, dtype=np.float64)
    if v.ndim != 2 or v.size == 0:
        raise ValueError(f"values_2d must be a non-empty 2-D array, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("values_2d must be finite")
    n = v.size
    mean = float(v.mean())
    sd = float(v.std())
    w = _box3_sum(np.ones_like(v))
    if n < 2 or sd <= 1e-12 * float(np.abs(v).max()):
        return np.zeros_like(v)
    s = _box3_sum(v)
    denom = sd * np.sqrt((n * w - w * w) / (n - 1))
    z = np.zeros_like(v)
    np.divide(s - mean * w, denom, out=z, where=denom > 0)
    return z


def top_hotspots(
    z: npt.ArrayLike,
    harm: npt.ArrayLike,
    k: int,
    z_min: float = 1.96,
    *,
    count: npt.ArrayLike,
) -> list[HotspotCells]:
    """Pick the top ``k`` cells by harm and merge touching ones into hot spots.

    ``z``, ``harm``, ``count``: per-cell arrays shaped (ny, nx) (Gi* z-scores, harm, incidents).
    A cell is eligible when ``z >= z_min`` and ``harm > 0``. Eligible cells are ordered by harm
    descending, ties broken by z descending, then by flat cell id ascending (so the result is
    deterministic), and the first ``k`` are kept. Kept cells that touch, by an edge or only by a
    corner (8-connectivity), form one hot spot; cells are never added to join two kept cells.
    Hot spots are ranked by harm descending (ties: higher ``z_max``, then lower first cell id).
    """
    z_a = np.asarray(z, dtype=np.float64)
    harm_a = np.asarray(harm, dtype=np.float64)
    count_a = np.asarray(count)
    if z_a.ndim != 2 or z_a.shape != harm_a.shape or z_a.shape != count_a.shape:
        raise ValueError(
            f"z, harm and count must share one 2-D shape, got {z_a.shape}, {harm_a.shape}, "
            f"{count_a.shape}"
        )
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    nx = z_a.shape[1]
    z_f, harm_f, count_f = z_a.ravel(), harm_a.ravel(), count_a.ravel()
    eligible = np.flatnonzero((z_f >= z_min) & (harm_f > 0))
    # lexsort: last key is primary -> harm desc, then z desc, then flat id asc.
    order = np.lexsort((eligible, -z_f[eligible], -harm_f[eligible]))
    chosen = eligible[order[:k]]
    if chosen.size == 0:
        return []

    labels = _components_8(chosen // nx, chosen % nx)
    groups = []
    for label in np.unique(labels):
        flat = np.sort(chosen[labels == label])
        groups.append(
            (
                float(harm_f[flat].sum()),
                float(z_f[flat].max()),
                flat,
            )
        )
    groups.sort(key=lambda g: (-g[0], -g[1], int(g[2][0])))
    return [
        HotspotCells(
            rank=rank,
            cells=tuple((int(c // nx), int(c % nx)) for c in flat),
            harm=harm_sum,
            count=int(count_f[flat].sum()),
            z_max=z_max,
        )
        for rank, (harm_sum, z_max, flat) in enumerate(groups, start=1)
    ]


def top_hotspots_by_zone(
    z: npt.ArrayLike,
    harm: npt.ArrayLike,
    k: int,
    z_min: float = 1.96,
    *,
    count: npt.ArrayLike,
    cell_zone: npt.ArrayLike,
) -> list[HotspotCells]:
    """``top_hotspots`` run separately in each zone (e.g. district), then ranked together.

    ``cell_zone``: int array shaped like ``z``, the zone of each cell (-1: in no zone, never
    selected). Each zone contributes at most ``k`` cells, merged only with touching cells of the
    same zone. The union is re-ranked by harm descending (ties as in ``top_hotspots``).
    """
    zone = np.asarray(cell_zone, dtype=np.int64)
    harm_a = np.asarray(harm, dtype=np.float64)
    if zone.shape != harm_a.shape:
        raise ValueError(f"cell_zone must have shape {harm_a.shape}, got {zone.shape}")
    found: list[HotspotCells] = []
    for value in np.unique(zone[zone >= 0]):
        in_zone = np.where(zone == value, harm_a, 0.0)
        found.extend(top_hotspots(z, in_zone, k, z_min, count=count))
    nx = harm_a.shape[1]
    found.sort(key=lambda h: (-h.harm, -h.z_max, h.cells[0][0] * nx + h.cells[0][1]))
    return [
        HotspotCells(rank=r, cells=h.cells, harm=h.harm, count=h.count, z_max=h.z_max)
        for r, h in enumerate(found, start=1)
    ]


def _components_8(rows: IntArray, cols: IntArray) -> IntArray:
    """Connected-component labels of cells under 8-connectivity (labels = smallest member index).

    O(k^2) memory in the number of cells ``k``; meant for the few hundred cells of a top-K.
    """
    adj = (np.abs(rows[:, None] - rows[None, :]) <= 1) & (
        np.abs(cols[:, None] - cols[None, :]) <= 1
    )
    labels = np.arange(rows.size, dtype=np.int64)
    while True:
        new = np.where(adj, labels[None, :], rows.size).min(axis=1)
        if np.array_equal(new, labels):
            return labels
        labels = new


def cells_polygon(cells: Iterable[Cell], grid: Grid) -> Polygon | MultiPolygon:
    """Union of the cells' squares, in the grid's local metres.

    ``cells``: grid-relative ``(iy, ix)``. Cells touching only at a corner stay separate parts
    of a MultiPolygon that share a vertex; an empty ``cells`` gives an empty Polygon.
    """
    cell_arr = np.asarray(list(cells), dtype=np.int64).reshape(-1, 2)
    if cell_arr.shape[0] == 0:
        return Polygon()
    size = grid.cell_size
    xmin = grid.x0 + cell_arr[:, 1] * size
    ymin = grid.y0 + cell_arr[:, 0] * size
    boxes = shapely.box(xmin, ymin, xmin + size, ymin + size)
    merged = shapely.union_all(boxes)
    if isinstance(merged, (Polygon, MultiPolygon)):
        return merged
    raise TypeError(f"unexpected geometry type {merged.geom_type}")  # pragma: no cover


def profile_24x7(
    hour: npt.ArrayLike,
    weekday: npt.ArrayLike,
    weights: npt.ArrayLike | None,
    member: npt.ArrayLike,
    n_hotspots: int,
) -> FloatArray:
    """Hour-by-day profiles for all hot spots in one ``np.bincount``.

    ``hour`` (0..23), ``weekday`` (0 = Monday .. 6), ``member`` (hot spot index, -1 for points
    in no hot spot): int arrays shaped (n_points,), local time. ``weights`` shaped (n_points,)
    (harm), or None to count incidents. Returns float64 shaped (n_hotspots, 7, 24).
    """
    m = np.asarray(member, dtype=np.int64)
    h = np.asarray(hour, dtype=np.int64)
    d = np.asarray(weekday, dtype=np.int64)
    if not (m.shape == h.shape == d.shape and m.ndim == 1):
        raise ValueError(f"hour, weekday, member must be 1-D of one length: {h.shape} {d.shape}")
    _check_range("hour", h, 23)
    _check_range("weekday", d, 6)
    if m.size and int(m.max()) >= n_hotspots:
        raise ValueError(f"member values must be < n_hotspots={n_hotspots}")
    inside = m >= 0
    index = m[inside] * HOURS_PER_WEEK + d[inside] * 24 + h[inside]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[inside]
    flat = np.bincount(index, weights=w, minlength=n_hotspots * HOURS_PER_WEEK)
    return flat.astype(np.float64).reshape(n_hotspots, 7, 24)


def concentration(
    harm_cells_selected: float,
    harm_total: float,
    n_selected_cells: int,
    n_nonempty_cells: int,
    area_cells: int,
) -> Concentration:
    """Harm share and area share of the selected cells (see ``Concentration``).

    Harm in any unit; areas in cells: ``n_nonempty_cells`` is cells with >= 1 incident,
    ``area_cells`` all cells of the bounding grid (nx * ny). Zero denominators give 0.
    """
    harm_share = harm_cells_selected / harm_total if harm_total > 0 else 0.0
    area_nonempty = n_selected_cells / n_nonempty_cells if n_nonempty_cells > 0 else 0.0
    area_grid = n_selected_cells / area_cells if area_cells > 0 else 0.0
    return Concentration(
        harm_share=harm_share,
        area_share_nonempty=area_nonempty,
        area_share_grid=area_grid,
        sentence=f"{_percent(harm_share)} of harm in {_percent(area_nonempty)} of the area",
    )


def _percent(share: float) -> str:
    """0.4132 -> '41%', 0.0261 -> '2.6%', 0.00042 -> '0.04%'."""
    pct = 100.0 * share
    if pct == 0 or pct >= 10:
        return f"{pct:.0f}%"
    if pct >= 0.1:
        return f"{pct:.1f}%"
    return f"{pct:.2f}%"


def stability(current_cells: Iterable[Cell], previous_cells: Iterable[Cell]) -> Stability:
    """Share of this period's hot spot cells that were hot spot cells last period, and Jaccard.

    Cells must be in one frame for both periods: use global cells (``Grid.to_global``) from
    grids built with the same projection and cell size.
    """
    cur, prev = set(current_cells), set(previous_cells)
    common = len(cur & prev)
    union = len(cur | prev)
    return Stability(
        retained_share=common / len(cur) if cur else 0.0,
        jaccard=common / union if union else 0.0,
        n_current=len(cur),
        n_previous=len(prev),
        n_common=common,
    )


def _check_range(name: str, arr: IntArray, hi: int) -> None:
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) > hi):
        raise ValueError(f"{name} values must be in [0, {hi}]")


def analyze(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    harm: npt.ArrayLike,
    category_idx: npt.ArrayLike,
    n_categories: int,
    hour: npt.ArrayLike,
    weekday: npt.ArrayLike,
    t_seconds: npt.ArrayLike,
    cell_size: float = 150.0,
    k: int = 20,
    z_min: float = 1.96,
    cell_zone_of: Callable[[Grid], IntArray] | None = None,
) -> AnalysisResult:
    """Run the hot-spot pipeline on one set of incidents (already filtered to period/window).

    Per-point inputs, all shaped (n,): ``x``, ``y`` metres in a ``LocalProjection``; ``harm``
    weight (>= 0); ``category_idx`` in [0, n_categories); ``hour`` 0..23 and ``weekday``
    0 (Monday)..6 in local time; ``t_seconds`` event time in seconds (e.g. Unix time).
    ``cell_size`` metres; ``k`` cells kept; ``z_min`` Gi* threshold. ``cell_zone_of``, when
    given, maps the grid to a (ny, nx) zone per cell and ``k`` then applies per zone (see
    ``top_hotspots_by_zone``); Gi* is always computed on the whole grid. Steps: bin, per-cell
    count and harm, Gi* on harm, top-``k`` cells merged into hot spots, then per hot spot the
    counts by category, 24x7 profiles and last incident, and the harm concentration.
    """
    grid = bin_cells(x, y, cell_size)
    n = grid.cell.size
    harm_a = np.asarray(harm, dtype=np.float64)
    cat = np.asarray(category_idx, dtype=np.int64)
    hour_a = np.asarray(hour, dtype=np.int64)
    wd = np.asarray(weekday, dtype=np.int64)
    t = np.asarray(t_seconds, dtype=np.float64)
    named = {"harm": harm_a, "category_idx": cat, "hour": hour_a, "weekday": wd, "t_seconds": t}
    for name, arr in named.items():
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if n_categories < 1:
        raise ValueError(f"n_categories must be >= 1, got {n_categories}")
    _check_range("category_idx", cat, n_categories - 1)
    _check_range("hour", hour_a, 23)
    _check_range("weekday", wd, 6)
    if not (harm_a.min() >= 0 and np.isfinite(harm_a.max())):
        raise ValueError("harm must be finite and >= 0")

    count_grid, harm_grid = cell_sums(grid, harm_a)
    z = gi_star(harm_grid)
    if cell_zone_of is None:
        hotspots = tuple(top_hotspots(z, harm_grid, k, z_min, count=count_grid))
    else:
        zones = cell_zone_of(grid)
        hotspots = tuple(
            top_hotspots_by_zone(z, harm_grid, k, z_min, count=count_grid, cell_zone=zones)
        )
    n_h = len(hotspots)

    cell_to_hotspot = np.full(grid.nx * grid.ny, -1, dtype=np.int64)
    for i, hs in enumerate(hotspots):
        for iy, ix in hs.cells:
            cell_to_hotspot[iy * grid.nx + ix] = i
    member = cell_to_hotspot[grid.cell]

    # Hot spots hold a small share of points: subset once, then every per-hot-spot
    # aggregate is a bincount over that subset.
    sel = np.flatnonzero(member >= 0)
    m_sel = member[sel]
    category_counts = (
        np.bincount(m_sel * n_categories + cat[sel], minlength=n_h * n_categories)
        .astype(np.int64)
        .reshape(n_h, n_categories)
    )
    profile_count = profile_24x7(hour_a[sel], wd[sel], None, m_sel, n_h).astype(np.int64)
    profile_harm = profile_24x7(hour_a[sel], wd[sel], harm_a[sel], m_sel, n_h)
    last_t = np.full(n_h, -np.inf)
    np.maximum.at(last_t, m_sel, t[sel])

    n_selected = sum(len(hs.cells) for hs in hotspots)
    conc = concentration(
        harm_cells_selected=float(sum(hs.harm for hs in hotspots)),
        harm_total=float(harm_grid.sum()),
        n_selected_cells=n_selected,
        n_nonempty_cells=int(np.count_nonzero(count_grid)),
        area_cells=grid.nx * grid.ny,
    )
    return AnalysisResult(
        grid=grid,
        count=count_grid,
        harm=harm_grid,
        z=z,
        hotspots=hotspots,
        member=member,
        category_counts=category_counts,
        profile_count=profile_count,
        profile_harm=profile_harm,
        last_incident_t=last_t,
        concentration=conc,
    )


def hotspot_cells_global(result: AnalysisResult) -> tuple[Cell, ...]:
    """All hot spot cells of ``result`` as global ``(gy, gx)`` cells, for ``stability``."""
    return result.grid.to_global(c for hs in result.hotspots for c in hs.cells)


__all__ = [
    "AnalysisResult",
    "Concentration",
    "Grid",
    "HotspotCells",
    "Stability",
    "analyze",
    "bin_cells",
    "cell_sums",
    "cells_polygon",
    "concentration",
    "gi_star",
    "hotspot_cells_global",
    "profile_24x7",
    "stability",
    "top_hotspots",
]
