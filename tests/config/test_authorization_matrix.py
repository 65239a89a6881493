"""Who may do what, for every operation of the API, generated from its OpenAPI schema.

Every operation of ``/api/schema/`` must have a row in ``POLICY`` (a new endpoint without one
fails :func:`test_every_operation_of_the_schema_has_a_policy_row`). Each identity of
``IDENTITIES`` is tried against each operation, aimed at rows officer A owns (a mission, a
session, an activity, a track, a squad), so "allowed" and "denied" are about someone else's
data. The expected outcome of every cell comes from ``POLICY`` alone:

- ``ALLOW``: a 2xx (or, on an operation that documents it, a 409 for a state that forbids it:
  the caller got past every access check);
- ``DENY``: 401, 403 or 404, and a body with nothing but ``detail`` (no rows, no positions);
- ``NOOP``: a 2xx that changes nothing of officer A's (undoing someone else's activity).

Lists are checked row by row: an identity's answer holds only the rows of the officers, squads
it may see (``VISIBLE_OFFICERS``). The sergeant without a verified second factor has an
authenticator and a session that passed the password but not the code.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backend.accounts.factor import factor_required
from backend.missions.models import MissionStatus
from backend.missions.selectors import treatment_on
from backend.patrols.models import Activity
from backend.reports.models import DailySnapshot
from tests.config.api_world import World, auth_headers, build_world, path_ids, path_parameters_for
from tests.factories import force_login_without_factor, next_totp_code, verified_totp_device
from tests.missions.builders import mission

pytestmark = pytest.mark.django_db

ALLOW, DENY, NOOP = "allow", "deny", "noop"

# The identities, in the order the report prints them.
IDENTITIES = [
    "officer_a",
    "officer_b",  # same squad as A
    "officer_c",  # another squad
    "sergeant_ab",
    "sergeant_c",
    "supervisor",
    "analyst",
    "admin",
    "anonymous",
    "deactivated",  # a token issued before deactivation
    "sergeant_no_second_factor",
]
# The sergeant without a verified second factor: denied everywhere, sign-in included (the
# token sign-in without a code answers 400 naming ``otp``, see DENIED_AS_INVALID).
SECOND_FACTOR_READY = True

SIGNED_IN = [i for i in IDENTITIES if i not in ("anonymous", "deactivated")]
FIELD = ["officer_a", "officer_b", "officer_c", "sergeant_ab", "sergeant_c", "admin"]


def policy(allowed: list[str] | str, **special: str) -> dict[str, str]:
    """A policy row: ``allowed`` identities ALLOW (``"all"``: every signed-in identity), the
    rest DENY, then ``special`` overrides. The sergeant without a second factor is DENY."""
    names = SIGNED_IN if allowed == "all" else allowed
    row = {i: (ALLOW if i in names else DENY) for i in IDENTITIES}
    row["sergeant_no_second_factor"] = DENY
    row.update(special)
    return row


def only(*names: str, **special: str) -> dict[str, str]:
    return policy(list(names), **special)


# Admins hold every role (``User.has_role``), so "admin" is in each role list below.
EVERYONE = policy("all")
ANALYSIS = only("analyst", "supervisor", "admin")
ANALYSIS_READ = only("analyst", "supervisor", "sergeant_ab", "sergeant_c", "admin")
EXPERIMENTS = only("analyst", "supervisor", "admin")
BOARD_SQUAD_1 = only("sergeant_ab", "supervisor", "admin")  # squad 1: A's and B's
OWN_MISSION_STEP = only("officer_a")  # only the mission's officer moves it on

POLICY: dict[str, dict[str, str]] = {
    # accounts
    "GET /api/v1/{layer}-gis.{fmt}": EVERYONE,
    "GET /api/v1/me": EVERYONE,
    "GET /api/v1/districts": EVERYONE,
    "GET /api/v1/squads": EVERYONE,  # rows: own squad (officers, sergeants), all (others)
    "POST /api/v1/auth/token": policy("all", anonymous=ALLOW),
    "POST /api/v1/auth/logout": EVERYONE,
    # reports
    "GET /api/v1/snapshots": only("supervisor", "analyst", "admin"),
    "GET /api/v1/snapshots/{day}": only("supervisor", "analyst", "admin"),
    "GET /api/v1/compliance": only("sergeant_ab", "sergeant_c", "supervisor", "analyst", "admin"),
    "GET /api/v1/compliance/days": only(
        "sergeant_ab", "sergeant_c", "supervisor", "analyst", "admin"
    ),
    "GET /api/v1/compliance/me": only(*FIELD),
    "POST /api/v1/compliance/recompute": only("supervisor", "analyst", "admin"),
    "GET /api/v1/compliance/recompute/{id}": only("supervisor", "analyst", "admin"),
    "GET /api/v1/presence/live": BOARD_SQUAD_1,  # squad 1's live positions
    "GET /api/v1/experiments/{id}/impact": only("supervisor", "analyst", "admin"),
    # incidents
    "GET /api/v1/harm-index": only("analyst", "supervisor", "admin"),
    "POST /api/v1/harm-index": only("analyst", "admin"),
    "POST /api/v1/imports": only("analyst", "admin"),
    "GET /api/v1/imports/{id}": only("analyst", "admin"),
    # hot spots
    "GET /api/v1/hotspots": EVERYONE,
    "GET /api/v1/hotspots/{id}": EVERYONE,
    "GET /api/v1/hotspots/nearby": EVERYONE,
    "GET /api/v1/analyses": ANALYSIS,
    "POST /api/v1/analyses": ANALYSIS,
    "GET /api/v1/analyses/{id}": ANALYSIS_READ,
    "GET /api/v1/analyses/{id}/cells.geojson": ANALYSIS_READ,
    "GET /api/v1/analyses/{id}/hotspots.geojson": ANALYSIS_READ,
    "GET /api/v1/analyses/{id}/hotspots-gis.{fmt}": ANALYSIS_READ,
    # patrols: each field user's own session, pings and activities
    "POST /api/v1/patrols/sessions": only(*FIELD),
    "GET /api/v1/patrols/sessions/current": only(*FIELD),
    "POST /api/v1/patrols/sessions/{id}/end": only("officer_a"),  # A's session
    "POST /api/v1/pings/batch": only(*FIELD),
    "POST /api/v1/avl/batch": only("admin"),  # the AVL feed's service account, admins
    "POST /api/v1/activities": only(*FIELD),
    # Undo is idempotent (204 when already gone): anyone else's undo must leave A's row.
    "DELETE /api/v1/activities/{client_uuid}": only(
        "officer_a",
        officer_b=NOOP,
        officer_c=NOOP,
        sergeant_ab=NOOP,
        sergeant_c=NOOP,
        admin=NOOP,
    ),
    "GET /api/v1/activity-types": EVERYONE,
    "GET /api/v1/officers/{officer_id}/track": only(
        "officer_a", "sergeant_ab", "supervisor", "admin"
    ),
    # missions
    "GET /api/v1/missions": only(*FIELD, "supervisor"),  # rows: see VISIBLE_OFFICERS
    "GET /api/v1/missions/{id}": only("officer_a", "sergeant_ab", "supervisor", "admin"),
    "POST /api/v1/missions/draw": only(*FIELD),
    "POST /api/v1/missions/assign": BOARD_SQUAD_1,  # to officer A
    "POST /api/v1/missions/{id}/accept": OWN_MISSION_STEP,
    "POST /api/v1/missions/{id}/arrive": OWN_MISSION_STEP,
    "POST /api/v1/missions/{id}/complete": OWN_MISSION_STEP,
    "POST /api/v1/missions/{id}/decline": OWN_MISSION_STEP,
    "POST /api/v1/missions/{id}/interrupt": OWN_MISSION_STEP,
    "POST /api/v1/missions/{id}/cancel": BOARD_SQUAD_1,
    "GET /api/v1/mission-types": EVERYONE,
    "POST /api/v1/squads/{id}/schedule": BOARD_SQUAD_1,
    "GET /api/v1/squads/{id}/board": BOARD_SQUAD_1,
    "GET /api/v1/experiments": EXPERIMENTS,
    "POST /api/v1/experiments": EXPERIMENTS,
    "GET /api/v1/experiments/{id}": EXPERIMENTS,
    "POST /api/v1/experiments/{id}/randomize": EXPERIMENTS,
    "POST /api/v1/experiments/{id}/start": EXPERIMENTS,
    "POST /api/v1/experiments/{id}/end": EXPERIMENTS,
    "GET /api/v1/experiments/{id}/allocation.csv": EXPERIMENTS,
    "GET /api/v1/experiments/{id}/reproduce": EXPERIMENTS,
    "GET /api/v1/experiments/{id}/arms.geojson": EXPERIMENTS,
    "GET /api/v1/experiments/{id}/arms-gis.{fmt}": EXPERIMENTS,
}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, Any]
    body: Any = None
    multipart: bool = False


def _treated_hotspot(world: World) -> Any:
    """A hot spot the world's experiment treats in two hours' time (its arms are drawn at
    random: a control hot spot would be refused for a reason that is not authorization)."""
    day = timezone.localtime(timezone.now() + timedelta(hours=2)).date()
    spots = world.hotspots[2:]
    treatment = treatment_on(day=day, hotspot_ids=[h.pk for h in spots])
    return next(h for h in spots if treatment.is_treated(h.pk))


def _at_a_hotspot(world: World) -> dict[str, float]:
    spot = world.hotspots[0]
    return {"lat": spot.centroid_lat, "lon": spot.centroid_lon}


def _fresh_mission_of_a(world: World, status: str) -> int:
    """A mission of officer A in ``status``, made for one cell (a transition changes it)."""
    now = timezone.now()
    times = {
        MissionStatus.ACCEPTED: {"accepted_at": now - timedelta(minutes=4)},
        MissionStatus.ON_SCENE: {
            "accepted_at": now - timedelta(minutes=4),
            "on_scene_at": now - timedelta(minutes=3),
        },
    }.get(status, {})
    # Window later than the world's own mission of A, so draw and assign never collide.
    return mission(
        world.hotspots[2],
        officer=world.users["officer_a"],
        status=status,
        start=now - timedelta(minutes=5),
        **times,
    ).pk


def _fresh_activity_of_a(world: World) -> str:
    rows = world.owned["officer_a"]
    now = timezone.now()
    return str(
        Activity.objects.create(
            officer=world.users["officer_a"],
            session=rows.session,
            client_uuid=uuid.uuid4(),
            kind=rows.activity.kind,
            recorded_at=now,
            received_at=now,
        ).client_uuid
    )


# What each write sends: a valid body, so that a refusal is about access, not input.
def _bodies(world: World, identity: str) -> dict[str, Callable[[], Any]]:
    today = timezone.localdate()
    a = world.users["officer_a"]
    user = world.users.get(identity) or a
    return {
        "POST /api/v1/auth/token": lambda: {
            "username": user.username,
            "password": "correct-horse-battery",
            **(
                {"otp": next_totp_code(verified_totp_device(user))}
                if factor_required(user) and identity != "sergeant_no_second_factor"
                else {}
            ),
        },
        "POST /api/v1/compliance/recompute": lambda: {
            "first_day": today.isoformat(),
            "last_day": today.isoformat(),
        },
        "POST /api/v1/harm-index": lambda: {"weights": {"larceny": 2.0}, "note": "matrix"},
        "POST /api/v1/analyses": lambda: {"as_of": today.isoformat(), "publish": False},
        "POST /api/v1/patrols/sessions": lambda: {"client_uuid": str(uuid.uuid4())},
        "POST /api/v1/patrols/sessions/{id}/end": lambda: {},
        "POST /api/v1/pings/batch": lambda: {"pings": []},
        "POST /api/v1/avl/batch": lambda: {"pings": []},
        "POST /api/v1/activities": lambda: {
            "client_uuid": str(uuid.uuid4()),
            "kind": world.owned["officer_a"].activity.kind.code,
            "recorded_at": timezone.now().isoformat(),
        },
        "POST /api/v1/missions/draw": lambda: {
            **_at_a_hotspot(world),
            "client_uuid": str(uuid.uuid4()),
        },
        "POST /api/v1/missions/assign": lambda: {
            "officer": a.pk,
            "hotspot": _treated_hotspot(world).pk,
            "window_start": (timezone.now() + timedelta(hours=2)).isoformat(),
            "window_end": (timezone.now() + timedelta(hours=3)).isoformat(),
            "client_uuid": str(uuid.uuid4()),
        },
        "POST /api/v1/missions/{id}/decline": lambda: {"reason": "unsafe"},
        "POST /api/v1/squads/{id}/schedule": lambda: {"date": today.isoformat()},
        "POST /api/v1/experiments": lambda: {
            "name": f"Matrix {uuid.uuid4().hex[:8]}",
            "design": "blocked",
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=28)).isoformat(),
        },
        "POST /api/v1/imports": lambda: {
            "file": io.BytesIO(b"id,date,lat,lon,offence\n1,2026-01-01 10:00,25.8,-80.2,larceny\n"),
            "client_uuid": str(uuid.uuid4()),
            "source": "matrix",
            "columns": '{"id": "id", "occurred_at": "date", "lat": "lat", "lon": "lon", '
            '"offence": "offence"}',
        },
    }


_TRANSITION_FROM = {
    "accept": MissionStatus.ASSIGNED,
    "arrive": MissionStatus.ACCEPTED,
    "complete": MissionStatus.ON_SCENE,
    "decline": MissionStatus.ASSIGNED,
    "interrupt": MissionStatus.ACCEPTED,
    "cancel": MissionStatus.ASSIGNED,
}


def build_call(operation: str, world: World, identity: str) -> Call:
    """The request of one cell: ``operation`` aimed at officer A's rows."""
    method, path = operation.split(" ", 1)
    params = path_parameters_for(path, path_ids(world, "officer_a"))
    step = path.rsplit("/", 1)[-1]
    if path.startswith("/api/v1/missions/{id}/") and step in _TRANSITION_FROM:
        params["id"] = _fresh_mission_of_a(world, _TRANSITION_FROM[step])
    if path == "/api/v1/activities/{client_uuid}":
        params["client_uuid"] = _fresh_activity_of_a(world)
    url = path.format(**params)
    query: dict[str, Any] = {}
    if path == "/api/v1/hotspots/nearby":
        query = _at_a_hotspot(world)
    elif path in ("/api/v1/compliance", "/api/v1/compliance/days"):
        day = timezone.localdate().isoformat()
        query = {"from": day, "to": day}
        if path == "/api/v1/compliance":
            query["by"] = "officer"
    elif path == "/api/v1/officers/{officer_id}/track":
        query = {"day": timezone.localdate().isoformat()}
    elif path == "/api/v1/presence/live":
        query = {"squad": world.squad1.pk}
    body = _bodies(world, identity).get(operation)
    return Call(
        method,
        url,
        query,
        body() if body else ({} if method == "POST" else None),
        multipart=operation == "POST /api/v1/imports",
    )


