"""Writes for districts and squads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from shapely.geometry import shape

from backend.accounts.models import District
from backend.audit.services import audit_record


def _validated_boundary(boundary: dict[str, Any]) -> tuple[float, float, float, float]:
    """Check a GeoJSON boundary and return its (min_lon, min_lat, max_lon, max_lat)."""
    if not isinstance(boundary, dict) or boundary.get("type") not in {"Polygon", "MultiPolygon"}:
        raise ValidationError({"boundary": "must be a GeoJSON Polygon or MultiPolygon"})
    try:
        geom = shape(boundary)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValidationError({"boundary": f"is not valid GeoJSON: {exc}"}) from exc
    if geom.is_empty or not geom.is_valid:
        raise ValidationError({"boundary": "is empty or self-intersecting"})
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValidationError({"boundary": "coordinates must be WGS84 lon/lat"})
    return min_lon, min_lat, max_lon, max_lat


@transaction.atomic
def district_upsert(
    *, name: str, code: str, boundary: dict[str, Any], actor: Any = None
) -> District:
    """Create or update the district ``code`` with a validated boundary; audited."""
    min_lon, min_lat, max_lon, max_lat = _validated_boundary(boundary)
    values = {
        "name": name,
        "boundary": boundary,
        "min_lat": min_lat,
        "min_lon": min_lon,
        "max_lat": max_lat,
        "max_lon": max_lon,
    }
    before = District.objects.filter(code=code).values("name", "min_lat", "min_lon").first()
    district, created = District.objects.update_or_create(code=code, defaults=values)
    audit_record(
        actor=actor,
        action="district.create" if created else "district.update",
        obj=district,
        before=before,
        after={"name": name, "min_lat": min_lat, "min_lon": min_lon},
    )
    return district
