"""Compliance exports: CSV rows safe to open in a spreadsheet, GeoJSON of hot spot rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shapely.geometry import shape

from backend.gis.layers import Layer, spreadsheet_safe
from backend.reports.compliance import COLUMNS, ComplianceResult
from backend.reports.selectors import Streak, hotspot_features


def _number(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return value


def compliance_csv_rows(
    result: ComplianceResult, *, streaks: dict[int, Streak] | None = None
) -> Iterator[list[Any]]:
    """Header, one row per group, then a totals row. The first column is named after the
    grouping (``hotspot``, ``officer``, ...) and holds its id or key; ``label`` its name."""
    extra = ["streak_current", "streak_longest"] if streaks is not None else []
    yield [result.by, "label", *COLUMNS, *extra]
    for row in result.rows():
        cells = [spreadsheet_safe(str(row["key"])), spreadsheet_safe(row["label"])]
        cells += [_number(row[c]) for c in COLUMNS]
        if streaks is not None:
            s = streaks.get(row["key"])
            cells += [s.current, s.longest] if s else ["", ""]
        yield cells
    totals = result.totals()
    yield ["total", "All", *(_number(totals[c]) for c in COLUMNS), *([""] * len(extra))]


def compliance_geojson(result: ComplianceResult) -> dict[str, Any]:
    """A FeatureCollection: each hot spot row with its polygon (WGS84 lon/lat) and columns.
    Only for ``by == "hotspot"``; other groupings have no one shape."""
    if result.by != "hotspot":
        raise ValueError("GeoJSON is for the hot spot grouping only")
    rows = result.rows()
    shapes = hotspot_features(hotspot_ids=[r["key"] for r in rows])
    features = []
    for row in rows:
        h = shapes.get(row["key"])
        if h is None:
            continue
        props = {
            "hotspot": h.pk,
            "rank": h.rank,
            "label": row["label"],
            "district": h.district.name if h.district else None,
            **{c: row[c] for c in COLUMNS},
        }
        features.append(
            {"type": "Feature", "id": h.pk, "geometry": h.geometry, "properties": props}
        )
    return {
        "type": "FeatureCollection",
        "properties": {"from": result.first.isoformat(), "to": result.last.isoformat()},
        "features": features,
    }


def compliance_layer(result: ComplianceResult) -> Layer:
    """The hot spot grouping as a GIS layer (polygons, EPSG:4326) for GeoPackage, GeoJSON or CSV
    through ``backend.gis``; other groupings have no one shape."""
    collection = compliance_geojson(result)
    fields = ["hotspot", "rank", "label", "district", *COLUMNS]
    return Layer(
        name="compliance",
        fields=fields,
        features=[(shape(f["geometry"]), f["properties"]) for f in collection["features"]],
    )
