"""What the production smoke test needs in the database: an officer to sign in as, and a
published hot spot to draw and patrol (``python manage.py smoke_production --prepare``).

The smoke test itself (``smoke.py``) speaks HTTP only; this is the one part that writes rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from shapely.geometry import box, mapping

from backend.accounts.lockout import account_unlock
from backend.accounts.models import Role, User
from backend.analytics.projection import LocalProjection
from backend.audit.services import audit_record
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.hotspots.selectors import hotspots_active
from backend.hotspots.services import hotspot_hand_drawn_save
from backend.incidents.selectors import harm_version_current

SMOKE_HOTSPOT_HALF_SIDE_M = 75.0  # a 150 m square: one cell of the default analysis grid
SMOKE_NOTE = "Smoke test hot spot (smoke_production --prepare)"


@dataclass(frozen=True)
class SmokeFixture:
    officer: User
    officer_created: bool
    hotspot: Hotspot | None  # the hot spot made for the smoke test; None: real ones exist
    active_hotspots: int


@transaction.atomic
def smoke_fixture_ensure(*, username: str, password: str) -> SmokeFixture:
    """Make ``username`` an active officer with ``password`` (unlocked), and, only when no hot
    spot is published at all, publish one hand-drawn 150 m square at ``PRESENCE_ORIGIN`` in an
    analysis of its own, so that a fresh installation has something to draw. Idempotent.

    Raises ``django.core.exceptions.ValidationError`` when the password is too weak, and
    ``ValueError`` when ``username`` belongs to someone who is not an officer (the smoke test
    must never sign in as, or change the password of, a sergeant or an administrator).
    """
    officer = User.objects.select_for_update().filter(username=username).first()
    created = officer is None
    if officer is None:
        officer = User(username=username, role=Role.OFFICER, first_name="Smoke", last_name="Test")
    elif officer.role != Role.OFFICER:
        raise ValueError(
            f"{username!r} is a {officer.role}, not an officer: pick another smoke username"
        )
    validate_password(password, user=officer)
    officer.is_active = True
    officer.set_password(password)
    officer.save()
    account_unlock(user=officer, actor=None)
    audit_record(
        actor=None,
        action="smoke.officer_prepare",
        obj=officer,
        subject=officer,
        after={"created": created},
    )

    hotspot = None
    if not hotspots_active().exists():
        hotspot = _smoke_hotspot_publish()
    return SmokeFixture(
        officer=officer,
        officer_created=created,
        hotspot=hotspot,
        active_hotspots=hotspots_active().count(),
    )


def _smoke_hotspot_publish() -> Hotspot:
    today = timezone.localdate()
    run = AnalysisRun.objects.filter(is_active=True).first()
    if run is None:
        now = timezone.now()
        run = AnalysisRun.objects.create(
            as_of=today,
            weights_version=harm_version_current(),
            status="done",
            is_active=True,
            published_at=now,
            finished_at=now,
        )
        audit_record(actor=None, action="smoke.analysis_publish", obj=run, after={"as_of": today})
    lat, lon = settings.PRESENCE_ORIGIN
    proj = LocalProjection(lat, lon)
    half = SMOKE_HOTSPOT_HALF_SIDE_M
    square: Any = mapping(proj.geometry_to_lonlat(box(-half, -half, half, half)))
    return hotspot_hand_drawn_save(hotspot=Hotspot(geometry=square, note=SMOKE_NOTE), actor=None)
