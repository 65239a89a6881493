"""Writing the audit log. Call inside the transaction of the change being audited."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest

from backend.audit.models import AuditEvent


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def request_ip(request: HttpRequest) -> str | None:
    """The client's address for the audit log. Behind ``PRESENCE_TRUSTED_PROXIES`` reverse
    proxies (nginx: 1) it is the address the nearest trusted proxy saw, read from the right of
    ``X-Forwarded-For`` (entries further left are the client's to forge); with none it is the
    socket's."""
    hops = settings.PRESENCE_TRUSTED_PROXIES
    if hops:
        header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        forwarded = [a.strip() for a in header.split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= hops and _is_ip(forwarded[-hops]):
            return forwarded[-hops]
    remote = request.META.get("REMOTE_ADDR")
    return str(remote) if remote and _is_ip(str(remote)) else None


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


def audit_record_each(
    *,
    actor: Any,
    action: str,
    objs: Sequence[models.Model],
    subjects: Sequence[Any],
    after: Any = None,
    ip: str | None = None,
) -> list[AuditEvent]:
    """One audit row per object, as ``audit_record`` would append them one by one (``objs[i]``
    about ``subjects[i]``, the same ``after`` on each), written in one INSERT: a sergeant's
    live map reads every officer of the squad at each refresh."""
    actor_or_none = actor if getattr(actor, "pk", None) else None
    after_json = _jsonable(after)
    return AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                actor=actor_or_none,
                action=action,
                object_type=obj._meta.label_lower,
                object_id=str(obj.pk),
                subject=subject,
                after=after_json,
                ip=ip,
            )
            for obj, subject in zip(objs, subjects, strict=True)
        ]
    )
