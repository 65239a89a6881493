"""Benchmark the track analytics on a synthetic day: 500 officers x 8 h at one fix per 5 s.

Run: ``python bench/tracks.py [--officers 500] [--hours 8] [--step 5] [--seed 7] [--repeat 5]``.
2,880,000 fixes against 200 hot spots (unions of 150 m cells, 150-450 m across, scattered over
a 15 x 17 km city). Officers drive (8-16 m/s) to one of the 20 hot spots nearest them and
dwell parked, walk the hot spot (1.2-1.6 m/s), park and walk, or drive through it; or answer a
call within 3 km (drive, stay 5-30 min), or patrol on foot elsewhere. GPS
noise 3 m; 0.5% of fixes report a poor accuracy, 0.05% are jumps of 0.5-3 km, each officer has
0-3 device gaps of 2-10 minutes, and half the phones report a speed.

Prints one row per stage (best of ``--repeat``): clean, visits, stops, mode, officer/patrol
minutes, and ``analyze_tracks`` end to end; then peers: shapely ``contains_xy`` for the same
point-in-polygon work, and movingpandas' stop detector timed on a few officers and
extrapolated to all.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from backend.analytics.tracks import (
    TrackParams,
    analyze_tracks,
    build_hotspot_index,
    clean,
    fix_speeds,
    koper_compliant,
    officer_minutes,
    patrol_minutes,
    stops,
    visit_modes,
    visits,
)
from bench.hotspots import best_of

CITY_W_M, CITY_H_M = 15_000.0, 17_000.0
CELL_M = 150.0
N_HOTSPOTS = 200
T0 = 1_717_218_000.0  # 2024-06-01 05:00 UTC


def synthetic_hotspots(rng: np.random.Generator) -> list[shapely.Geometry]:
    """200 hot spots: 1-9 cells of a 150 m grid (a random subset of a 3 x 3 block, kept
    connected), at least 600 m apart, inside the city rectangle centred on (0, 0)."""
    polys: list[shapely.Geometry] = []
    centres: list[tuple[float, float]] = []
    nx, ny = int(CITY_W_M // CELL_M), int(CITY_H_M // CELL_M)
    while len(polys) < N_HOTSPOTS:
        gx, gy = int(rng.integers(2, nx - 4)), int(rng.integers(2, ny - 4))
        cx, cy = (gx - nx / 2) * CELL_M, (gy - ny / 2) * CELL_M
        if any((cx - a) ** 2 + (cy - b) ** 2 < 600.0**2 for a, b in centres):
            continue
        w, h = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        cells = [(i, j) for i in range(w) for j in range(h)]
        if len(cells) > 2 and rng.random() < 0.4:
            cells.remove(cells[-1])  # an L shape
        boxes = [
            shapely.box(
                cx + i * CELL_M, cy + j * CELL_M, cx + (i + 1) * CELL_M, cy + (j + 1) * CELL_M
            )
            for i, j in cells
        ]
        polys.append(shapely.union_all(boxes))
        centres.append((cx, cy))
    return polys


def _walk(
    rng: np.random.Generator,
    start: np.ndarray,
    n: int,
    speed: float,
    step: float,
    poly: shapely.Geometry | None,
) -> np.ndarray:
    """n positions of a walk at ``speed`` between random waypoints (inside ``poly`` if given)."""
    out = np.empty((n, 2))
    pos = start.astype(float).copy()
    minx, miny, maxx, maxy = poly.bounds if poly is not None else (*(start - 300), *(start + 300))
    target = pos
    for i in range(n):
        if np.hypot(*(target - pos)) < speed * step:
            while True:
                target = rng.uniform([minx, miny], [maxx, maxy])
                if poly is None or shapely.contains_xy(poly, *target):
                    break
        d = target - pos
        pos = pos + d / max(np.hypot(*d), 1e-9) * speed * step
        out[i] = pos
    return out


def _drive(start: np.ndarray, end: np.ndarray, speed: float, step: float) -> np.ndarray:
    """Positions every ``step`` s driving an L-shaped route (x first, then y)."""
    corner = np.array([end[0], start[1]])
    legs = [np.hypot(*(corner - start)), np.hypot(*(end - corner))]
    total = sum(legs)
    n = max(int(total / (speed * step)), 1)
    s = np.arange(1, n + 1) * (total / n)
    on_first = s <= legs[0]
    pts = np.empty((n, 2))
    f1 = np.where(legs[0] > 0, s / max(legs[0], 1e-9), 1.0)[:, None]
    f2 = ((s - legs[0]) / max(legs[1], 1e-9))[:, None]
    pts[on_first] = (start + f1 * (corner - start))[on_first]
    pts[~on_first] = (corner + f2 * (end - corner))[~on_first]
    return pts


def synthetic_day(
    n_officers: int,
    hours: float,
    step: float,
    polys: list[shapely.Geometry],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Fixes of ``n_officers`` tracks, sorted by (track_id, t); true positions plus noise."""
    n_fix = int(hours * 3600 / step)
    cents = np.array([[p.centroid.x, p.centroid.y] for p in polys])
    tracks, xs, ys, speeds = [], [], [], []
    half = np.array([CITY_W_M / 2, CITY_H_M / 2])
    for officer in range(n_officers):
        pos = rng.uniform(-half, half)
        pts: list[np.ndarray] = []
        spd: list[np.ndarray] = []
        count = 0
        while count < n_fix:
            kind = rng.choice(
                ["dwell", "walk", "park_walk", "drive_through", "call", "foot_patrol"],
                p=[0.25, 0.15, 0.15, 0.15, 0.2, 0.1],
            )
            if kind == "call":  # drive to an incident anywhere within 3 km, stay, leave
                target = np.clip(pos + rng.uniform(-3000, 3000, 2), -half, half)
                v = rng.uniform(10.0, 16.0)
                leg = _drive(pos, target, v, step)
                n = int(rng.uniform(5, 30) * 60 / step)
                pts += [leg, np.repeat(leg[-1][None], n, axis=0)]
                spd += [np.full(len(leg), v), np.zeros(n)]
                pos = leg[-1]
                count += len(leg) + n
                continue
            if kind == "foot_patrol":
                n = int(rng.uniform(10, 30) * 60 / step)
                w = rng.uniform(1.2, 1.6)
                pts.append(_walk(rng, pos, n, w, step, None))
                spd.append(np.full(n, w))
                pos = pts[-1][-1]
                count += n
                continue
            near = np.argsort(np.hypot(*(cents - pos).T))[:20]
            k = int(rng.choice(near))
            poly = polys[k]
            v = rng.uniform(8.0, 14.0)
            inside = np.array(poly.representative_point().coords[0])
            if kind == "drive_through":  # cross the hot spot and carry on 300 m beyond
                heading = (inside - pos) / max(np.hypot(*(inside - pos)), 1.0)
                inside = inside + 300.0 * heading
            leg = _drive(pos, inside, v, step)
            pts.append(leg)
            spd.append(np.full(len(leg), v))
            pos = leg[-1]
            count += len(leg)
            if kind == "dwell":
                n = int(rng.uniform(8, 16) * 60 / step)
                pts.append(np.repeat(pos[None], n, axis=0))
                spd.append(np.zeros(n))
                count += n
            elif kind in ("walk", "park_walk"):
                if kind == "park_walk":
                    n = int(rng.uniform(3, 5) * 60 / step)
                    pts.append(np.repeat(pos[None], n, axis=0))
                    spd.append(np.zeros(n))
                    count += n
                n = int(rng.uniform(10, 15) * 60 / step)
                w = rng.uniform(1.2, 1.6)
                pts.append(_walk(rng, pos, n, w, step, poly))
                spd.append(np.full(n, w))
                pos = pts[-1][-1]
                count += n
        p = np.concatenate(pts)[:n_fix]
        sp = np.concatenate(spd)[:n_fix]
        tracks.append(np.full(n_fix, officer, dtype=np.int64))
        xs.append(p[:, 0])
        ys.append(p[:, 1])
        speeds.append(sp if officer % 2 == 0 else np.full(n_fix, np.nan))
    n = n_officers * n_fix
    track_id = np.concatenate(tracks)
    t = T0 + np.tile(np.arange(n_fix) * step, n_officers) + rng.uniform(-0.4, 0.4, n)
    t = np.sort(t.reshape(n_officers, n_fix), axis=1).ravel()
    x = np.concatenate(xs) + rng.normal(0, 3.0, n)
    y = np.concatenate(ys) + rng.normal(0, 3.0, n)
    accuracy = rng.lognormal(np.log(8.0), 0.4, n)
    bad = rng.random(n) < 0.005
    accuracy[bad] = rng.uniform(60, 200, bad.sum())
    jump = rng.random(n) < 0.0005
    angle = rng.uniform(0, 2 * np.pi, jump.sum())
    dist = rng.uniform(500, 3000, jump.sum())
    x[jump] += dist * np.cos(angle)
    y[jump] += dist * np.sin(angle)
    speed = np.concatenate(speeds)
    speed = np.where(np.isnan(speed), np.nan, np.abs(speed + rng.normal(0, 0.3, n)))
    keep = np.ones(n, dtype=bool)
    for officer in range(n_officers):
        for _ in range(int(rng.integers(0, 4))):
            start = officer * n_fix + int(rng.integers(0, n_fix - 120))
            keep[start : start + int(rng.uniform(2, 10) * 60 / step)] = False
    return {
        "track_id": track_id[keep],
        "t": t[keep],
        "x": x[keep],
        "y": y[keep],
        "accuracy_m": accuracy[keep],
        "speed_mps": speed[keep],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--officers", type=int, default=500)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--step", type=float, default=5.0, help="Seconds between fixes.")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mpd-officers", type=int, default=5, help="0 skips movingpandas.")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    t_gen = time.perf_counter()
    polys = synthetic_hotspots(rng)
    d = synthetic_day(args.officers, args.hours, args.step, polys, rng)
    t_gen = time.perf_counter() - t_gen
    n = d["t"].size
    params = TrackParams()
    rows: list[tuple[str, str, float, str]] = []

    def add(stage: str, size: int, unit: str, seconds: float) -> None:
        rate = size / seconds
        shown = f"{rate / 1e6:,.2f} M" if rate >= 1e5 else f"{rate:,.0f}"
        rows.append((stage, f"{size:,} {unit}", seconds, f"{shown} {unit}/s"))

    t, index = best_of(args.repeat, lambda: build_hotspot_index(polys))
    add("hot spot index (5 m raster)", len(polys), "polygons", t)
    tr, tt, x, y = d["track_id"], d["t"], d["x"], d["y"]
    t, ok = best_of(args.repeat, lambda: clean(tr, tt, x, y, d["accuracy_m"], params))
    add("clean (accuracy, jumps)", n, "fixes", t)
    tr, tt, x, y, dev = tr[ok], tt[ok], x[ok], y[ok], d["speed_mps"][ok]
    m = tt.size
    budget = 0.0
    t, v = best_of(args.repeat, lambda: visits(tr, tt, x, y, index, params))
    budget += t
    add("visits (locate + link)", m, "fixes", t)
    t, s = best_of(args.repeat, lambda: stops(tr, tt, x, y, params))
    budget += t
    add(f"stops ({params.stop_method} rule, production)", m, "fixes", t)
    other = replace(params, stop_method="anchor" if params.stop_method == "window" else "window")
    t_other, _ = best_of(args.repeat, lambda: stops(tr, tt, x, y, other))
    add(f"  peer: stops, {other.stop_method} rule", m, "fixes", t_other)

    def mode() -> Any:
        sp = fix_speeds(tr, tt, x, y, dev, params)
        return visit_modes(v, s, tt, sp, params), koper_compliant(v.dwell_s, params)

    t, (vm, koper) = best_of(args.repeat, mode)
    budget += t
    add("mode (speeds, median, stopped)", m, "fixes", t)
    t, _ = best_of(
        args.repeat,
        lambda: (officer_minutes(v, len(polys)), patrol_minutes(v, len(polys))),
    )
    add("officer/patrol-minutes", len(v), "visits", t)
    rows.append(
        ("visits + stops + mode", f"{m:,} fixes", budget, f"{m / budget / 1e6:,.2f} M fixes/s")
    )

    def run_all() -> Any:
        return analyze_tracks(
            d["track_id"],
            d["t"],
            d["x"],
            d["y"],
            index,
            accuracy_m=d["accuracy_m"],
            speed_mps=d["speed_mps"],
            params=params,
        )

    t, result = best_of(args.repeat, run_all)
    add("analyze_tracks (all of it)", n, "fixes", t)
    rows.append(("", "", float("nan"), ""))

    union = shapely.union_all(polys)
    shapely.prepare(union)
    t, _ = best_of(args.repeat, lambda: shapely.contains_xy(union, x, y))
    add("peer: contains_xy, union", m, "fixes", t)
    bounds = shapely.bounds(np.asarray(polys, dtype=object))
    for p in polys:
        shapely.prepare(p)

    def per_polygon() -> Any:
        hits = []
        for k, (x0, y0, x1, y1) in enumerate(bounds):
            cand = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            hits.append(cand[shapely.contains_xy(polys[k], x[cand], y[cand])])
        return hits

    t, _ = best_of(min(args.repeat, 2), per_polygon)
    add("peer: contains_xy, box + polygon", m, "fixes", t)
    mpd_line = ""
    if args.mpd_officers:
        mpd_line = movingpandas_peer(tr, tt, x, y, args.mpd_officers, params, add, m)

    print(
        f"{args.officers} officers x {args.hours:g} h at 1 fix / {args.step:g} s = {n:,} fixes "
        f"({m:,} after cleaning); {len(polys)} hot spots; generated in {t_gen:.1f} s"
    )
    print(f"best of {args.repeat}, numpy {np.__version__}, shapely {shapely.__version__}\n")
    print(f"{'stage':<34} {'workload':>20} {'time':>10} {'rate':>20}")
    print("-" * 87)
    for stage, size, seconds, rate in rows:
        if not stage:
            print("-" * 87)
            continue
        print(f"{stage:<34} {size:>20} {seconds * 1e3:>8.1f}ms {rate:>20}")
    print()
    names = vm.names
    print(
        f"{len(v):,} visits ({sum(koper):,} Koper-compliant), {len(s.first):,} stops; modes: "
        + ", ".join(f"{k} {names.count(k):,}" for k in ("foot", "mixed", "vehicle", "stationary"))
    )
    print(
        f"officer-minutes {result.officer_minutes.sum():,.0f}, "
        f"patrol-minutes {result.patrol_minutes.sum():,.0f}; device gaps {len(result.gaps.start):,}"
    )
    if mpd_line:
        print(mpd_line)


