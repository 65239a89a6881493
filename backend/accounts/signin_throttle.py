"""Failed sign-ins per client address on the web pages: past a limit, 429 with Retry-After.

The per-username lockout (``lockout.py``) stops guessing one account's password, but anyone can
type five wrong passwords for any username. This limit is per address and ignores the username:
after ``PRESENCE_SIGNIN_ADDRESS_FAILURES`` failures (wrong passwords on the sign-in page or the
admin's, wrong second-factor codes) within ``PRESENCE_SIGNIN_ADDRESS_WINDOW``, every sign-in
page answers that address 429 with ``Retry-After`` until its oldest failure leaves the window.
So one address locks at most four accounts in 15 minutes. Counts live in the cache (Redis in
production, shared by every process). The API's sign-in has its own limit (``login`` in
``backend/config/throttling.py``).
"""

from __future__ import annotations

import math
import time

from django.conf import settings
from django.core.cache import cache


def _key(ip: str) -> str:
    return f"{settings.PRESENCE_THROTTLE_PREFIX}signin-failures:{ip}"


def _window() -> float:
    return float(settings.PRESENCE_SIGNIN_ADDRESS_WINDOW.total_seconds())


def _recent(ip: str, now: float) -> list[float]:
    history: list[float] = cache.get(_key(ip)) or []
    return [t for t in history if now - t < _window()]


def signin_failure_note(*, ip: str | None, now: float | None = None) -> None:
    """Count one failed sign-in (password or code) from ``ip``."""
    if not ip:
        return
    now = time.time() if now is None else now
    history = [*_recent(ip, now), now]
    cache.set(_key(ip), history, timeout=math.ceil(_window()) + 1)


def signin_retry_after(*, ip: str | None, now: float | None = None) -> int:
    """Seconds until ``ip`` may try again; 0 while it is under the limit."""
    if not ip:
        return 0
    now = time.time() if now is None else now
    history = _recent(ip, now)
    limit = settings.PRESENCE_SIGNIN_ADDRESS_FAILURES
    if len(history) < limit:
        return 0
    # The wait ends when enough of the oldest failures have left the window.
    oldest_to_leave = sorted(history)[len(history) - limit]
    return max(1, math.ceil(_window() - (now - oldest_to_leave)))
