"""One layer, three formats: GeoPackage (through pyogrio), GeoJSON and CSV with the same fields.

A :class:`Layer` is a name, an ordered field list and features: a shapely geometry (WGS84
lon/lat degrees, EPSG:4326) and a dict of properties each. Field names are what an analyst reads
in ArcGIS or QGIS, so keep them short, lower case, no spaces (shapefile-safe is <= 10
characters; GeoPackage has no limit).

Why pyogrio and not fiona: both wrap GDAL/OGR, but pyogrio ships GDAL inside its wheel for
Linux, macOS and Windows, is maintained with GeoPandas (its default engine since GeoPandas 1.0)
and writes whole columns at once (numpy arrays) instead of one feature at a time; fiona's last
release is older and slower per feature. The same wheel's GDAL serves GeoDjango's bindings.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:  # the module itself needs Django only to build a response
    from django.http import HttpResponse

CRS = "EPSG:4326"
# GeoJSON (RFC 7946) is always WGS84 lon/lat; the legacy "crs" member says so to programs that
# read it (ArcGIS, QGIS, GDAL) and is ignored by the rest.
GEOJSON_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
FORMATS = ("gpkg", "geojson", "csv")
CONTENT_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
}
# The schema of a GIS file route (``...-gis.<fmt>``): its ``fmt`` (drf-spectacular would read the
# route's regex as the pattern ``^gpkg|geojson|csv$``, which admits "gpkgx") and its answers.
GIS_FORMAT_PARAMETER = OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(CONTENT_TYPES))
GIS_FILE_RESPONSES = {
    (200, "application/geopackage+sqlite3"): OpenApiTypes.BINARY,
    (200, "application/geo+json"): OpenApiTypes.OBJECT,
    (200, "text/csv"): OpenApiTypes.STR,
}
CSV_GEOMETRY = "wkt_epsg4326"
CSV_CENTROID = ("centroid_lat", "centroid_lon")


@dataclass(frozen=True)
class Layer:
    """A named layer: ``fields`` in order; ``features`` as (geometry or None, properties)."""

    name: str
    fields: Sequence[str]
    features: Sequence[tuple[BaseGeometry | None, Mapping[str, Any]]] = field(default_factory=list)


def _column(values: list[Any]) -> np.ndarray:
    """A numpy column whose dtype GDAL maps to a field type: int64, float64, or text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return np.array([int(v) if v is not None else 0 for v in values], dtype=np.int64)
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = None if v is None else _text(v)
    return out


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def gpkg_write(
    path: str | Path,
    *,
    layer: str,
    features: Iterable[tuple[BaseGeometry | None, Mapping[str, Any]]],
    fields: Sequence[str] | None = None,
) -> int:
    """Write ``features`` as one GeoPackage layer named ``layer`` (EPSG:4326); return the count.

    Polygons and multipolygons in one layer are all written as MultiPolygon (one geometry type
    per layer, as ArcGIS expects). ``fields`` fixes the field order (default: the first
    feature's keys). The file is replaced if it exists.
    """
    from pyogrio.raw import write

    rows = list(features)
    names = list(fields) if fields is not None else (list(rows[0][1]) if rows else [])
    geoms = [g for g, _ in rows]
    kinds = {g.geom_type for g in geoms if g is not None}
    promote = bool(kinds) and kinds <= {"Polygon", "MultiPolygon"} and len(kinds) > 1
    geometry_type = "MultiPolygon" if promote else (kinds.pop() if len(kinds) == 1 else "Unknown")
    wkb = np.array([None if g is None else shapely.to_wkb(g) for g in geoms], dtype=object)
    columns = [_column([props.get(n) for _, props in rows]) for n in names]
    path = Path(path)
    if path.exists():
        path.unlink()
    write(
        str(path),
        wkb,
        columns,
        names,
        driver="GPKG",
        layer=layer,
        crs=CRS,
        geometry_type=geometry_type,
        promote_to_multi=promote,
        encoding="UTF-8",
    )
    return len(rows)


def layer_gpkg(layer: Layer, path: str | Path) -> int:
    return gpkg_write(path, layer=layer.name, features=layer.features, fields=layer.fields)


def layer_geojson(layer: Layer) -> dict[str, Any]:
    """A FeatureCollection with the layer's fields on every feature and the CRS named."""
    return {
        "type": "FeatureCollection",
        "name": layer.name,
        "crs": GEOJSON_CRS,
        "features": [
            {
                "type": "Feature",
                "geometry": mapping(g) if g is not None else None,
                "properties": {n: props.get(n) for n in layer.fields},
            }
            for g, props in layer.features
        ],
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9][-+0-9.,eE ]*")  # a negative number, e.g. a longitude


def spreadsheet_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (OWASP CSV injection) is prefixed
    with ``'``; a plain number such as ``-80.2`` and non-text values pass unchanged. The one
    rule for every CSV export."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def layer_csv_rows(layer: Layer) -> Iterator[list[Any]]:
    """Header then one row per feature: the fields, the centroid, and the geometry as WKT."""
    yield [*layer.fields, *CSV_CENTROID, CSV_GEOMETRY]
    for g, props in layer.features:
        c = g.centroid if g is not None and not g.is_empty else None
        yield [
            *(spreadsheet_safe(_csv_value(props.get(n))) for n in layer.fields),
            round(c.y, 6) if c is not None else "",
            round(c.x, 6) if c is not None else "",
            shapely.to_wkt(g, rounding_precision=7) if g is not None else "",
        ]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def layer_write(layer: Layer, *, fmt: str, path: str | Path) -> int:
    """Write ``layer`` to ``path`` in ``fmt`` (``gpkg``, ``geojson`` or ``csv``)."""
    if fmt == "gpkg":
        return layer_gpkg(layer, path)
    if fmt == "geojson":
        Path(path).write_text(json.dumps(layer_geojson(layer)), encoding="utf-8")
    elif fmt == "csv":
        with Path(path).open("w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(layer_csv_rows(layer))
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return len(layer.features)


def layer_bytes(layer: Layer, *, fmt: str) -> bytes:
    """The file's bytes (for an HTTP response); GeoPackage goes through a temporary file."""
    if fmt == "geojson":
        return json.dumps(layer_geojson(layer)).encode()
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf).writerows(layer_csv_rows(layer))
        return buf.getvalue().encode()
    if fmt == "gpkg":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{layer.name}.gpkg"
            layer_gpkg(layer, path)
            return path.read_bytes()
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def layer_response(layer: Layer, *, fmt: str, filename: str) -> HttpResponse:
    """An attachment ``HttpResponse`` holding ``layer`` as ``fmt`` (``filename`` without suffix)."""
    from django.http import HttpResponse

    response = HttpResponse(layer_bytes(layer, fmt=fmt), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
