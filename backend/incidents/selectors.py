"""Reads of incident data: imports and column mappings for the import pages, the harm index,
and incidents as numpy arrays for analyses and impact reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from backend.accounts.models import Role
from backend.config.celery import RESEND_AFTER
from backend.gis.layers import spreadsheet_safe
from backend.incidents.models import (
    ColumnMapping,
    HarmWeight,
    HarmWeightVersion,
    ImportStatus,
    Incident,
    IncidentImport,
    OffenceType,
)


def import_list_for(*, user: Any) -> QuerySet[IncidentImport]:
    """Imports ``user`` may see, newest first: analysts and admins all, anyone else none."""
    if not (getattr(user, "is_authenticated", False) and user.has_role(Role.ANALYST)):
        return IncidentImport.objects.none()
    return IncidentImport.objects.select_related("uploaded_by").order_by("-created_at", "-pk")


def import_unknown_offences(imp: IncidentImport) -> dict[str, int]:
    """{file value: rows} of offence values no offence type or alias matched."""
    return dict((imp.mapping or {}).get("unknown_offences") or {})


def column_mapping_list() -> QuerySet[ColumnMapping]:
    return ColumnMapping.objects.order_by("name")


def rejections_csv_rows(imp: IncidentImport) -> Iterable[list[object]]:
    """The stored rejections as CSV rows (header first), safe to open in a spreadsheet."""
    yield ["line", "field", "reason", "value"]
    for r in imp.rejections:
        yield [
            r.get("line"),
            r.get("field"),
            spreadsheet_safe(str(r.get("reason", ""))),
            spreadsheet_safe(str(r.get("value", ""))),
        ]


def harm_version_current() -> HarmWeightVersion:
    """The newest harm index version (the default table is version 1, made by a migration)."""
    version = HarmWeightVersion.objects.order_by("-number").first()
    if version is None:
        raise LookupError("No harm index version exists; run `python manage.py migrate`.")
    return version


def harm_weights_for(*, version: HarmWeightVersion) -> dict[int, float]:
    """{offence type id: harm in days of custody} for ``version``."""
    return dict(HarmWeight.objects.filter(version=version).values_list("offence_id", "days"))


@dataclass(frozen=True)
class IncidentPoints:
    """Incidents for analysis, as arrays: UTC epoch seconds, WGS84 degrees, ids (-1 = none)."""

    ids: np.ndarray
    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    offence_id: np.ndarray
    district_id: np.ndarray

    @property
    def size(self) -> int:
        return int(self.ids.size)


def incident_points(
    *, start: datetime, end: datetime, district_id: int | None = None
) -> IncidentPoints:
    """Incidents with ``start <= occurred_at < end`` (optionally one district) as arrays.

    One raw query returning numbers only: building a million model instances or datetimes
    would cost seconds, the numbers a fraction of that.
    """
    if connection.vendor == "postgresql":
        epoch = "EXTRACT(EPOCH FROM occurred_at)::float8"
    else:  # SQLite stores UTC text; julianday is exact to the millisecond
        epoch = "(julianday(occurred_at) - 2440587.5) * 86400.0"
    table = Incident._meta.db_table
    sql = (
        f"SELECT id, {epoch}, lat, lon, offence_id, COALESCE(district_id, -1) FROM {table} "
        "WHERE occurred_at >= %s AND occurred_at < %s"
    )
    # Adapt like the ORM does: SQLite compares datetimes as text in Django's own format.
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [adapt(start), adapt(end)]
    if district_id is not None:
        sql += " AND district_id = %s"
        params.append(district_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return IncidentPoints(
        ids=a[:, 0].astype(np.int64),
        t=np.round(a[:, 1], 3),
        lat=a[:, 2],
        lon=a[:, 3],
        offence_id=a[:, 4].astype(np.int64),
        district_id=a[:, 5].astype(np.int64),
    )


def import_by_client_uuid(client_uuid: uuid.UUID) -> IncidentImport | None:
    """The import recorded for ``client_uuid``, if any: a retried upload finds its first one.

    The one place the "stored once" check is made (the unique constraint on ``client_uuid``
    settles a race between two first uploads).
    """
    return IncidentImport.objects.filter(client_uuid=client_uuid).first()


def offence_choices() -> list[tuple[str, str]]:
    """(code, "Name (code)") of every offence type, by name: for offence pickers."""
    return [(o.code, f"{o.name} ({o.code})") for o in OffenceType.objects.order_by("name")]


def imports_due(*, now: datetime | None = None) -> list[int]:
    """Imports still pending ``RESEND_AFTER`` after they were recorded: their message was
    lost (the broker was down or restarted empty). Oldest first, at most 100 a sweep."""
    before = (now or timezone.now()) - RESEND_AFTER
    return list(
        IncidentImport.objects.filter(status=ImportStatus.PENDING, created_at__lt=before)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )
