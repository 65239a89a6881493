"""Read boundary files (GeoJSON, GeoPackage, zipped shapefile) into features to check and save.

Reading goes through pyogrio (GDAL), so every format GDAL reads works; a ``.zip`` is read as a
zipped shapefile (``/vsizip/``). Coordinates must be WGS84 longitude/latitude: a file in another
coordinate system is refused with its CRS named (reproject it in QGIS or ArcGIS first), since a
silently wrong projection would put every boundary in the sea.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping

WGS84_NAMES = ("EPSG:4326", "OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84")
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp")


class BoundaryFileError(ValueError):
    """The file as a whole cannot be read (format, CRS, no layer)."""


@dataclass(frozen=True)
class BoundaryFeature:
    """One feature: its 1-based number in the file, its attributes, and its geometry as a
    GeoJSON dict (None when the file has no geometry for it)."""

    number: int
    properties: dict[str, Any]
    geometry: dict[str, Any] | None


def boundaries_read(path: str | Path, *, layer: str | None = None) -> list[BoundaryFeature]:
    """Every feature of ``path`` (first layer unless ``layer``), in file order."""
    from pyogrio.errors import DataLayerError, DataSourceError
    from pyogrio.raw import read

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise BoundaryFileError(
            f"{path.name}: expected GeoJSON (.geojson/.json), GeoPackage (.gpkg) or a zipped "
            "shapefile (.zip)"
        )
    source = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        meta, _fids, wkb, columns = read(source, layer=layer)
    except (DataSourceError, DataLayerError) as exc:
        raise BoundaryFileError(f"{path.name}: cannot be read as a boundary file: {exc}") from exc
    crs = meta.get("crs")
    if crs and crs not in WGS84_NAMES:
        raise BoundaryFileError(
            f"{path.name}: coordinates are in {crs}; reproject to EPSG:4326 (WGS84 lon/lat) first"
        )
    names = list(meta["fields"])
    out = []
    for i in range(len(wkb) if wkb is not None else 0):
        props = {n: _plain(columns[j][i]) for j, n in enumerate(names)}
        geom = None
        if wkb[i] is not None:
            try:
                geom = json.loads(json.dumps(mapping(shapely.from_wkb(wkb[i]))))
            except shapely.errors.GEOSException:
                geom = {"type": "Invalid", "coordinates": []}
        out.append(BoundaryFeature(number=i + 1, properties=props, geometry=geom))
    return out


def _plain(value: Any) -> Any:
    """numpy scalars to Python values."""
    return value.item() if hasattr(value, "item") else value
