"""``/healthz``: is this instance able to serve? 200 when healthy, 503 otherwise.

The check is never a lever on the service. Each process keeps the last result and refreshes it
at most every ``REFRESH_AFTER_S`` seconds, with at most one check (and so one Celery canary) in
flight per process: any number of callers, anonymous or not, costs at most one canary per process
per refresh period. Callers while a refresh runs get the last result at once; only the very first
check of a process makes callers wait for it.

Anonymous callers (load balancers, uptime probes) learn only ``ok`` or ``degraded``; the details
(database, broker and canary states, version, when checked) are for staff, because an error
message can name hosts and ports.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CANARY_TIMEOUT_S = 5.0  # a worker that cannot echo within 5 s is not keeping up
REFRESH_AFTER_S = 5.0  # how old a result may be before a caller triggers a new check

_lock = threading.Lock()  # held while a check runs: at most one in flight per process
_results: dict[tuple[Any, ...], dict[str, Any]] = {}


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


def _probe() -> dict[str, Any]:
    database = _check_database()
    broker, canary_state = _check_broker()
    healthy = database == "ok" and broker in {"ok", "eager"} and canary_state in {None, "ok"}
    result: dict[str, Any] = {
        "status": "ok" if healthy else "unhealthy",
        "version": settings.VERSION,
        "database": database,
        "broker": broker,
        "checked_at": time.time(),
    }
    if canary_state is not None:
        result["canary"] = canary_state
    return result


def _config_key() -> tuple[Any, ...]:
    """Results are kept per configuration, so a changed broker or database is checked afresh."""
    from backend.config.celery import app

    return (app.conf.task_always_eager, app.conf.broker_url, connection.settings_dict["NAME"])


def current_health() -> dict[str, Any]:
    """The latest health result, refreshing it when stale unless a refresh is already running."""
    key = _config_key()
    cached = _results.get(key)
    if cached is not None and time.time() - cached["checked_at"] < REFRESH_AFTER_S:
        return cached
    # The first check of a process waits for a running one; later callers never wait.
    first = cached is None
    if _lock.acquire(blocking=first, timeout=CANARY_TIMEOUT_S + 5 if first else -1):
        try:
            fresh = _results.get(key)
            if fresh is not None and time.time() - fresh["checked_at"] < REFRESH_AFTER_S:
                return fresh
            result = _probe()
            _results[key] = result
            return result
        finally:
            _lock.release()
    if cached is not None:
        return cached
    return {"status": "unhealthy", "checked_at": time.time(), "detail": "check in progress"}


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_staff or user.has_role("admin"))


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    result = current_health()
    healthy = result["status"] == "ok"
    status = 200 if healthy else 503
    if _is_staff(request):
        return JsonResponse({**result, "status": "ok" if healthy else "degraded"}, status=status)
    return JsonResponse({"status": "ok" if healthy else "degraded"}, status=status)
