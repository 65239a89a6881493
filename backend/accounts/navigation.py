"""The areas of the web app and which roles may use each.

One table drives the landing page, the top navigation and the tests of what each role sees.
An area with no ``url_name`` is not built yet and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from backend.accounts.factor import factor_required
from backend.accounts.maps import map_config
from backend.accounts.middleware import session_factor_verified
from backend.accounts.models import Role

OFFICER, SERGEANT, SUPERVISOR, ANALYST, ADMIN = (
    Role.OFFICER,
    Role.SERGEANT,
    Role.SUPERVISOR,
    Role.ANALYST,
    Role.ADMIN,
)


@dataclass(frozen=True)
class Area:
    key: str
    title: str | Promise  # translated when shown
    description: str
    roles: frozenset[str]
    url_name: str | None = None

    def url(self) -> str | None:
        if self.url_name is None:
            return None
        try:
            return reverse(self.url_name)
        except NoReverseMatch:
            return None


AREAS: tuple[Area, ...] = (
    Area(
        "patrol",
        _("Patrol app"),
        "Nearby hot spots, your next randomized hot spot, and your patrol session.",
        frozenset({OFFICER, SERGEANT}),
        "app:index",
    ),
    Area(
        "my_missions",
        _("My missions"),
        "Missions assigned to you and your dose so far.",
        frozenset({OFFICER}),
        "missions:mine",
    ),
    Area(
        "board",
        _("Mission board"),
        "Assign missions and generate the shift's Koper schedule for your squad.",
        frozenset({SERGEANT, SUPERVISOR}),
        "missions:board",
    ),
    Area(
        "menu",
        _("Mission Menu"),
        "Mission types with objective, target minutes and tactics.",
        frozenset({SERGEANT, SUPERVISOR}),
        "missions:menu",
    ),
    Area(
        "hotspots",
        _("Hot spots"),
        "Harm-weighted micro hot spots, their briefings and the map.",
        frozenset({SERGEANT, SUPERVISOR, ANALYST}),
        "hotspots:index",
    ),
    Area(
        "imports",
        _("Incident imports"),
        "Upload incident exports, map their columns, see what was rejected and why.",
        frozenset({ANALYST}),
        "incidents:imports",
    ),
    Area(
        "boundaries",
        _("Boundaries"),
        "Draw and edit district and beat boundaries, and hand-drawn hot spots, on the map.",
        frozenset({ANALYST}),
        "boundaries",
    ),
    Area(
        "experiments",
        _("Experiments"),
        "Randomized hot spot experiments: allocation, balance and power.",
        frozenset({SUPERVISOR, ANALYST}),
        "missions:experiments",
    ),
    Area(
        "compliance",
        _("Compliance"),
        "Prescribed against delivered dose by hot spot, officer, squad and arm.",
        frozenset({SERGEANT, SUPERVISOR, ANALYST}),
        "reports:compliance",
    ),
    Area(
        "presence",
        _("Squad presence"),
        "Your squad on patrol now on a live map, and each officer's dose this shift.",
        frozenset({SERGEANT, SUPERVISOR}),
        "reports:squad",
    ),
    Area(
        "impact",
        _("Impact"),
        "Did crime and harm fall in treated places compared with control places?",
        frozenset({SUPERVISOR, ANALYST}),
        "reports:impact",
    ),
    Area(
        "snapshot",
        _("Daily snapshot"),
        "Yesterday's incidents and harm in and out of hot spots, dose delivered.",
        frozenset({SUPERVISOR, ANALYST}),
        "reports:snapshot",
    ),
    Area(
        "workload",
        "Workload",
        "Calls-for-service hours against available hours, hour by day: where there is time "
        "for directed patrol.",
        frozenset({SUPERVISOR, ANALYST}),
        "workload:index",
    ),
    Area(
        "api_docs",
        _("API documentation"),
        "The REST API and its OpenAPI 3 schema.",
        frozenset({SUPERVISOR, ANALYST}),
        "api-docs",
    ),
    Area(
        "audit",
        _("Audit log"),
        "Who did what to whose data, and when: sign-ins, changes, track reads, exports.",
        frozenset({SUPERVISOR}),
        "audit:index",
    ),
    Area(
        "admin",
        _("Administration"),
        "Users, squads, districts and every record.",
        frozenset({ADMIN}),
        "admin:index",
    ),
)


def areas_for(user: Any) -> list[Area]:
    """The areas ``user`` may use, in display order; an admin sees every area."""
    if not getattr(user, "is_authenticated", False):
        return []
    role = getattr(user, "role", None)
    if role == ADMIN or getattr(user, "is_superuser", False):
        return list(AREAS)
    return [a for a in AREAS if role in a.roles]


def navigation_context(request: HttpRequest) -> dict[str, Any]:
    """Template context processor: ``nav_areas`` for the signed-in user, the version, and the
    maps' configuration (``presence_map_config``, read by ``static/js/map-base.js``). A session
    still waiting for its second factor gets no areas: it can open none of them yet."""
    user = getattr(request, "user", None)
    waiting = factor_required(user) and not session_factor_verified(request)
    return {
        "nav_areas": [] if waiting else areas_for(user),
        "presence_version": settings.VERSION,
        "presence_map_config": map_config(),
    }
