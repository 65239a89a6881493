"""Synthetic incidents for the demo city and benchmarks: crime concentrated like real crime.

Pure numpy + shapely. Coordinates are WGS84 degrees (lon, lat); at city scale a uniform draw in
degrees is uniform in area to well under 1%. Times are agency-local, naive: a day index from the
start date and a minute of the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

METRES_PER_DEG_LAT = 111_320.0

# Relative incident rate by hour of day (0-23): low before dawn, an evening peak to 01:00.
HOUR_WEIGHTS = np.array(
    [
        5.0,
        4.5,
        3.8,
        2.8,
        2.0,
        1.6,
        1.8,
        2.4,
        3.0,
        3.3,
        3.5,
        3.8,
        4.0,
        4.0,
        4.1,
        4.4,
        4.8,
        5.2,
        5.6,
        6.0,
        6.4,
        6.6,
        6.4,
        5.8,
    ]
)
# Relative rate by weekday, Monday first: weekend peaks.
WEEKDAY_WEIGHTS = np.array([0.92, 0.9, 0.92, 0.96, 1.15, 1.3, 1.1])


@dataclass(frozen=True)
class SyntheticIncidents:
    """Parallel arrays, one row per incident.

    lon, lat: degrees (WGS84); offence: index into the caller's offence list; hot: whether the
    incident was drawn at a hot centre; day: days after the start date (local); minute: local
    minute of the day (0-1439).
    """

    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    offence: NDArray[np.int64]
    hot: NDArray[np.bool_]
    day: NDArray[np.int64]
    minute: NDArray[np.int64]


def uniform_points_in(
    area: shapely.Geometry, n: int, rng: np.random.Generator
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``n`` points uniform (in degrees) inside ``area`` by vectorized rejection sampling."""
    min_x, min_y, max_x, max_y = area.bounds
    shapely.prepare(area)
    xs: list[NDArray[np.float64]] = [np.empty(0)]
    ys: list[NDArray[np.float64]] = [np.empty(0)]
    have = 0
    while have < n:
        m = max(1024, int((n - have) * 1.6))
        x = rng.uniform(min_x, max_x, m)
        y = rng.uniform(min_y, max_y, m)
        keep = shapely.contains_xy(area, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def synthetic_incidents(
    *,
    rng: np.random.Generator,
    area: shapely.Geometry,
    n: int,
    days: int,
    start_weekday: int,
    offence_share: NDArray[np.float64],
    offence_hot_probability: NDArray[np.float64],
    n_centres: int = 80,
    centre_sigma_m: float = 70.0,
    zipf_exponent: float = 1.1,
) -> SyntheticIncidents:
    """Draw ``n`` incidents over ``days`` local days inside ``area`` (lon/lat polygon).

    Each offence k has a share ``offence_share[k]`` (normalised here) and a probability
    ``offence_hot_probability[k]`` of occurring at one of ``n_centres`` hot centres (popularity
    ~ rank^-zipf_exponent, Gaussian spread ``centre_sigma_m`` metres) rather than uniformly in
    the area. ``start_weekday`` is the weekday of day 0 (0 = Monday).
    """
    share = offence_share / offence_share.sum()
    offence = rng.choice(share.size, size=n, p=share).astype(np.int64)
    hot = rng.random(n) < offence_hot_probability[offence]
    n_hot = int(hot.sum())

    lon = np.empty(n)
    lat = np.empty(n)
    c_lon, c_lat = uniform_points_in(area, n_centres, rng)
    popularity = 1.0 / np.arange(1, n_centres + 1) ** zipf_exponent
    centre = rng.choice(n_centres, size=n_hot, p=popularity / popularity.sum())
    cos_lat = np.cos(np.radians(c_lat.mean()))
    lat[hot] = c_lat[centre] + rng.normal(0, centre_sigma_m, n_hot) / METRES_PER_DEG_LAT
    lon[hot] = c_lon[centre] + rng.normal(0, centre_sigma_m, n_hot) / (METRES_PER_DEG_LAT * cos_lat)
    b_lon, b_lat = uniform_points_in(area, n - n_hot, rng)
    lon[~hot] = b_lon
    lat[~hot] = b_lat

    weekday = (start_weekday + np.arange(days)) % 7
    day_p = WEEKDAY_WEIGHTS[weekday]
    day = rng.choice(days, size=n, p=day_p / day_p.sum()).astype(np.int64)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    minute = (hour * 60 + rng.integers(0, 60, n)).astype(np.int64)
    return SyntheticIncidents(lon, lat, offence, hot, day, minute)