def identity_headers(world: World, identity: str) -> dict[str, str]:
    if identity == "anonymous":
        return {}
    if identity == "deactivated":
        return {"HTTP_AUTHORIZATION": world.tokens["deactivated"]}
    if identity == "sergeant_no_second_factor":
        # A session cookie that passed the password only.
        session = Client()
        force_login_without_factor(session, world.users[identity])
        return {"HTTP_COOKIE": f"sessionid={session.cookies['sessionid'].value}"}
    return {"HTTP_" + k.upper(): v for k, v in auth_headers(world.users[identity]).items()}


def send(client: Client, call: Call, headers: dict[str, str]) -> Any:
    if call.method == "GET":
        return client.get(call.path, call.query, **headers)
    if call.method == "DELETE":
        return client.delete(call.path, **headers)
    url = call.path + (
        "?" + "&".join(f"{k}={v}" for k, v in call.query.items()) if call.query else ""
    )
    if call.multipart:
        return client.post(url, call.body, **headers)
    return client.post(url, call.body, content_type="application/json", **headers)


# Whose rows each identity may see in a list (None: everyone's).
def visible_officers(world: World, identity: str) -> set[int] | None:
    u = world.users
    if identity in ("supervisor", "admin"):
        return None
    if identity == "sergeant_ab":
        return {u["officer_a"].pk, u["officer_b"].pk, u["sergeant_ab"].pk, u["deactivated"].pk}
    if identity == "sergeant_c":
        return {u["officer_c"].pk, u["sergeant_c"].pk}
    if identity in u:
        return {u[identity].pk}
    return set()


