"""Writing the audit log. Call inside the transaction of the change being audited."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from backend.audit.models import AuditEvent


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def audit_record(
    *,
    actor: Any,
    action: str,
    obj: models.Model,
    before: Any = None,
    after: Any = None,
    subject: Any = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one audit row for ``action`` on ``obj`` by ``actor`` (None for the system)."""
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        subject=subject,
        before=_jsonable(before),
        after=_jsonable(after),
        ip=ip,
    )
