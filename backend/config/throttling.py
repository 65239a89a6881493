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

from typing import Any

from django.conf import settings
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
    """DRF's cache-backed rate throttle with the scope taken from the route (see the module)."""

    def __init__(self) -> None:  # the scope, and so the rate, is known only per request
        self.scope: str | None = None

    def get_rate(self) -> str | None:
        rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        return rates.get(self.scope or "")

    def allow_request(self, request: Any, view: Any) -> bool:
        match = getattr(request, "resolver_match", None)
        self.scope = scope_for(match.url_name if match else None)
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Any, view: Any) -> str:
        user = request.user
        ident = f"u{user.pk}" if user and user.is_authenticated else self.get_ident(request)
        return f"{settings.PRESENCE_THROTTLE_PREFIX}throttle:{self.scope}:{ident}"
