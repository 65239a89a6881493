"""Stops on a real bus track: the production rule, Li's anchor rule and movingpandas, side by side.

Run: ``python bench/stops.py [--repeat 3]``. The track is ``tests/data/gps`` (Limerick bus 304,
2,144 fixes at 1-2 s, with the route's 36 true bus stops). Every rule runs with a 15 m distance
threshold and a 15 s minimum (a bus dwells 15-60 s): our rules keep the 120 s device-gap rule
of production, movingpandas has none (its ``TrajectoryStopDetector``, max_diameter 15 m).

Prints per rule: stops found, recall (share of the 36 true stops with a found stop within
30 m), precision (share of found stops within 30 m of a true stop), time IoU with
movingpandas' stop intervals (both without a gap rule, as in ``tests/analytics/test_tracks.py``)
and the best wall time of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import warnings
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from backend.analytics.projection import LocalProjection
from backend.analytics.tracks import TrackParams, stops
from backend.patrols.trackfiles import read_gpx
from bench.hotspots import best_of

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "gps"


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
    return inter / sum(e - s for s, e in union(a + b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import geopandas as gpd
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import movingpandas as mpd

    tf = read_gpx(DATA / "limerick_bus_304_2019-02-18.gpx")
    proj = LocalProjection(float(tf.lat[0]), float(tf.lon[0]))
    x, y = proj.to_xy(tf.lat, tf.lon)
    tr, t = np.zeros(len(tf), np.int64), tf.t
    with (DATA / "limerick_bus_304_stops.csv").open() as f:
        rows = list(csv.DictReader(f))
    tx, ty = proj.to_xy([float(r["lat"]) for r in rows], [float(r["lon"]) for r in rows])

    def recall_precision(sx: np.ndarray, sy: np.ndarray) -> tuple[float, float]:
        d = np.hypot(sx[:, None] - tx[None, :], sy[:, None] - ty[None, :])
        return float(np.mean(d.min(axis=0) <= 30.0)), float(np.mean(d.min(axis=1) <= 30.0))

    gdf = gpd.GeoDataFrame(
        {"geometry": gpd.points_from_xy(tf.lon, tf.lat)},
        index=pd.to_datetime(tf.t, unit="s"),
        crs="EPSG:4326",
    )
    detector = mpd.TrajectoryStopDetector(mpd.Trajectory(gdf, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {"max_diameter": 15.0, "min_duration": timedelta(seconds=15)}
        mpd_s, ranges = best_of(args.repeat, lambda: detector.get_stop_time_ranges(**kw))
        points = detector.get_stop_points(**kw)
    epoch = pd.Timestamp(0)
    theirs = [((r.t_0 - epoch).total_seconds(), (r.t_n - epoch).total_seconds()) for r in ranges]
    px, py = proj.to_xy(points.geometry.y.to_numpy(), points.geometry.x.to_numpy())

    default = TrackParams()
    base = replace(default, min_stop_s=15.0, stop_distance_m=15.0)
    print(f"bus 304: {t.size} fixes, {len(rows)} true stops; D = 15 m, T = 15 s")
    print(f"{'rule':<28}{'stops':>6}{'recall':>8}{'precision':>11}{'IoU mpd':>9}{'time ms':>9}")
    for method in ("window", "anchor"):
        p = replace(base, stop_method=method)
        sec, s = best_of(args.repeat, lambda p=p: stops(tr, t, x, y, p))
        free = stops(tr, t, x, y, replace(p, gap_s=math.inf))
        iou = interval_iou(list(zip(free.start, free.end, strict=True)), theirs)
        rec, prec = recall_precision(s.x, s.y)
        name = f"{method}{' (production)' if method == default.stop_method else ''}"
        print(f"{name:<28}{s.first.size:>6}{rec:>8.2f}{prec:>11.2f}{iou:>9.3f}{1e3 * sec:>9.1f}")
    rec, prec = recall_precision(px, py)
    row = f"{'movingpandas 0.23':<28}{len(theirs):>6}{rec:>8.2f}{prec:>11.2f}{1.0:>9.3f}"
    print(f"{row}{1e3 * mpd_s:>9.1f}")


if __name__ == "__main__":
    main()
