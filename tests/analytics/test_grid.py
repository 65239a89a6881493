"""Hot-spot grid: binning, Gi* (vs PySAL esda and a brute-force loop), top-K merging, summaries."""

from __future__ import annotations

import csv
import gzip
import itertools
import math
import warnings
from collections import defaultdict
from functools import cache
from pathlib import Path

import esda
import libpysal
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from shapely.geometry import MultiPolygon, Polygon

from backend.analytics.grid import (
    Grid,
    analyze,
    bin_cells,
    cell_sums,
    cells_polygon,
    concentration,
    gi_star,
    hotspot_cells_global,
    profile_24x7,
    stability,
    top_hotspots,
    top_hotspots_by_zone,
)
from backend.analytics.projection import LocalProjection
from tests.conftest import TEST_DATA

REPO = Path(__file__).resolve().parents[2]
DATA = TEST_DATA
CHICAGO = DATA / "crime" / "chicago_aggravated_assaults.csv.gz"
# A made-up but plausible harm scale by place type, to exercise non-unit weights.
LOC_HARM = {"residence": 3.0, "education": 5.0, "street": 1.0, "transportation": 2.0}


@cache
def chicago() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(lat, lon, loc_cat) of every Chicago row with coordinates."""
    lat, lon, cat = [], [], []
    with gzip.open(CHICAGO, "rt", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["latitude"] or not row["longitude"]:
                continue
            lat.append(float(row["latitude"]))
            lon.append(float(row["longitude"]))
            cat.append(row["loc_cat"])
    return np.array(lat), np.array(lon), cat


def chicago_xy() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat, lon, cat = chicago()
    x, y = LocalProjection(41.85, -87.68).to_xy(lat, lon)
    harm = np.array([LOC_HARM.get(c, 1.0) for c in cat])
    return x, y, harm


def gi_star_loop(values: list[list[float]]) -> list[list[float]]:
    """Textbook Gi* (Ord & Getis 1995), binary weights, self + queen neighbours, cell by cell."""
    ny, nx = len(values), len(values[0])
    flat = [v for row in values for v in row]
    n = len(flat)
    mean = sum(flat) / n
    s = math.sqrt(sum(v * v for v in flat) / n - mean * mean)
    out = [[0.0] * nx for _ in range(ny)]
    for r in range(ny):
        for c in range(nx):
            w_sum = 0
            local = 0.0
            for rr in range(ny):
                for cc in range(nx):
                    if abs(rr - r) <= 1 and abs(cc - c) <= 1:
                        w_sum += 1
                        local += values[rr][cc]
            denom_sq = (n * w_sum - w_sum * w_sum) / (n - 1) if n > 1 else 0.0
            if s > 1e-9 and denom_sq > 0:
                out[r][c] = (local - mean * w_sum) / (s * math.sqrt(denom_sq))
    return out


def esda_zs(values: np.ndarray) -> np.ndarray:
    ny, nx = values.shape
    w = libpysal.weights.lat2W(ny, nx, rook=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nan cells in degenerate grids
        g = esda.G_Local(values.ravel(), w, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs).reshape(ny, nx)


# --- binning ------------------------------------------------------------------------------


def test_bin_cells_floors_onto_cells_aligned_with_the_projection_origin() -> None:
    x = np.array([-0.1, 0.0, 149.9, 150.0, 449.0])
    y = np.array([300.0, 310.0, 299.99, 449.99, 450.0])
    grid = bin_cells(x, y, 150.0)
    # floor(x / 150) = -1, 0, 0, 1, 2 ; floor(y / 150) = 2, 2, 1, 2, 3
    assert (grid.i0, grid.j0, grid.x0, grid.y0) == (-1, 1, -150.0, 150.0)
    assert (grid.nx, grid.ny) == (4, 3)
    np.testing.assert_array_equal(grid.ix, [0, 1, 1, 2, 3])
    np.testing.assert_array_equal(grid.iy, [1, 1, 0, 1, 2])
    np.testing.assert_array_equal(grid.cell, [4, 5, 1, 6, 11])
    assert grid.to_global([(0, 0), (2, 3)]) == ((1, -1), (3, 2))


@pytest.mark.parametrize(
    ("x", "y", "size", "message"),
    [
        ([], [], 150.0, "zero points"),
        ([1.0, np.nan], [1.0, 2.0], 150.0, "finite"),
        ([1.0], [np.inf], 150.0, "finite"),
        ([1.0], [1.0], 0.0, "cell_size"),
        ([1.0, 2.0], [1.0], 150.0, "equal length"),
    ],
)
def test_bin_cells_rejects_bad_input(
    x: list[float], y: list[float], size: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bin_cells(np.array(x), np.array(y), size)


def test_cell_sums_match_a_python_loop_on_real_chicago_rows() -> None:
    x, y, harm = chicago_xy()
    x, y, harm = x[:4000], y[:4000], harm[:4000]
    grid = bin_cells(x, y, 150.0)
    count, harm_grid = cell_sums(grid, harm)

    loop_count: dict[tuple[int, int], int] = defaultdict(int)
    loop_harm: dict[tuple[int, int], float] = defaultdict(float)
    for xi, yi, hi in zip(x.tolist(), y.tolist(), harm.tolist(), strict=True):
        key = (math.floor(yi / 150.0), math.floor(xi / 150.0))
        loop_count[key] += 1
        loop_harm[key] += hi
    gy0, gx0 = min(k[0] for k in loop_count), min(k[1] for k in loop_count)
    assert (grid.j0, grid.i0) == (gy0, gx0)
    assert count.shape == (
        max(k[0] for k in loop_count) - gy0 + 1,
        max(k[1] for k in loop_count) - gx0 + 1,
    )
    assert count.sum() == 4000
    assert np.count_nonzero(count) == len(loop_count)
    for (gy, gx), c in loop_count.items():
        assert count[gy - gy0, gx - gx0] == c
        assert harm_grid[gy - gy0, gx - gx0] == pytest.approx(loop_harm[(gy, gx)])


# --- Gi* ----------------------------------------------------------------------------------


def test_gi_star_on_a_hand_worked_3x3_grid() -> None:
    # n = 9, sum = 3, mean = 1/3, mean of squares = 5/9, s^2 = 5/9 - 1/9 = 4/9, s = 2/3.
    # z = (S - W/3) / ((2/3) * sqrt((9W - W^2) / 8)):
    #   corner W=4: sqrt(20/8) = sqrt(2.5);  edge W=6: sqrt(18/8) = 1.5;  centre W=9: 0/0 -> 0.
    values = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    corner = (2 / 3) * math.sqrt(2.5)
    expected = np.array(
        [
            [(1 - 4 / 3) / corner, (1 - 2) / 1.0, (0 - 4 / 3) / corner],
            [(1 - 2) / 1.0, 0.0, (2 - 2) / 1.0],
            [(0 - 4 / 3) / corner, (2 - 2) / 1.0, (2 - 4 / 3) / corner],
        ]
    )
    # i.e. [[-1/sqrt(10), -1, -2/sqrt(2.5)], [-1, 0, 0], [-2/sqrt(2.5), 0, 1/sqrt(2.5)]]
    assert expected[0, 0] == pytest.approx(-1 / math.sqrt(10))
    np.testing.assert_allclose(gi_star(values), expected, atol=1e-12)


def test_gi_star_of_a_constant_grid_is_all_zero() -> None:
    np.testing.assert_array_equal(gi_star(np.full((4, 5), 7.0)), np.zeros((4, 5)))
    np.testing.assert_array_equal(gi_star(np.zeros((4, 5))), np.zeros((4, 5)))


@pytest.mark.parametrize("weighting", ["count", "loc_cat harm"])
def test_gi_star_equals_esda_on_real_chicago_assaults(weighting: str) -> None:
    x, y, harm = chicago_xy()
    grid = bin_cells(x, y, 150.0)
    count, harm_grid = cell_sums(grid, harm)
    values = count.astype(float) if weighting == "count" else harm_grid
    assert grid.nx * grid.ny > 40_000  # the whole city, empty cells included
    expected = esda_zs(values)
    assert np.isfinite(expected).all()
    ours = gi_star(values)
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
    assert (ours >= 1.96).sum() > 1000  # a real, non-trivial result


@pytest.mark.parametrize("shape", [(1, 7), (6, 1), (2, 5), (4, 4), (9, 13)])
def test_gi_star_equals_esda_on_thin_and_small_grids(shape: tuple[int, int]) -> None:
    values = np.random.default_rng(5).poisson(1.5, size=shape).astype(float)
    np.testing.assert_allclose(gi_star(values), esda_zs(values), rtol=0, atol=1e-9)


small_grids = st.tuples(st.integers(1, 6), st.integers(1, 6)).flatmap(
    lambda shape: arrays(np.float64, shape, elements=st.integers(0, 40).map(lambda v: v / 4))
)


@settings(max_examples=300, deadline=None)
@given(small_grids)
def test_gi_star_matches_a_brute_force_loop(values: np.ndarray) -> None:
    expected = np.array(gi_star_loop(values.tolist()))
    np.testing.assert_allclose(gi_star(values), expected, rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(small_grids.filter(lambda v: v.size >= 2))  # libpysal cannot build a 1-cell lattice
def test_gi_star_matches_esda_wherever_esda_is_defined(values: np.ndarray) -> None:
    expected = esda_zs(values)
    ours = gi_star(values)
    defined = np.isfinite(expected)
    np.testing.assert_allclose(ours[defined], expected[defined], rtol=0, atol=1e-9)
    assert (ours[~defined] == 0).all()


# --- top-K and merging --------------------------------------------------------------------


def merge_case() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """6x6 grid. (row, col): harm, z, count.

    A (1,1) 10 z3 c3; B (2,2) 8 z4 c2 touches A at a corner; C (2,3) 5 z2.5 c1 touches B
    on an edge; D (4,5) 7 z3 c4 is two rows from C; G (3,4) 0.5 z3 c1 touches C and D at
    corners; E (0,5) 1 z3 c1 touches nothing. H (5,0) 20 with z 1.5 and I (0,0) z 5 with
    harm 0 are never eligible.
    """
    harm, z, count = np.zeros((6, 6)), np.zeros((6, 6)), np.zeros((6, 6), dtype=np.int64)
    for (r, c), h, zz, n in [
        ((1, 1), 10, 3.0, 3),
        ((2, 2), 8, 4.0, 2),
        ((2, 3), 5, 2.5, 1),
        ((4, 5), 7, 3.0, 4),
        ((3, 4), 0.5, 3.0, 1),
        ((0, 5), 1, 3.0, 1),
        ((5, 0), 20, 1.5, 9),
        ((0, 0), 0, 5.0, 0),
    ]:
        harm[r, c], z[r, c], count[r, c] = h, zz, n
    return z, harm, count


def test_top_k_merges_edge_and_corner_touching_cells_and_keeps_separate_clusters_apart() -> None:
    z, harm, count = merge_case()
    spots = top_hotspots(z, harm, k=4, count=count)  # A, B, D, C by harm; G and E left out
    assert [(s.rank, s.cells, s.harm, s.count, s.z_max) for s in spots] == [
        (1, ((1, 1), (2, 2), (2, 3)), 23.0, 6, 4.0),
        (2, ((4, 5),), 7.0, 4, 3.0),
    ]


def test_a_cell_that_touches_two_clusters_joins_them_only_if_it_is_selected() -> None:
    z, harm, count = merge_case()
    spots = top_hotspots(z, harm, k=6, count=count)  # now G (3,4) and E are in
    assert [(s.cells, s.harm, s.count) for s in spots] == [
        (((1, 1), (2, 2), (2, 3), (3, 4), (4, 5)), 30.5, 11),
        (((0, 5),), 1.0, 1),
    ]


def test_top_k_skips_cells_below_z_min_or_without_harm() -> None:
    z, harm, count = merge_case()
    chosen = {c for s in top_hotspots(z, harm, k=100, count=count) for c in s.cells}
    assert (5, 0) not in chosen and (0, 0) not in chosen
    assert len(chosen) == 6
    assert top_hotspots(z, harm, k=100, z_min=3.5, count=count)[0].cells == ((2, 2),)
    assert top_hotspots(z, harm, k=0, count=count) == []


def test_harm_ties_are_broken_by_z_then_by_lower_cell_id() -> None:
    harm = np.array([[5.0, 0, 5.0], [0, 0, 0], [5.0, 0, 5.0]])
    z = np.array([[2.0, 0, 3.0], [0, 0, 0], [3.0, 0, 2.0]])
    count = np.ones((3, 3), dtype=np.int64)
    assert top_hotspots(z, harm, k=1, count=count)[0].cells == ((0, 2),)
    assert [s.cells for s in top_hotspots(z, harm, k=3, count=count)] == [
        ((0, 2),),
        ((2, 0),),
        ((0, 0),),
    ]


def test_cells_polygon_unions_squares_in_metres() -> None:
    grid = bin_cells(np.array([-150.0, 449.0]), np.array([300.0, 700.0]), 150.0)
    assert (grid.x0, grid.y0) == (-150.0, 300.0)
    edge = cells_polygon([(0, 0), (0, 1)], grid)
    assert isinstance(edge, Polygon)
    assert edge.bounds == (-150.0, 300.0, 150.0, 450.0)
    assert edge.area == pytest.approx(2 * 150.0**2)
    diagonal = cells_polygon([(0, 0), (1, 1)], grid)
    assert isinstance(diagonal, MultiPolygon)
    assert len(diagonal.geoms) == 2
    assert diagonal.area == pytest.approx(2 * 150.0**2)
    assert shapely.equals(
        cells_polygon([(1, 1), (0, 0), (0, 1)], grid),
        shapely.Polygon([(-150, 300), (150, 300), (150, 600), (0, 600), (0, 450), (-150, 450)]),
    )
    assert cells_polygon([], grid).is_empty


# --- summaries ----------------------------------------------------------------------------


def test_profile_24x7_bins_by_hotspot_weekday_and_hour() -> None:
    hour = np.array([20, 20, 3, 5, 23])
    weekday = np.array([4, 4, 5, 0, 6])
    member = np.array([0, 0, 1, -1, 1])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    harm = profile_24x7(hour, weekday, weights, member, n_hotspots=2)
    assert harm.shape == (2, 7, 24)
    assert (harm[0, 4, 20], harm[1, 5, 3], harm[1, 6, 23]) == (3.0, 3.0, 0.5)
    assert harm.sum() == 6.5  # the point outside every hot spot is not counted
    counts = profile_24x7(hour, weekday, None, member, n_hotspots=2)
    assert (counts[0, 4, 20], counts.sum()) == (2.0, 4.0)
    with pytest.raises(ValueError, match="hour"):
        profile_24x7(np.array([24]), np.array([0]), None, np.array([0]), 1)


def test_concentration_reports_both_area_shares_and_a_sentence() -> None:
    c = concentration(41.0, 100.0, n_selected_cells=26, n_nonempty_cells=1000, area_cells=4000)
    assert (c.harm_share, c.area_share_nonempty, c.area_share_grid) == (0.41, 0.026, 0.0065)
    assert c.sentence == "41% of harm in 2.6% of the area"
    tiny = concentration(3.0, 1000.0, n_selected_cells=2, n_nonempty_cells=5000, area_cells=9000)
    assert tiny.sentence == "0.3% of harm in 0.04% of the area"
    assert concentration(0.0, 0.0, 0, 0, 0).sentence == "0% of harm in 0% of the area"


def test_stability_is_the_share_of_current_cells_that_were_hot_before() -> None:
    s = stability([(1, 1), (1, 2), (5, 5), (9, 9)], [(1, 1), (5, 5), (7, 7)])
    assert (s.n_current, s.n_previous, s.n_common) == (4, 3, 2)
    assert s.retained_share == 0.5
    assert s.jaccard == pytest.approx(2 / 5)
    assert stability([], []).retained_share == 0.0 and stability([], []).jaccard == 0.0


# --- the whole pipeline -------------------------------------------------------------------


def synthetic(seed: int, shift_bbox: bool = False) -> dict[str, np.ndarray]:
    """3 x 3 km of uniform background plus a dense cluster near (1000, 2000) m."""
    rng = np.random.default_rng(seed)
    n_bg, n_hot = 3000, 400
    x = np.concatenate([rng.uniform(0, 3000, n_bg), rng.normal(1075, 60, n_hot)])
    y = np.concatenate([rng.uniform(0, 3000, n_bg), rng.normal(2075, 60, n_hot)])
    if shift_bbox:  # one far-away incident moves the grid origin by many cells
        x, y = np.append(x, -2000.0), np.append(y, -1500.0)
    n = x.size
    return {
        "x": x,
        "y": y,
        "harm": rng.choice([1.0, 2.0, 5.0], n),
        "category_idx": rng.integers(0, 3, n),
        "hour": rng.integers(0, 24, n),
        "weekday": rng.integers(0, 7, n),
        "t_seconds": rng.uniform(0, 365 * 86400, n).round(),
    }


def test_analyze_finds_the_planted_cluster_and_summarises_its_incidents() -> None:
    d = synthetic(1)
    result = analyze(**d, n_categories=3, cell_size=150.0, k=10)
    grid = result.grid
    assert len(result.hotspots) >= 1
    top = result.hotspots[0]
    # The cluster centre (1075, 2075) lies in global cell (13, 7), the top hot spot's core.
    assert (13, 7) in grid.to_global(top.cells)
    assert [h.rank for h in result.hotspots] == list(range(1, len(result.hotspots) + 1))
    assert all(a.harm >= b.harm for a, b in itertools.pairwise(result.hotspots))
    assert sum(len(h.cells) for h in result.hotspots) <= 10

    # Independent membership: which points fall inside each hot spot's polygon.
    for i, hs in enumerate(result.hotspots):
        poly = cells_polygon(hs.cells, grid)
        in_poly = shapely.contains_xy(poly, d["x"], d["y"])
        np.testing.assert_array_equal(result.member == i, in_poly)
        assert hs.count == in_poly.sum()
        assert hs.harm == pytest.approx(d["harm"][in_poly].sum())
        np.testing.assert_array_equal(
            result.category_counts[i], np.bincount(d["category_idx"][in_poly], minlength=3)
        )
        assert result.last_incident_t[i] == d["t_seconds"][in_poly].max()
        for wd, hr in [(0, 0), (3, 17), (6, 23)]:
            sel = in_poly & (d["weekday"] == wd) & (d["hour"] == hr)
            assert result.profile_count[i, wd, hr] == sel.sum()
            assert result.profile_harm[i, wd, hr] == pytest.approx(d["harm"][sel].sum())
        assert result.profile_count[i].sum() == hs.count

    in_any = result.member >= 0
    c = result.concentration
    assert c.harm_share == pytest.approx(d["harm"][in_any].sum() / d["harm"].sum())
    assert c.area_share_nonempty == sum(len(h.cells) for h in result.hotspots) / np.count_nonzero(
        result.count
    )


def test_global_cells_do_not_depend_on_the_bounding_box() -> None:
    d, shifted = synthetic(2), synthetic(2, shift_bbox=True)
    g1 = bin_cells(d["x"], d["y"], 150.0)
    g2 = bin_cells(shifted["x"], shifted["y"], 150.0)
    assert (g2.i0 - g1.i0, g2.j0 - g1.j0) == (-14, -10)  # floor(-2000/150), floor(-1500/150)
    cells1 = g1.to_global(zip(g1.iy.tolist(), g1.ix.tolist(), strict=True))
    cells2 = g2.to_global(zip(g2.iy[:-1].tolist(), g2.ix[:-1].tolist(), strict=True))
    assert cells1 == cells2


def test_stability_compares_periods_in_global_cells() -> None:
    # z_min = -inf makes the choice depend on harm only. (Gi* itself does depend on the study
    # area: the far incident adds empty cells, lowering the mean and raising every z.)
    first = analyze(**synthetic(2), n_categories=3, k=5, z_min=-np.inf)
    second = analyze(**synthetic(2, shift_bbox=True), n_categories=3, k=5, z_min=-np.inf)
    top_harm = np.sort(first.harm.ravel())[::-1][:6]
    assert len(set(top_harm.tolist())) == 6  # no harm ties, so z cannot reorder the top 5
    assert (second.grid.i0, second.grid.j0) != (first.grid.i0, first.grid.j0)
    same = stability(hotspot_cells_global(second), hotspot_cells_global(first))
    assert (same.n_current, same.retained_share, same.jaccard) == (5, 1.0, 1.0)
    # Comparing grid-relative cells instead would find no overlap at all.
    relative = stability(
        [c for h in second.hotspots for c in h.cells], [c for h in first.hotspots for c in h.cells]
    )
    assert relative.n_common == 0


def test_analyze_with_no_significant_cell_returns_no_hotspots() -> None:
    x = np.array([0.0, 200.0, 400.0, 0.0, 200.0, 400.0])
    y = np.array([0.0, 0.0, 0.0, 200.0, 200.0, 200.0])
    n = x.size
    result = analyze(
        x,
        y,
        np.ones(n),
        np.zeros(n, int),
        1,
        np.zeros(n, int),
        np.zeros(n, int),
        np.zeros(n),
        cell_size=150.0,
    )
    assert result.hotspots == ()
    assert result.category_counts.shape == (0, 1) and result.profile_count.shape == (0, 7, 24)
    assert (result.member == -1).all()
    assert result.concentration.sentence == "0% of harm in 0% of the area"


@pytest.mark.parametrize(
    ("field", "bad", "message"),
    [
        ("hour", 24, "hour"),
        ("weekday", -1, "weekday"),
        ("category_idx", 3, "category_idx"),
        ("harm", -1.0, "harm"),
        ("harm", np.nan, "harm"),
    ],
)
def test_analyze_rejects_out_of_range_inputs(field: str, bad: float, message: str) -> None:
    d = synthetic(3)
    d[field] = d[field].astype(float if field == "harm" else int)
    d[field][5] = bad
    with pytest.raises(ValueError, match=message):
        analyze(**d, n_categories=3)


def test_grid_is_a_frozen_dataclass() -> None:
    grid = bin_cells(np.array([0.0]), np.array([0.0]), 150.0)
    assert isinstance(grid, Grid)
    with pytest.raises(AttributeError):
        grid.nx = 5  # type: ignore[misc]


def test_top_k_applies_per_zone_and_never_merges_across_zones() -> None:
    # Two zones split down the middle; each strong cell pair straddles the border.
    harm = np.zeros((5, 6))
    harm[2, 2], harm[2, 3] = 9.0, 8.0  # touching, but cell (2,2) is zone 0 and (2,3) zone 1
    harm[0, 0] = 7.0  # zone 0
    harm[4, 5] = 1.0  # zone 1
    z = np.full((5, 6), 3.0)
    count = (harm > 0).astype(np.int64)
    zone = np.zeros((5, 6), dtype=np.int64)
    zone[:, 3:] = 1
    zone[4, 0] = -1
    found = top_hotspots_by_zone(z, harm, 1, count=count, cell_zone=zone)
    # k=1 per zone: zone 0 keeps (2,2) (harm 9), zone 1 keeps (2,3) (harm 8); not merged.
    assert [(h.rank, h.cells, h.harm) for h in found] == [(1, ((2, 2),), 9.0), (2, ((2, 3),), 8.0)]
    both = top_hotspots_by_zone(z, harm, 2, count=count, cell_zone=zone)
    assert [h.cells for h in both] == [((2, 2),), ((2, 3),), ((0, 0),), ((4, 5),)]
