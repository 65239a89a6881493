"""Writes for districts, beats and squads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from shapely.geometry import shape

from backend.accounts.maps import polygon_check
from backend.accounts.models import Beat, District, User
from backend.audit.services import audit_record
from backend.gis.boundaries import boundaries_read


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


def _boundary_save(obj: Any, *, kind: str, actor: Any) -> Any:
    """Save a district or beat ``obj`` (``kind`` names it in messages and audit actions): its
    boundary must be a valid polygon inside the agency area (``maps.polygon_check``); the
    bounding box is derived; the change is audited with the old and new values."""
    try:
        boundary, geom = polygon_check(obj.boundary, what=f"The {kind} boundary")
    except ValidationError as exc:
        raise ValidationError({"boundary": exc.messages}) from exc
    model = type(obj)
    before = (
        model.objects.filter(pk=obj.pk).values("name", "code", "boundary").first()
        if obj.pk
        else None
    )
    obj.boundary = boundary
    for name, value in _bbox(geom).items():
        setattr(obj, name, value)
    obj.save()
    audit_record(
        actor=actor,
        action=f"{kind}.update" if before else f"{kind}.create",
        obj=obj,
        before=before,
        after={"name": obj.name, "code": obj.code, "boundary": boundary},
    )
    return obj


@transaction.atomic
def district_save(*, district: District, actor: Any = None) -> District:
    """Save a district drawn or edited by hand (``_boundary_save``)."""
    saved: District = _boundary_save(district, kind="district", actor=actor)
    return saved


@transaction.atomic
def beat_save(*, beat: Beat, actor: Any = None) -> Beat:
    """Save a beat drawn or edited by hand (``_boundary_save``)."""
    saved: Beat = _boundary_save(beat, kind="beat", actor=actor)
    return saved


@dataclass(frozen=True)
class BoundaryImport:
    """What an import did: saved codes, or, when any feature is bad, nothing saved and every
    bad feature listed as ``(number in the file, name, reason)``."""

    saved: list[str]
    errors: list[tuple[int, str, str]]


def boundaries_import(
    *,
    path: str | Path,
    kind: str,
    name_field: str = "name",
    code_field: str | None = "code",
    district_field: str = "district",
    actor: Any = None,
) -> BoundaryImport:
    """Create or update districts (``kind="district"``) or beats (``kind="beat"``) from a
    GeoJSON, GeoPackage or zipped shapefile. Every feature is checked first (name present,
    valid polygon inside the agency area, a beat's district known); if any fails, nothing is
    saved and every failure is reported by feature. Codes default to the slugified name."""
    if kind not in {"district", "beat"}:
        raise ValueError("kind must be 'district' or 'beat'")
    features = boundaries_read(path)
    errors: list[tuple[int, str, str]] = []
    rows: list[tuple[str, str, dict[str, Any], District | None]] = []
    districts = {d.name.lower(): d for d in District.objects.all()}
    districts.update({d.code.lower(): d for d in District.objects.all()})
    for f in features:
        name = str(f.properties.get(name_field) or "").strip()
        label = name or f"(feature {f.number})"
        if not name:
            errors.append((f.number, label, f"no value in the name field {name_field!r}"))
            continue
        code = slugify(str(f.properties.get(code_field) or "") if code_field else "") or slugify(
            name
        )
        try:
            boundary, _geom = polygon_check(f.geometry, what="The boundary")
        except ValidationError as exc:
            errors.append((f.number, label, exc.messages[0]))
            continue
        district = None
        if kind == "beat":
            key = str(f.properties.get(district_field) or "").strip().lower()
            district = districts.get(key)
            if district is None:
                errors.append((f.number, label, f"unknown district {key!r} in {district_field!r}"))
                continue
        rows.append((name, code, boundary, district))
    if errors:
        return BoundaryImport(saved=[], errors=errors)
    with transaction.atomic():
        for name, code, boundary, district in rows:
            if kind == "district":
                obj: Any = District.objects.filter(code=code).first() or District(code=code)
                obj.name, obj.boundary = name, boundary
                district_save(district=obj, actor=actor)
            else:
                obj = Beat.objects.filter(code=code).first() or Beat(code=code)
                obj.name, obj.boundary, obj.district = name, boundary, district
                beat_save(beat=obj, actor=actor)
    return BoundaryImport(saved=[code for _, code, _, _ in rows], errors=[])


# What decides what a person may see and do: a change to any of these is audited.
ACCESS_FIELDS = ("role", "squad_id", "is_active", "is_staff", "is_superuser")


def user_access(*, user: User) -> dict[str, Any]:
    """The user's access as stored: role, squad, active and admin flags."""
    return {f: getattr(user, f) for f in ACCESS_FIELDS}


def user_access_audit(
    *, actor: Any, user: User, before: dict[str, Any] | None, ip: str | None = None
) -> None:
    """Audit who changed whose access from what to what, after ``user`` was saved with
    ``before`` (None for a new account). Call inside the transaction of the save; nothing is
    written when no access field changed. The action is ``user.role_change`` when the role
    changed, ``user.access_change`` for the squad or a flag, ``user.create`` for a new account.
    """
    after = user_access(user=user)
    if before is None:
        action, old, new = "user.create", None, after
    else:
        changed = [f for f in ACCESS_FIELDS if before.get(f) != after[f]]
        if not changed:
            return
        action = "user.role_change" if "role" in changed else "user.access_change"
        old = {f: before.get(f) for f in changed}
        new = {f: after[f] for f in changed}
    audit_record(actor=actor, action=action, obj=user, subject=user, before=old, after=new, ip=ip)
