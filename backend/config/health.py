"""``/healthz``: is this instance able to serve? JSON, 200 when healthy, 503 otherwise."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CANARY_TIMEOUT_S = 5.0  # a worker that cannot echo within 5 s is not keeping up


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"error: {exc.__class__.__name__}: {str(exc).strip().splitlines()[0][:200]}"
    return "ok"


def _check_broker() -> tuple[str, str | None]:
    """(broker state, canary state); the canary runs only when a broker is configured."""
    from backend.config.celery import app, canary

    if app.conf.task_always_eager:
        return "eager", None
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many transport-specific errors
        return f"error: {exc.__class__.__name__}", "skipped"
    token = secrets.token_hex(8)
    try:
        echoed = canary.delay(token).get(timeout=CANARY_TIMEOUT_S)
    except Exception as exc:
        return "ok", f"error: {exc.__class__.__name__}"
    return "ok", "ok" if echoed == token else "error: wrong echo"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = _check_database()
    broker, canary_state = _check_broker()
    body: dict[str, Any] = {
        "status": "ok",
        "version": settings.VERSION,
        "database": database,
        "broker": broker,
    }
    if canary_state is not None:
        body["canary"] = canary_state
    healthy = database == "ok" and broker in {"ok", "eager"} and canary_state in {None, "ok"}
    if not healthy:
        body["status"] = "unhealthy"
    return JsonResponse(body, status=200 if healthy else 503)
