"""Local metric projection for one city: WGS84 degrees <-> metres on a tangent plane.

The plane is an equirectangular projection centred on an origin, with the WGS84 ellipsoid's
metres-per-degree at the origin latitude (meridional radius for y, prime-vertical radius times
cos(latitude) for x). x grows east, y grows north, both in metres, (0, 0) at the origin.

Accuracy: the scale is exact along the origin's meridian and parallel and drifts by about
``tan(|lat0|) * dy / 6371 km`` elsewhere. Distances from the origin are within 0.1% of the
WGS84 geodesic up to 30 km away for |lat0| <= 45 degrees (worst case about
``0.2 * tan(|lat0|) * d / 6371 km``: 0.08% at Chicago, 0.13% at 55 degrees). For 150 m cells in
a city of 20 km that is well under a metre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]

WGS84_A_M = 6_378_137.0
"""WGS84 semi-major axis, metres."""
WGS84_F = 1.0 / 298.257223563
"""WGS84 flattening."""
_WGS84_E2 = WGS84_F * (2.0 - WGS84_F)


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection centred on ``(origin_lat, origin_lon)`` in WGS84 degrees.

    ``to_xy`` and ``to_latlon`` are exact inverses of each other (up to float rounding).
    Use one projection per city and keep it fixed: cell keys from different periods are only
    comparable if they were computed with the same origin and cell size.
    """

    origin_lat: float
    origin_lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.origin_lat) and -89.0 <= self.origin_lat <= 89.0):
            raise ValueError(f"origin_lat must be in [-89, 89] degrees, got {self.origin_lat!r}")
        if not (math.isfinite(self.origin_lon) and -180.0 <= self.origin_lon <= 180.0):
            raise ValueError(f"origin_lon must be in [-180, 180] degrees, got {self.origin_lon!r}")

    @property
    def metres_per_degree_lat(self) -> float:
        """Metres per degree of latitude at the origin (WGS84 meridional radius * pi / 180)."""
        s2 = math.sin(math.radians(self.origin_lat)) ** 2
        m = WGS84_A_M * (1.0 - _WGS84_E2) / (1.0 - _WGS84_E2 * s2) ** 1.5
        return math.radians(m)

    @property
    def metres_per_degree_lon(self) -> float:
        """Metres per degree of longitude at the origin (WGS84 N * cos(lat) * pi / 180)."""
        phi = math.radians(self.origin_lat)
        n = WGS84_A_M / math.sqrt(1.0 - _WGS84_E2 * math.sin(phi) ** 2)
        return math.radians(n * math.cos(phi))

    def to_xy(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Project WGS84 ``lat``, ``lon`` (degrees, any broadcastable shape) to metres.

        Returns ``(x, y)`` float64 arrays of the broadcast shape: metres east and north of the
        origin. Longitudes are unwrapped to within 180 degrees of the origin, so a city on the
        antimeridian projects continuously.
        """
        lat_a = np.asarray(lat, dtype=np.float64)
        lon_a = np.asarray(lon, dtype=np.float64)
        dlon = (lon_a - self.origin_lon + 180.0) % 360.0 - 180.0
        x = dlon * self.metres_per_degree_lon
        y = (lat_a - self.origin_lat) * self.metres_per_degree_lat
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def to_latlon(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Inverse of ``to_xy``: metres east/north of the origin to WGS84 ``(lat, lon)`` degrees.

        Accepts any broadcastable shapes; longitudes are wrapped to [-180, 180).
        """
        x_a = np.asarray(x, dtype=np.float64)
        y_a = np.asarray(y, dtype=np.float64)
        lat = self.origin_lat + y_a / self.metres_per_degree_lat
        lon = (self.origin_lon + x_a / self.metres_per_degree_lon + 180.0) % 360.0 - 180.0
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def geometry_to_lonlat(self, geometry: BaseGeometry) -> BaseGeometry:
        """Return ``geometry`` (shapely, in this projection's metres) with WGS84 coordinates.

        Coordinates come out in GeoJSON / PostGIS order: (lon, lat) degrees, EPSG:4326.
        """

        def _inverse(coords: FloatArray) -> FloatArray:
            lat, lon = self.to_latlon(coords[:, 0], coords[:, 1])
            return np.column_stack([lon, lat])

        return shapely.transform(geometry, _inverse)

    def geometry_to_xy(self, geometry: BaseGeometry) -> BaseGeometry:
        """Return ``geometry`` given in WGS84 (lon, lat) degrees projected to metres (x, y)."""

        def _forward(coords: FloatArray) -> FloatArray:
            x, y = self.to_xy(coords[:, 1], coords[:, 0])
            return np.column_stack([x, y])

        return shapely.transform(geometry, _forward)
