"""Rate limits: one throttle for the whole API, its scope chosen by the route's name.

Limits apply per signed-in user, or per client address for anonymous calls (the sign-in
endpoint), counted in the cache (Redis in production, so every process shares the count). Past a
limit the API answers 429 with ``Retry-After``. The rates (``DEFAULT_THROTTLE_RATES``) are set
far above what a 5,000-officer force's normal traffic needs from one user:

- ``login`` 10/min per address: the sign-in endpoint; with the per-username lockout this slows
  guessing and makes locking accounts one at a time slow;
- ``draw`` 20/min: an officer draws a hot spot every few minutes at most;
- ``ingest`` 240/min: a phone sends a batch every 30 s (backlogs flush in batches of 1,000);
- ``avl`` 6,000/min: the AVL feed's one service account posts for every vehicle;
- ``export`` 30/min: file downloads (CSV, GeoJSON, GeoPackage);
- ``reports`` 120/min: compliance, snapshots, impact and the live map's 15 s refresh.

Routes in no scope are not limited.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

SCOPE_BY_ROUTE = {
    "api-token": "login",
    "api-mission-draw": "draw",
    "api-pings-batch": "ingest",
    "api-avl-batch": "avl",
    "api-compliance": "reports",
    "api-compliance-days": "reports",
    "api-compliance-me": "reports",
    "api-compliance-recompute": "reports",
    "api-snapshots": "reports",
    "api-snapshot": "reports",
    "api-experiment-impact": "reports",
    "api-presence-live": "reports",
}
EXPORT_SUFFIXES = ("-file", "-geojson", "-csv")


def scope_for(route: str | None) -> str | None:
    if not route:
        return None
    if route in SCOPE_BY_ROUTE:
        return SCOPE_BY_ROUTE[route]
    return "export" if route.endswith(EXPORT_SUFFIXES) else None


class PresenceRateThrottle(SimpleRateThrottle):
    """A rate limit per route scope (see the module), counted in one cache round trip.

    DRF's ``SimpleRateThrottle`` keeps every request's time in a list it reads and writes back
    (two round trips and a pickled list per call; about a sixth of a ping batch's CPU). This
    counts in a window instead: the first request of a user in a scope opens a window of the
    rate's duration, each request adds one, and past ``num_requests`` the answer is 429 with
    ``Retry-After`` set to the rest of the window. A client that times its calls to window
    edges can make at most twice the rate in one duration; the limits are far above any
    phone's real traffic, so that is no loss.
    """

    def __init__(self) -> None:  # the scope, and so the rate, is known only per request
        self.scope: str | None = None
        self._wait: float | None = None

    def get_rate(self) -> str | None:
        rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        return rates.get(self.scope or "")

    def allow_request(self, request: Any, view: Any) -> bool:
        match = getattr(request, "resolver_match", None)
        self.scope = scope_for(match.url_name if match else None)
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        num_requests, duration = self.parse_rate(self.rate)
        assert num_requests is not None and duration is not None  # a set rate gives both
        self.num_requests, self.duration = num_requests, duration
        count, left = window_hit(self.get_cache_key(request, view), duration)
        if count > num_requests:
            self._wait = max(1, left)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait

    def get_cache_key(self, request: Any, view: Any) -> str:
        user = request.user
        ident = f"u{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return f"{settings.PRESENCE_THROTTLE_PREFIX}rate:{self.scope}:{ident}"


def window_hit(key: str, duration: int) -> tuple[int, int]:
    """Count one request in ``key``'s window of ``duration`` seconds, opening it if none is
    open: (requests in the window so far, seconds the window has left). On Redis one pipelined
    round trip (``SET NX EX``, ``INCR``, ``TTL``), atomic per command, so every process shares
    the count; other caches (local memory, tests without Redis) read and write a pair."""
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is not None and hasattr(cache, "make_and_validate_key"):
        name = cache.make_and_validate_key(key)
        pipe = client(name, write=True).pipeline(transaction=False)
        pipe.set(name, 0, ex=duration, nx=True)
        pipe.incr(name)
        pipe.ttl(name)
        _, count, left = pipe.execute()
        return int(count), int(left) if left and left > 0 else duration
    now = time.time()
    opened, count = cache.get(key) or (now, 0)
    left = duration - (now - opened)
    if left <= 0:
        opened, count, left = now, 0, duration
    cache.set(key, (opened, count + 1), timeout=math.ceil(left))
    return count + 1, math.ceil(left)