def visible_squads(world: World, identity: str) -> set[int] | None:
    if identity in ("officer_a", "officer_b", "sergeant_ab"):
        return {world.squad1.pk}
    if identity in ("officer_c", "sergeant_c"):
        return {world.squad2.pk}
    return None


def rows_outside_scope(operation: str, body: Any, world: World, identity: str) -> list[Any]:
    """Rows of a list answer that ``identity`` may not see (empty when all are fine)."""
    officers = visible_officers(world, identity)
    if operation == "GET /api/v1/missions":
        return [
            r["id"]
            for r in body["results"]
            if officers is not None and r["officer"] not in officers
        ]
    if operation == "GET /api/v1/compliance/days":
        return [
            r
            for r in body["results"]
            if officers is not None and r["officer"] not in (None, *officers)
        ]
    if operation == "GET /api/v1/presence/live":
        return [
            o["id"] for o in body["officers"] if officers is not None and o["id"] not in officers
        ]
    if operation == "GET /api/v1/squads":
        squads = visible_squads(world, identity)
        return [r["id"] for r in body["results"] if squads is not None and r["id"] not in squads]
    if operation == "GET /api/v1/officers/{officer_id}/track":
        return [] if officers is None or body["properties"]["officer"] in officers else [body]
    return []


def documented_codes(schema: dict[str, Any], operation: str) -> set[str]:
    method, path = operation.split(" ", 1)
    return set(schema["paths"][path][method.lower()]["responses"])


