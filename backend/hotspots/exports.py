"""CSV, GeoJSON and GIS-layer renderings of analysis runs, shared by the commands, the pages and
the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shapely.geometry import shape

from backend.gis.layers import Layer
from backend.hotspots.models import AnalysisRun, GridCell, Hotspot

GRID_CSV_COLUMNS = ["ix", "iy", "lat", "lon", "count", "harm", "gi_z"]
HOTSPOT_CSV_COLUMNS = [
    "rank",
    "id",
    "district",
    "harm",
    "count",
    "gi_z",
    "cells",
    "centroid_lat",
    "centroid_lon",
    "last_incident_at",
    "peak",
    "top_offence",
    "one_line",
]


def hotspot_feature(h: Hotspot) -> dict[str, Any]:
    """One hot spot as a GeoJSON Feature; ``id`` is the hot spot's id."""
    briefing = h.briefing or {}
    profile = h.profile_24x7 or []
    by_hour = [sum(day[hour] for day in profile) for hour in range(24)] if profile else []
    peak_hours = sorted(range(24), key=lambda hr: (-by_hour[hr], hr))[:3] if by_hour else []
    return {
        "type": "Feature",
        "id": h.pk,
        "geometry": h.geometry,
        "properties": {
            "rank": h.rank,
            "harm": h.harm,
            "count": h.incident_count,
            "gi_z": h.gi_z_max,
            "cells": len(h.cells),
            "counts_by_offence": h.counts_by_offence,
            "peak_hours": peak_hours,
            "cell_ids": h.cells,
            "district": h.district.name if h.district_id and h.district else None,
            "peak": briefing.get("peak_label", ""),
            "one_line": briefing.get("one_line", ""),
            "run": h.run_id,
            "hand_drawn": h.hand_drawn,
        },
    }


def hotspots_geojson(run: AnalysisRun) -> dict[str, Any]:
    hotspots = run.hotspots.select_related("district").order_by("rank")
    return {
        "type": "FeatureCollection",
        "features": [hotspot_feature(h) for h in hotspots],
        "properties": {
            "run": run.pk,
            "as_of": run.as_of.isoformat(),
            "lookback_days": run.lookback_days,
            "cell_size_m": run.cell_size_m,
            "window": run.window,
            "weights_version": run.weights_version.number,
            "concentration": run.concentration.get("sentence", ""),
        },
    }


def hotspots_csv_rows(run: AnalysisRun) -> Iterator[list[Any]]:
    yield HOTSPOT_CSV_COLUMNS
    for h in run.hotspots.select_related("district").order_by("rank"):
        top = (
            max(h.counts_by_offence.items(), key=lambda kv: kv[1])[0] if h.counts_by_offence else ""
        )
        yield [
            h.rank,
            h.pk,
            h.district.name if h.district else "",
            round(h.harm, 1),
            h.incident_count,
            round(h.gi_z_max, 3),
            len(h.cells),
            h.centroid_lat,
            h.centroid_lon,
            h.last_incident_at.isoformat() if h.last_incident_at else "",
            h.briefing.get("peak_label", ""),
            top,
            h.briefing.get("one_line", ""),
        ]


def grid_csv_rows(run: AnalysisRun) -> Iterator[list[Any]]:
    """Every non-empty cell: ``ix,iy,lat,lon,count,harm,gi_z`` (cell centre in degrees)."""
    yield GRID_CSV_COLUMNS
    cells = GridCell.objects.filter(run=run).order_by("iy", "ix")
    for ix, iy, lat, lon, count, harm, z in cells.values_list(*GRID_CSV_COLUMNS).iterator(
        chunk_size=5000
    ):
        yield [ix, iy, f"{lat:.6f}", f"{lon:.6f}", count, f"{harm:g}", f"{z:.6f}"]


def grid_geojson(run: AnalysisRun, *, min_z: float | None = None) -> dict[str, Any]:
    """Non-empty cells as squares (for the map's Gi* layer), optionally only z >= ``min_z``."""
    size = run.cell_size_m
    origin = run.grid.get("origin")
    from backend.analytics.projection import LocalProjection

    proj = LocalProjection(*origin) if origin else None
    cells = GridCell.objects.filter(run=run)
    if min_z is not None:
        cells = cells.filter(gi_z__gte=min_z)
    features = []
    for ix, iy, count, harm, z, rank in cells.values_list(
        "ix", "iy", "count", "harm", "gi_z", "hotspot_rank"
    ):
        if proj is None:
            continue
        lat0, lon0 = proj.to_latlon(ix * size, iy * size)
        lat1, lon1 = proj.to_latlon((ix + 1) * size, (iy + 1) * size)
        ring = [
            [float(lon0), float(lat0)],
            [float(lon1), float(lat0)],
            [float(lon1), float(lat1)],
            [float(lon0), float(lat1)],
            [float(lon0), float(lat0)],
        ]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "ix": ix,
                    "iy": iy,
                    "count": count,
                    "harm": harm,
                    "gi_z": z,
                    "hotspot_rank": rank,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


HOTSPOT_LAYER_FIELDS = [
    "hotspot_id",
    "rank",
    "district",
    "harm",
    "incidents",
    "gi_z",
    "cells",
    "hand_drawn",
    "peak",
    "top_offence",
    "summary",
    "last_incident",
    "run_id",
    "as_of",
]


def hotspots_layer(run: AnalysisRun) -> Layer:
    """The run's hot spots as a GIS layer (GeoPackage / GeoJSON / CSV through ``backend.gis``);
    ``hand_drawn`` is 1 for an analyst's hand-drawn hot spot."""
    features = []
    for h in run.hotspots.select_related("district").order_by("rank"):
        top = (
            max(h.counts_by_offence.items(), key=lambda kv: kv[1])[0] if h.counts_by_offence else ""
        )
        briefing = h.briefing or {}
        features.append(
            (
                shape(h.geometry),
                {
                    "hotspot_id": h.pk,
                    "rank": h.rank,
                    "district": h.district.name if h.district else "",
                    "harm": round(float(h.harm), 3),
                    "incidents": h.incident_count,
                    "gi_z": round(float(h.gi_z_max), 4),
                    "cells": len(h.cells),
                    "hand_drawn": h.hand_drawn,
                    "peak": briefing.get("peak_label", ""),
                    "top_offence": top,
                    "summary": briefing.get("one_line", "") or (h.note if h.hand_drawn else ""),
                    "last_incident": h.last_incident_at.isoformat() if h.last_incident_at else "",
                    "run_id": run.pk,
                    "as_of": run.as_of.isoformat(),
                },
            )
        )
    return Layer(name="hotspots", fields=HOTSPOT_LAYER_FIELDS, features=features)