def movingpandas_peer(
    tr: np.ndarray,
    tt: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    k: int,
    params: TrackParams,
    add: Callable[[str, int, str, float], None],
    m: int,
) -> str:
    """Time movingpandas' TrajectoryStopDetector on the first ``k`` officers; extrapolate."""
    from datetime import timedelta

    import geopandas as gpd
    import movingpandas as mpd
    import pandas as pd

    sel = tr < np.unique(tr)[k]
    n_sel = int(sel.sum())
    gdf = gpd.GeoDataFrame(
        {"track": tr[sel], "geometry": gpd.points_from_xy(x[sel], y[sel])},
        index=pd.to_datetime(tt[sel], unit="s"),
        crs="EPSG:3857",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coll = mpd.TrajectoryCollection(gdf, "track")
        t0 = time.perf_counter()
        ranges = mpd.TrajectoryStopDetector(coll).get_stop_time_ranges(
            max_diameter=params.stop_distance_m,
            min_duration=timedelta(seconds=params.min_stop_s),
        )
        t = time.perf_counter() - t0
    add("peer: movingpandas stops (extrap.)", m, "fixes", t * m / n_sel)
    return (
        f"movingpandas: {n_sel:,} fixes in {t:.2f} s ({len(ranges)} stops), extrapolated "
        f"linearly to {m:,} fixes"
    )


if __name__ == "__main__":
    main()
