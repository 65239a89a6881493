"""Reads for the sergeant's squad: the shift's visits and the live presence of officers on
patrol (another officer's location: every read is audited)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone
from shapely.geometry import shape

from backend.accounts.models import Squad, User
from backend.audit.services import audit_record
from backend.hotspots.selectors import hotspots_active
from backend.missions.selectors import hotspot_dose_today
from backend.patrols.models import PatrolSession, Ping, Visit
from backend.patrols.selectors import officers_visible_to
from backend.reports.compliance import day_arms
from backend.reports.selectors import LIVE_ROLES, squads_visible_to

LIVE_LOOKBACK = timedelta(minutes=60)  # "in hot spot for" is capped at an hour of pings
LIVE_GAP_S = 120.0  # the visit rule's gap tolerance (DESIGN "Visits")
LIVE_MAX_ACCURACY_M = 50.0  # the visit rule's accuracy limit


@dataclass(frozen=True)
class ShiftVisit:
    officer_id: int
    hotspot_id: int
    hotspot_rank: int
    entered_at: datetime
    minutes: float
    koper: bool
    arm: str


def squad_shift_visits(*, squad: Squad, start: datetime, end: datetime) -> list[ShiftVisit]:
    """The squad's officers' visits that began in ``[start, end)``, oldest first."""
    visits = (
        Visit.objects.filter(
            officer__squad=squad, entered_at__gte=start, entered_at__lt=end, officer__isnull=False
        )
        .select_related("hotspot")
        .order_by("entered_at", "pk")
    )
    rows = list(visits)
    arms = day_arms(
        first=timezone.localdate(start),
        last=timezone.localdate(end),
        hotspot_ids={v.hotspot_id for v in rows},
    )
    return [
        ShiftVisit(
            officer_id=v.officer_id or 0,
            hotspot_id=v.hotspot_id,
            hotspot_rank=v.hotspot.rank,
            entered_at=v.entered_at,
            minutes=v.dwell_s / 60.0,
            koper=v.koper_compliant,
            arm=arms.arms.get((v.hotspot_id, v.day), "none"),
        )
        for v in rows
    ]


def squad_shift_visits_for_export(
    *,
    viewer: Any,
    squad: Squad,
    start: datetime,
    end: datetime,
    reason: str,
    ip: str | None = None,
) -> list[ShiftVisit]:
    """``squad_shift_visits`` for a download: which hot spot each officer was in and when is
    location data, so the export is audited (one row naming the squad, the shift and the
    viewer's reason)."""
    if not squads_visible_to(viewer=viewer).filter(pk=squad.pk).exists() or not viewer.has_role(
        *LIVE_ROLES
    ):
        raise PermissionError("You may not export this squad's visits.")
    with transaction.atomic():
        audit_record(
            actor=viewer,
            action="visits.export",
            obj=squad,
            after={"start": start.isoformat(), "end": end.isoformat(), "reason": reason},
            ip=ip,
        )
    return squad_shift_visits(squad=squad, start=start, end=end)


@dataclass
class OfficerPresence:
    officer_id: int
    name: str
    badge: str
    session_started_at: datetime
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    recorded_at: datetime | None = None
    hotspot_id: int | None = None
    hotspot_rank: int | None = None
    hotspot_address: str = ""
    in_hotspot_since: datetime | None = None

    @property
    def minutes_in_hotspot(self) -> float | None:
        if self.in_hotspot_since is None or self.recorded_at is None:
            return None
        return (self.recorded_at - self.in_hotspot_since).total_seconds() / 60.0


@dataclass
class LivePresence:
    squad: Squad
    generated_at: datetime
    officers: list[OfficerPresence]
    hotspots: list[dict[str, Any]] = field(default_factory=list)  # GeoJSON features


def dose_state(*, arm: str, prescribed: int, delivered: int) -> str:
    """Map colour of a hot spot's dose today: done, partly, none, or control."""
    if arm == "control" or prescribed <= 0:
        return "control"
    if delivered >= prescribed:
        return "done"
    return "partly" if delivered > 0 else "none"


def _trailing_run(t: np.ndarray, inside: np.ndarray) -> int | None:
    """Index of the first fix of the trailing run of ``inside`` fixes (no gap over
    ``LIVE_GAP_S``), or None when the last fix is outside."""
    if not inside.size or not inside[-1]:
        return None
    k = inside.size - 1
    while k > 0 and inside[k - 1] and t[k] - t[k - 1] <= LIVE_GAP_S:
        k -= 1
    return k


def presence_live(*, viewer: Any, squad: Squad, ip: str | None = None) -> LivePresence:
    """Officers of ``squad`` on patrol now (an open session) with their latest position, the
    hot spot they are in and since when, and the squad district's hot spots coloured by today's
    dose.

    Raises ``PermissionError`` unless ``viewer`` may read these officers' tracks
    (``patrols.selectors.officers_visible_to``) and sees this squad. Positions are another
    officer's location data: one ``track.read`` audit row (``after.via = "presence.live"``) per
    officer shown (not for the viewer themself) is written, in the same transaction, before any
    position is returned.
    Cost: two queries for sessions and pings (the last ``LIVE_LOOKBACK`` of fixes), two for
    the hot spots and their dose, one insert per officer shown.
    """
    if not squads_visible_to(viewer=viewer).filter(pk=squad.pk).exists() or not viewer.has_role(
        *LIVE_ROLES
    ):
        raise PermissionError("You may not see this squad's positions.")
    now = timezone.now()
    officers = officers_visible_to(viewer=viewer).filter(squad=squad)
    sessions = list(
        PatrolSession.objects.filter(officer__in=officers, ended_at__isnull=True)
        .select_related("officer")
        .order_by("officer__last_name", "officer__first_name", "officer__username", "pk")
    )
    seen: dict[int, OfficerPresence] = {}
    users: dict[int, User] = {}
    for s in sessions:
        if s.officer_id in seen:
            continue
        u = users[s.officer_id] = s.officer
        seen[s.officer_id] = OfficerPresence(
            officer_id=u.pk,
            name=u.get_full_name() or u.username,
            badge=u.badge_number,
            session_started_at=s.started_at,
        )
    district_spots = list(hotspots_active().filter(district=squad.district).order_by("rank"))
    pings = (
        Ping.objects.filter(
            officer_id__in=list(seen),
            recorded_at__gte=now - LIVE_LOOKBACK,
            accuracy_m__lte=LIVE_MAX_ACCURACY_M,
        )
        .order_by("officer_id", "recorded_at")
        .values_list("officer_id", "recorded_at", "lat", "lon", "accuracy_m")
    )
    tracks: dict[int, list[tuple[datetime, float, float, float]]] = defaultdict(list)
    with transaction.atomic():
        for oid in seen:
            if oid != viewer.pk:
                audit_record(
                    actor=viewer,
                    action="track.read",
                    obj=users[oid],
                    subject=users[oid],
                    after={"via": "presence.live", "squad": squad.pk, "at": now.isoformat()},
                    ip=ip,
                )
        for oid, at, lat, lon, acc in pings:
            if at >= seen[oid].session_started_at:
                tracks[oid].append((at, lat, lon, acc))
    # Every active hot spot can hold an officer (they patrol across district lines too).
    candidates = {h.pk: h for h in hotspots_active()}
    polygons = {hid: shape(h.geometry) for hid, h in candidates.items()}
    for oid, track in tracks.items():
        p = seen[oid]
        t = np.array([r[0].timestamp() for r in track])
        lats = np.array([r[1] for r in track])
        lons = np.array([r[2] for r in track])
        p.recorded_at, p.lat, p.lon, p.accuracy_m = track[-1]
        for hid, poly in polygons.items():
            inside = shapely.contains_xy(poly, lons, lats)
            k = _trailing_run(t, inside)
            if k is not None:
                p.hotspot_id, p.hotspot_rank = hid, candidates[hid].rank
                p.hotspot_address = candidates[hid].place
                p.in_hotspot_since = track[k][0]
                break
    doses = hotspot_dose_today(hotspot_ids=[h.pk for h in district_spots])
    features = []
    for h in district_spots:
        dose = doses.get(h.pk)
        arm = dose.arm if dose else ""
        prescribed = dose.prescribed if dose else 0
        delivered = dose.delivered if dose else 0
        features.append(
            {
                "type": "Feature",
                "id": h.pk,
                "geometry": h.geometry,
                "properties": {
                    "rank": h.rank,
                    "address": h.place,
                    "arm": arm,
                    "prescribed": prescribed,
                    "delivered": delivered,
                    "state": dose_state(arm=arm, prescribed=prescribed, delivered=delivered),
                },
            }
        )
    return LivePresence(
        squad=squad, generated_at=now, officers=list(seen.values()), hotspots=features
    )
