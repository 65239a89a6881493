"""The benches' synthetic city: five district strips and square hot spots of 150 m at random.

Shared by ``bench/draw.py`` and ``bench/load.py``; call after ``django.setup()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

CITY_W_M, CITY_H_M = 15_000.0, 17_000.0


def district_strips(proj: Any, *, name: str, code: str) -> list[Any]:
    """Five districts, west to east, each a fifth of the city; ``name``/``code`` are format
    strings given the strip's index as ``k``."""
    from shapely.geometry import box, mapping

    from backend.accounts.models import District

    districts = []
    for k in range(5):
        x0 = -CITY_W_M / 2 + k * CITY_W_M / 5
        (la0, lo0), (la1, lo1) = (
            proj.to_latlon(x0, -CITY_H_M / 2),
            proj.to_latlon(x0 + CITY_W_M / 5, CITY_H_M / 2),
        )
        districts.append(
            District.objects.create(
                name=name.format(k=k),
                code=code.format(k=k),
                boundary=mapping(box(lo0, la0, lo1, la1)),
                min_lat=la0,
                min_lon=lo0,
                max_lat=la1,
                max_lon=lo1,
            )
        )
    return districts


def square_hotspots(
    run: Any, districts: list[Any], proj: Any, rng: np.random.Generator, n: int
) -> list[Any]:
    """``n`` hot spots of ``run``, 150 m squares placed uniformly at random, heavy-tailed harm;
    saved, in rank order."""
    from shapely.geometry import box, mapping

    from backend.hotspots.models import Hotspot

    xs = rng.uniform(-CITY_W_M / 2, CITY_W_M / 2, n)
    ys = rng.uniform(-CITY_H_M / 2, CITY_H_M / 2, n)
    spots = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        (la0, lo0), (la1, lo1) = proj.to_latlon(x - 75, y - 75), proj.to_latlon(x + 75, y + 75)
        lat, lon = proj.to_latlon(x, y)
        spots.append(
            Hotspot(
                run=run,
                rank=i + 1,
                district=districts[min(int((x + CITY_W_M / 2) // 3000), 4)],
                geometry=mapping(box(lo0, la0, lo1, la1)),
                centroid_lat=float(lat),
                centroid_lon=float(lon),
                cells=[[0, 0]],
                harm=float(rng.pareto(1.5) * 100),
                incident_count=int(rng.poisson(20)),
                counts_by_offence={},
                profile_24x7=[],
                gi_z_max=3.0,
                briefing={"one_line": f"Hot spot {i + 1}"},
            )
        )
    return Hotspot.objects.bulk_create(spots)
