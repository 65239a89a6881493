"""Reading the audit log: the audit page's filtered list and its CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.config.localtime import local_day_bounds
from backend.gis.layers import spreadsheet_safe

CSV_HEADER = [
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "subject",
    "ip",
    "before",
    "after",
]


@dataclass(frozen=True)
class AuditFilter:
    """What the audit page shows: each field narrows the list; empty fields do not."""

    actor: str = ""  # username, exact
    subject: str = ""  # the officer whose data was read or changed: username, exact
    action: str = ""  # exact ("track.read") or a family ending in a dot ("mission.")
    object_type: str = ""  # "accounts.user"
    object_id: str = ""
    first: date | None = None  # agency-local days, inclusive
    last: date | None = None


def audit_events(*, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """Audit rows matching ``filters``, newest first, with actor and subject loaded."""
    rows = AuditEvent.objects.select_related("actor", "subject").order_by("-at", "-id")
    if filters.actor:
        rows = rows.filter(actor__username=filters.actor)
    if filters.subject:
        rows = rows.filter(subject__username=filters.subject)
    if filters.action.endswith("."):
        rows = rows.filter(action__startswith=filters.action)
    elif filters.action:
        rows = rows.filter(action=filters.action)
    if filters.object_type:
        rows = rows.filter(object_type=filters.object_type)
    if filters.object_id:
        rows = rows.filter(object_id=filters.object_id)
    if filters.first:
        rows = rows.filter(at__gte=local_day_bounds(filters.first)[0])
    if filters.last:
        rows = rows.filter(at__lt=local_day_bounds(filters.last + timedelta(days=1))[0])
    return rows


def audit_actions() -> list[str]:
    """Every action the log holds, for the page's suggestions."""
    return sorted(set(AuditEvent.objects.values_list("action", flat=True).distinct()))


def _who(user: Any) -> str:
    return user.username if user is not None else ""


def audit_csv_rows(rows: QuerySet[AuditEvent]) -> Iterator[list[Any]]:
    """Header then one row per event; every text cell made safe to open in a spreadsheet
    (a note typed by anyone may start with ``=``)."""
    import json

    yield CSV_HEADER
    for e in rows.iterator(chunk_size=2000):
        yield [
            spreadsheet_safe(value)
            for value in (
                timezone.localtime(e.at).isoformat(),
                _who(e.actor),
                e.action,
                e.object_type,
                e.object_id,
                _who(e.subject),
                e.ip or "",
                json.dumps(e.before, sort_keys=True) if e.before is not None else "",
                json.dumps(e.after, sort_keys=True) if e.after is not None else "",
            )
        ]