# Operations that refuse a target outside the caller's reach as invalid input naming the field
# (the same answer whether the target exists or not, so it tells nothing).
DENIED_AS_INVALID = {
    "POST /api/v1/missions/assign": "officer",
    "POST /api/v1/auth/token": "otp",  # the password is right; the second factor is missing
}


def check_cell(
    operation: str, identity: str, expected: str, response: Any, world: World, schema: Any
) -> str:
    """'' when the cell holds, else why not."""
    status = response.status_code
    body = (
        response.json() if response.get("Content-Type", "").startswith("application/json") else None
    )
    if expected == DENY and operation in DENIED_AS_INVALID and status == 400:
        field = DENIED_AS_INVALID[operation]
        return "" if isinstance(body, dict) and set(body) == {field} else f"400 with {body}"
    if expected == DENY:
        if status not in (401, 403, 404):
            return f"expected a denial, got {status}"
        if not isinstance(body, dict) or set(body) - {"detail"}:
            return f"a denial with data in its body: {response.content[:200]!r}"
        return ""
    ok = 200 <= status < 300 or (status == 409 and "409" in documented_codes(schema, operation))
    if not ok:
        return f"expected {expected}, got {status}: {response.content[:300]!r}"
    if expected == NOOP:
        return (
            ""
            if Activity.objects.filter(officer=world.users["officer_a"]).exists()
            else "A's activity deleted"
        )
    if status == 200 and body is not None:
        outside = rows_outside_scope(operation, body, world, identity)
        if outside:
            return f"rows outside the caller's scope: {outside}"
    return ""


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def schema(world: World) -> dict[str, Any]:
    admin = world.users["admin"]
    client = Client(**{"HTTP_" + k.upper(): v for k, v in auth_headers(admin).items()})
    return client.get("/api/schema/", {"format": "json"}).json()


