"""A small force for the API proofs (fuzzing, authorization matrix, mass assignment).

Two squads in two districts: officers A and B with their sergeant in squad 1, officer C with
theirs in squad 2; a supervisor, an analyst, an admin and a deactivated officer. Officers A and C
each own location data: an open patrol session with today's pings, an activity, a visit and an
assigned mission, so every "someone else's object" has a real row to leak.

Every API call of these tests authenticates through :func:`auth_headers`: when sign-in grows a
second factor for staff, only that helper changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone

from backend.accounts.factor import factor_required
from backend.accounts.models import Role, Squad, User
from backend.accounts.tokens import token_issue
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import IncidentImport
from backend.missions.models import Experiment, Mission
from backend.patrols.models import Activity, ActivityType, PatrolSession, Ping
from backend.reports.models import ComplianceRecompute
from tests.factories import UserFactory, verified_totp_device
from tests.missions.builders import city, mission, squad_with_officers, visit


@dataclass
class OwnedRows:
    """The location data one officer owns."""

    session: PatrolSession
    mission: Mission
    activity: Activity
    ping_ids: list[int]


@dataclass
class World:
    run: AnalysisRun
    hotspots: list[Hotspot]
    squad1: Squad
    squad2: Squad
    users: dict[str, User]  # by identity name, see IDENTITIES
    owned: dict[str, OwnedRows]  # "officer_a", "officer_c"
    experiment: Experiment
    incident_import: IncidentImport
    recompute: ComplianceRecompute
    tokens: dict[str, str] = field(default_factory=dict)


def auth_headers(user: User | None) -> dict[str, str]:
    """The headers that sign ``user`` in to the API (none for anonymous): a fresh API token.

    The one place these tests sign in. For a role that needs a second factor the token stands
    for a sign-in with the password and a right code (``POST /api/v1/auth/token`` issues one to
    such a role only then, through the same ``token_issue``); the user gets an authenticator."""
    if user is None:
        return {}
    if factor_required(user):
        verified_totp_device(user)
    return {"Authorization": f"Token {token_issue(user=user).key}"}


def _owned(officer: User, spot: Hotspot, kind: ActivityType) -> OwnedRows:
    now = timezone.now()
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=40)
    )
    pings = Ping.objects.bulk_create(
        [
            Ping(
                officer=officer,
                session=session,
                client_uuid=uuid.uuid4(),
                recorded_at=now - timedelta(minutes=30 - i),
                received_at=now - timedelta(minutes=30 - i),
                lat=spot.centroid_lat,
                lon=spot.centroid_lon,
                accuracy_m=5,
            )
            for i in range(3)
        ]
    )
    activity = Activity.objects.create(
        officer=officer,
        session=session,
        client_uuid=uuid.uuid4(),
        kind=kind,
        recorded_at=now - timedelta(minutes=20),
        received_at=now - timedelta(minutes=20),
        lat=spot.centroid_lat,
        lon=spot.centroid_lon,
    )
    visit(spot, officer=officer)
    return OwnedRows(
        session=session,
        mission=mission(spot, officer=officer),
        activity=activity,
        ping_ids=[p.pk for p in pings],
    )


def build_world() -> World:
    run, spots, districts = city(n=8, districts=2)
    squad1, sergeant1, (officer_a, officer_b) = squad_with_officers(
        district=districts[0], officers=2
    )
    squad2, sergeant2, (officer_c,) = squad_with_officers(district=districts[1], officers=1)
    deactivated = UserFactory(role=Role.OFFICER, squad=squad1)
    users = {
        "officer_a": officer_a,
        "officer_b": officer_b,
        "officer_c": officer_c,
        "sergeant_ab": sergeant1,
        "sergeant_c": sergeant2,
        "supervisor": UserFactory(role=Role.SUPERVISOR),
        "analyst": UserFactory(role=Role.ANALYST),
        "admin": UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True),
        "deactivated": deactivated,
        # Enrolled, signed in with the password, never passed the code (identity_headers).
        "sergeant_no_second_factor": UserFactory(role=Role.SERGEANT),
    }
    verified_totp_device(users["sergeant_no_second_factor"])
    kind = ActivityType.objects.filter(is_active=True).order_by("code").first()
    assert kind is not None, "the migrations seed the activity types"
    owned = {
        "officer_a": _owned(officer_a, spots[0], kind),
        "officer_c": _owned(officer_c, spots[1], kind),
    }
    today = timezone.localdate()
    experiment = Experiment.objects.create(
        name="Proof experiment",
        design="blocked",
        run=run,
        starts_on=today,
        ends_on=today + timedelta(days=28),
        created_by=users["analyst"],
    )
    incident_import = IncidentImport.objects.create(
        uploaded_by=users["analyst"], source="test", file_name="a.csv", file_sha256="0" * 64
    )
    recompute = ComplianceRecompute.objects.create(
        first_day=today - timedelta(days=2), last_day=today, requested_by=users["supervisor"]
    )
    # Tokens issued before deactivation: the deactivated user's must be refused.
    world = World(
        run=run,
        hotspots=spots,
        squad1=squad1,
        squad2=squad2,
        users=users,
        owned=owned,
        experiment=experiment,
        incident_import=incident_import,
        recompute=recompute,
    )
    deactivated_token = auth_headers(deactivated)
    deactivated.is_active = False
    deactivated.save()
    world.tokens["deactivated"] = deactivated_token["Authorization"]
    return world


def path_ids(world: World, owner: str = "officer_a") -> dict[str, Any]:
    """Real values for every path parameter of the API, pointing at rows ``owner`` owns (or,
    for rows no officer owns, at the world's one row)."""
    rows = world.owned[owner]
    officer = world.users[owner]
    return {
        "mission": rows.mission.pk,
        "squad": officer.squad_id,
        "experiment": world.experiment.pk,
        "analysis": world.run.pk,
        "hotspot": world.hotspots[0].pk,
        "import": world.incident_import.pk,
        "recompute": world.recompute.pk,
        "session": rows.session.pk,
        "officer": officer.pk,
        "activity": rows.activity.client_uuid,
        "day": timezone.localdate().isoformat(),
    }


def path_parameters_for(path: str, ids: dict[str, Any]) -> dict[str, Any]:
    """The path parameters of the schema path ``path`` (``/api/v1/missions/{id}/accept``)."""
    out: dict[str, Any] = {}
    if "{id}" in path:
        for prefix, key in (
            ("/api/v1/missions/", "mission"),
            ("/api/v1/squads/", "squad"),
            ("/api/v1/experiments/", "experiment"),
            ("/api/v1/analyses/", "analysis"),
            ("/api/v1/hotspots/", "hotspot"),
            ("/api/v1/imports/", "import"),
            ("/api/v1/compliance/recompute/", "recompute"),
            ("/api/v1/patrols/sessions/", "session"),
        ):
            if path.startswith(prefix):
                out["id"] = ids[key]
                break
        else:
            raise KeyError(f"no world row for {path}: add one to path_parameters_for")
    if "{officer_id}" in path:
        out["officer_id"] = ids["officer"]
    if "{client_uuid}" in path:
        out["client_uuid"] = str(ids["activity"])
    if "{day}" in path:
        out["day"] = ids["day"]
    if "{fmt}" in path:
        out["fmt"] = "geojson"
    if "{layer}" in path:
        out["layer"] = "districts"
    return out
