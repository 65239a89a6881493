"""Writes for districts, beats and squads."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from shapely.geometry import shape

from backend.accounts.maps import polygon_check
from backend.accounts.models import Beat, District
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


def _bbox(geom: Any) -> dict[str, float]:
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    return {"min_lat": min_lat, "min_lon": min_lon, "max_lat": max_lat, "max_lon": max_lon}


@transaction.atomic
def district_save(*, district: District, actor: Any = None) -> District:
    """Save a district drawn or edited by hand (the admin's map): its boundary must be a valid
    polygon inside the agency area (``maps.polygon_check``); bounding box derived; audited."""
    try:
        boundary, geom = polygon_check(district.boundary, what="The district boundary")
    except ValidationError as exc:
        raise ValidationError({"boundary": exc.messages}) from exc
    before = (
        District.objects.filter(pk=district.pk).values("name", "code", "boundary").first()
        if district.pk
        else None
    )
    district.boundary = boundary
    for name, value in _bbox(geom).items():
        setattr(district, name, value)
    district.save()
    audit_record(
        actor=actor, action="district.update" if before else "district.create", obj=district,
        before=before, after={"name": district.name, "code": district.code, "boundary": boundary},
    )  # fmt: skip
    return district


@transaction.atomic
def beat_save(*, beat: Beat, actor: Any = None) -> Beat:
    """Save a beat: a valid polygon inside the agency area; bounding box derived; audited."""
    try:
        boundary, geom = polygon_check(beat.boundary, what="The beat boundary")
    except ValidationError as exc:
        raise ValidationError({"boundary": exc.messages}) from exc
    before = (
        Beat.objects.filter(pk=beat.pk).values("name", "code", "boundary").first()
        if beat.pk
        else None
    )
    beat.boundary = boundary
    for name, value in _bbox(geom).items():
        setattr(beat, name, value)
    beat.save()
    audit_record(
        actor=actor, action="beat.update" if before else "beat.create", obj=beat,
        before=before, after={"name": beat.name, "code": beat.code, "boundary": boundary},
    )  # fmt: skip
    return beat