def schema_operations(schema: dict[str, Any]) -> Iterator[str]:
    for path, methods in schema["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete"):
                yield f"{method.upper()} {path}"


def test_every_operation_of_the_schema_has_a_policy_row(schema: dict[str, Any]) -> None:
    operations = set(schema_operations(schema))
    assert operations - set(POLICY) == set(), "add a POLICY row for each new operation"
    assert set(POLICY) - operations == set(), "a POLICY row names no operation of the schema"
    for operation, row in POLICY.items():
        assert set(row) == set(IDENTITIES), operation


def test_every_identity_gets_what_the_policy_says_on_every_operation(
    world: World, schema: dict[str, Any], settings: Any
) -> None:
    # Limits have their own tests; here each identity makes one call per operation.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            k: "100000/min" for k in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        },
    }
    DailySnapshot.objects.create(day=timezone.localdate())
    identities = [i for i in IDENTITIES if SECOND_FACTOR_READY or i != "sergeant_no_second_factor"]
    failures: list[str] = []
    cells = 0
    for operation in schema_operations(schema):
        for identity in identities:
            expected = POLICY[operation][identity]
            call = build_call(operation, world, identity)
            client = Client(raise_request_exception=False)
            response = send(client, call, identity_headers(world, identity))
            cells += 1
            why = check_cell(operation, identity, expected, response, world, schema)
            if why:
                failures.append(f"{operation} as {identity}: {why}")
    print(f"\nauthorization matrix: {cells} cells tested, {len(failures)} failing")
    assert not failures, "\n".join(failures)


