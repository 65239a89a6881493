"""Maps and drawn shapes: the maps' configuration, and the check every drawn shape passes.

Every map reads ``settings.LEAFLET_CONFIG`` (built from ``PRESENCE_TILE_*`` and the agency
area) when it renders: the web pages through :func:`map_config` (``static/js/map-base.js``),
django-leaflet's admin widgets through ``mapforms.PolygonWidget``, the phone app through its page.

A drawn shape (district or beat boundary, hand-drawn hot spot) passes :func:`polygon_check`:
a GeoJSON Polygon or MultiPolygon, valid (no self-intersection), inside the agency area.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from backend.analytics.projection import LocalProjection

POLYGON_TYPES = ("Polygon", "MultiPolygon")
MAX_VERTICES = 20_000  # a district boundary traced street by street stays far below this


def map_config() -> dict[str, Any]:
    """The maps' settings as plain JSON for ``static/js/map-base.js`` and the phone app."""
    cfg = settings.LEAFLET_CONFIG
    tiles = [
        {
            "url": url,
            "attribution": str(opts.get("attribution", "")),
            "max_zoom": int(opts.get("maxZoom", cfg.get("MAX_ZOOM", 19))),
        }
        for _name, url, opts in cfg.get("TILES", [])
    ]
    return {
        "tiles": tiles,
        "attribution_prefix": cfg.get("ATTRIBUTION_PREFIX") or "",
        "center": list(cfg.get("DEFAULT_CENTER") or settings.PRESENCE_ORIGIN),
        "zoom": cfg.get("DEFAULT_ZOOM") or 11,
        "max_zoom": cfg.get("MAX_ZOOM") or 19,
        "extent": list(cfg.get("SPATIAL_EXTENT") or settings.PRESENCE_AREA_EXTENT),
    }


def _outside_area_km(geom: BaseGeometry) -> float:
    """How far (km) the farthest vertex lies from the agency's origin."""
    coords = np.array(
        [c for poly in getattr(geom, "geoms", [geom]) for c in poly.exterior.coords], dtype=float
    )
    lat0, lon0 = settings.PRESENCE_ORIGIN
    x, y = LocalProjection(origin_lat=lat0, origin_lon=lon0).to_xy(coords[:, 1], coords[:, 0])
    return float(np.sqrt(x * x + y * y).max()) / 1000.0


def polygon_check(value: Any, *, what: str = "The shape") -> tuple[dict[str, Any], BaseGeometry]:
    """Check a drawn or imported shape; return (GeoJSON dict, shapely geometry).

    Raises ValidationError with a message an analyst can act on: not a polygon, not valid
    GeoJSON, invalid or self-intersecting (with where), or outside the agency area.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValidationError(f"{what} is not valid GeoJSON: {exc}") from exc
    if isinstance(value, dict) and value.get("type") == "Feature":
        value = value.get("geometry")
    if not isinstance(value, dict) or value.get("type") not in POLYGON_TYPES:
        got = value.get("type") if isinstance(value, dict) else type(value).__name__
        raise ValidationError(
            f"{what} must be a polygon (GeoJSON Polygon or MultiPolygon), not {got}."
        )
    try:
        geom = shape(value)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise ValidationError(f"{what} is not valid GeoJSON: {exc}") from exc
    if geom.is_empty:
        raise ValidationError(f"{what} is empty: draw at least three corners.")
    if len(geom.exterior.coords if geom.geom_type == "Polygon" else []) > MAX_VERTICES:
        raise ValidationError(f"{what} has more than {MAX_VERTICES:,} corners.")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationError(f"{what} must be in WGS84 longitude/latitude degrees.")
    if not geom.is_valid:
        reason = explain_validity(geom)  # e.g. "Self-intersection[-80.21 25.8]"
        where = re.search(r"\[(-?[0-9.eE+-]+) (-?[0-9.eE+-]+)\]", reason)
        near = f" near {float(where[2]):.5f}, {float(where[1]):.5f} (lat, lon)" if where else ""
        if "Self-intersection" in reason:
            raise ValidationError(
                f"{what} crosses itself{near}: redraw it so that its edges do not cross."
            )
        problem = reason.split("[")[0].strip() or "invalid"
        raise ValidationError(f"{what} is not a valid polygon ({problem}{near}).")
    if geom.area == 0:
        raise ValidationError(f"{what} has no area.")
    far = _outside_area_km(geom)
    radius = settings.PRESENCE_AREA_RADIUS_KM
    if far > radius:
        lat0, lon0 = settings.PRESENCE_ORIGIN
        raise ValidationError(
            f"{what} lies outside the agency area: a corner is {far:,.1f} km from the centre "
            f"({lat0}, {lon0}); the area reaches {radius:g} km."
        )
    return value, geom