def test_a_role_that_holds_no_rows_still_gets_only_its_own_in_lists(world: World) -> None:
    """Officer B sees none of A's missions, C none of squad 1's; A's sergeant sees A's."""
    b = Client(
        **{"HTTP_" + k.upper(): v for k, v in auth_headers(world.users["officer_b"]).items()}
    )
    ids = [r["id"] for r in b.get("/api/v1/missions").json()["results"]]
    assert world.owned["officer_a"].mission.pk not in ids
    sergeant = Client(
        **{"HTTP_" + k.upper(): v for k, v in auth_headers(world.users["sergeant_ab"]).items()}
    )
    ids = [r["id"] for r in sergeant.get("/api/v1/missions").json()["results"]]
    assert world.owned["officer_a"].mission.pk in ids
    assert world.owned["officer_c"].mission.pk not in ids


# Exports outside the API (web pages, signed in with the session cookie), on squad 1 (A's).
# ``DENY`` here: no 200, and nothing of officer A in the body.
def page_exports(world: World) -> dict[str, str]:
    day = timezone.localdate().isoformat()
    squad = world.squad1.pk
    return {
        "board_csv": f"/missions/board/missions.csv?squad={squad}&date={day}",
        "squad_csv": f"/reports/squad.csv?squad={squad}&reason=matrix+check",
        "compliance_csv": f"/reports/compliance.csv?from={day}&to={day}&by=officer",
    }


PAGE_POLICY: dict[str, dict[str, str]] = {
    "board_csv": BOARD_SQUAD_1,
    "squad_csv": BOARD_SQUAD_1,
    "compliance_csv": only("sergeant_ab", "sergeant_c", "supervisor", "analyst", "admin"),
}


def test_exports_outside_the_api_follow_the_same_policy(world: World) -> None:
    a = world.users["officer_a"]
    mission_id = str(world.owned["officer_a"].mission.pk)
    failures, cells = [], 0
    for name, url in page_exports(world).items():
        for identity in IDENTITIES:
            if identity == "sergeant_no_second_factor" and not SECOND_FACTOR_READY:
                continue
            client = Client(raise_request_exception=False)
            if identity == "sergeant_no_second_factor":
                force_login_without_factor(client, world.users[identity])
            elif identity in world.users:
                client.force_login(world.users[identity])
            response = client.get(url)
            cells += 1
            expected = PAGE_POLICY[name][identity]
            body = response.content.decode(errors="replace")
            if expected == ALLOW and response.status_code != 200:
                failures.append(f"{name} as {identity}: expected 200, got {response.status_code}")
            # (Officer A's own pages show A's name in the header: the name counts for others.)
            shows_a = (
                identity != "officer_a" and a.last_name in body
            ) or f"\n{mission_id}," in body
            if expected == DENY and (response.status_code == 200 or shows_a):
                failures.append(
                    f"{name} as {identity}: expected a denial, got {response.status_code}"
                )
            if name == "board_csv" and expected == ALLOW and f"\n{mission_id}," not in body:
                failures.append(f"{name} as {identity}: officer A's mission missing")
    print(f"\npage exports: {cells} cells tested, {len(failures)} failing")
    assert not failures, "\n".join(failures)
