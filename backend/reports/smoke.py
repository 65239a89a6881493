"""The production smoke test: one officer's shift, end to end, through HTTP only.

Against a running stack (gunicorn, a Celery worker and beat, PostgreSQL, Redis) it checks, in
order: ``/healthz`` (database, broker and a worker's canary), sign-in (an API token), the
published hot spots, a "next hot spot" draw, a patrol with a batch of pings walking 13 minutes
inside the drawn hot spot (sent twice: the second time every ping must be a duplicate), the end
of the patrol, the visit rolled up by a real worker (polled until it appears), the officer's
own dose report, and sign-out. Nothing here imports the app: what passes here passes for a
phone.

Each step is printed with its time; the first failure stops the run with a message saying
what was expected and what came back (``SmokeFailure``).
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shapely.geometry import Point, shape

PING_INTERVAL_S = 10  # one fix every 10 s, as the phone app sends while on patrol
WALK_MINUTES = 13  # a Koper-length visit (10-16 minutes), within one batch of pings
WALK_SPEED_MPS = 1.2  # walking pace
METRES_PER_DEGREE_LAT = 111_320.0
POLL_EVERY_S = 1.0
DRAW_TRIES = 5  # hot spots to stand at before a draw with no mission fails (limit 20/min)


class SmokeFailure(Exception):
    """A step failed: the message says which, what was expected and what came back."""


@dataclass
class StepResult:
    name: str
    seconds: float
    detail: str


@dataclass
class SmokeOptions:
    base_url: str
    username: str
    password: str
    forwarded_proto: str | None = None  # "https": stand in for the TLS proxy (no proxy here)
    host: str | None = None  # a Host header other than the URL's (ALLOWED_HOSTS)
    rollup_timeout_s: float = 180.0
    request_timeout_s: float = 30.0


@dataclass
class Response:
    status: int
    body: Any
    text: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, never followed: production's HTTPS redirect must be visible."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class SmokeClient:
    options: SmokeOptions
    token: str | None = None
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(_NoRedirect())
    )

    def request(self, method: str, path: str, payload: Any = None) -> Response:
        url = self.options.base_url.rstrip("/") + path
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if self.options.forwarded_proto:
            # What the TLS proxy in front (nginx) adds; Django trusts it in production.
            headers["X-Forwarded-Proto"] = self.options.forwarded_proto
            headers["X-Forwarded-For"] = "127.0.0.1"
        if self.options.host:
            headers["Host"] = self.options.host
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(req, timeout=self.options.request_timeout_s) as resp:
                status, raw, location = resp.status, resp.read(), None
        except urllib.error.HTTPError as exc:
            status, raw, location = exc.code, exc.read(), exc.headers.get("Location")
        except (urllib.error.URLError, OSError) as exc:
            raise SmokeFailure(f"{method} {url}: no answer ({exc})") from exc
        if status in (301, 302, 307, 308):
            hint = ""
            if location and location.startswith("https://"):
                hint = (
                    " (production redirects plain HTTP to HTTPS: with no TLS proxy in front, "
                    "pass --forwarded-proto https)"
                )
            raise SmokeFailure(f"{method} {path}: redirected ({status}) to {location}{hint}")
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = None
        return Response(status, body, text)

    def expect(self, method: str, path: str, payload: Any = None, *, ok: tuple[int, ...]) -> Any:
        resp = self.request(method, path, payload)
        if resp.status not in ok:
            raise SmokeFailure(
                f"{method} {path}: expected HTTP {' or '.join(map(str, ok))}, got "
                f"{resp.status}: {resp.text[:500]}"
            )
        return resp.body


def walk_inside(geometry: dict[str, Any], *, points: int) -> list[tuple[float, float]]:
    """``points`` (lat, lon) positions walking a circle at ``WALK_SPEED_MPS`` around a point
    inside the hot spot ``geometry`` (GeoJSON, lon/lat degrees), one every ``PING_INTERVAL_S``
    seconds; the circle shrinks (from 20 m down to 1 m) until every position is strictly inside.
    """
    polygon = shape(geometry)
    centre = polygon.representative_point()
    lat0, lon0 = centre.y, centre.x
    m_lat = METRES_PER_DEGREE_LAT
    m_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(lat0))
    radius = 20.0
    while radius >= 1.0:
        step = WALK_SPEED_MPS * PING_INTERVAL_S / radius  # radians between fixes
        walk = [
            (
                lat0 + radius * math.sin(k * step) / m_lat,
                lon0 + radius * math.cos(k * step) / m_lon,
            )
            for k in range(points)
        ]
        if all(polygon.contains(Point(lon, lat)) for lat, lon in walk):
            return walk
        radius /= 2
    raise SmokeFailure("the drawn hot spot is too thin to walk inside (under 2 m across)")


def _delivered(me: Any) -> tuple[int, float, int]:
    """Visits, minutes and Koper visits over the report's days (a run across midnight too)."""
    days = me.get("days") or []
    return (
        sum(int(d["delivered_visits"]) for d in days),
        sum(float(d["delivered_minutes"]) for d in days),
        sum(int(d["koper_visits"]) for d in days),
    )


def smoke_steps(options: SmokeOptions) -> Iterator[tuple[str, Callable[[], str]]]:
    """The steps in order, each a name and a callable returning what it saw."""
    client = SmokeClient(options)
    state: dict[str, Any] = {}

    def healthz() -> str:
        resp = client.request("GET", "/healthz")
        if resp.status != 200 or not isinstance(resp.body, dict) or resp.body.get("status") != "ok":
            raise SmokeFailure(
                f"GET /healthz: expected 200 {{'status': 'ok'}} (database, broker and a worker "
                f"answering), got {resp.status}: {resp.text[:300]}"
            )
        return "database, broker and a worker's canary answer"

    def login() -> str:
        body = client.expect(
            "POST",
            "/api/v1/auth/token",
            {"username": options.username, "password": options.password},
            ok=(200,),
        )
        client.token = body["token"]
        me = client.expect("GET", "/api/v1/me", ok=(200,))
        role = me.get("role") if isinstance(me, dict) else None
        if role != "officer":
            raise SmokeFailure(f"{options.username} signed in as {role!r}, not an officer")
        return f"token issued to {options.username} (officer)"

    def hotspots() -> str:
        body = client.expect("GET", "/api/v1/hotspots", ok=(200,))
        rows = body["results"] if isinstance(body, dict) else body
        if not rows:
            raise SmokeFailure(
                "GET /api/v1/hotspots: no published hot spot to patrol "
                "(publish an analysis, or run smoke_production --prepare on a fresh install)"
            )
        state["near"] = [
            (float(r["centroid_lat"]), float(r["centroid_lon"])) for r in rows[:DRAW_TRIES]
        ]
        return f"{len(rows)} published hot spot(s) on the first page"

    def draw() -> str:
        # Standing at a published hot spot, a draw finds one due within reach, unless that hot
        # spot is a control far from treated ones: then stand at the next.
        for lat, lon in state["near"]:
            payload = {"lat": lat, "lon": lon, "client_uuid": str(uuid.uuid4())}
            body = client.expect("POST", "/api/v1/missions/draw", payload, ok=(200, 201))
            mission = body.get("mission")
            if mission:
                break
        if not mission:
            raise SmokeFailure(f"POST /api/v1/missions/draw: no mission: {body.get('detail')}")
        again = client.expect("POST", "/api/v1/missions/draw", payload, ok=(200,))
        if (again.get("mission") or {}).get("id") != mission["id"]:
            raise SmokeFailure("a retried draw (same client_uuid) returned another mission")
        state["mission"] = mission
        return (
            f"mission {mission['id']} at hot spot {mission['hotspot']} "
            f"({body['distance_m']} m away); the retry returned the same mission"
        )

    def patrol_start() -> str:
        current = client.expect("GET", "/api/v1/patrols/sessions/current", ok=(200,))
        if isinstance(current, dict) and current.get("id"):
            # A smoke run stopped half-way left its patrol open: end it first.
            client.expect("POST", f"/api/v1/patrols/sessions/{current['id']}/end", {}, ok=(200,))
        before = client.expect("GET", "/api/v1/compliance/me", ok=(200,))
        state["before"] = _delivered(before)
        started = datetime.now(UTC) - timedelta(minutes=WALK_MINUTES + 1)
        body = client.expect(
            "POST",
            "/api/v1/patrols/sessions",
            {"client_uuid": str(uuid.uuid4()), "started_at": started.isoformat()},
            ok=(201,),
        )
        state["session"] = body["id"]
        state["started"] = started
        return f"session {body['id']} started at {started:%H:%M:%S} UTC"

    def pings() -> str:
        n = WALK_MINUTES * 60 // PING_INTERVAL_S + 1
        first = state["started"] + timedelta(seconds=30)
        walk = walk_inside(state["mission"]["hotspot_geometry"], points=n)
        items = [
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (first + timedelta(seconds=k * PING_INTERVAL_S)).isoformat(),
                "lat": lat,
                "lon": lon,
                "accuracy_m": 5.0,
                "speed_mps": WALK_SPEED_MPS,
            }
            for k, (lat, lon) in enumerate(walk)
        ]
        batch = {"pings": items, "session": state["session"]}
        body = client.expect("POST", "/api/v1/pings/batch", batch, ok=(200,))
        if body.get("accepted") != n:
            rejected = [i for i in body.get("items", []) if i.get("status") != "accepted"][:3]
            raise SmokeFailure(
                f"expected {n} pings accepted, got {body.get('accepted')}: {rejected}"
            )
        again = client.expect("POST", "/api/v1/pings/batch", batch, ok=(200,))
        if again.get("duplicate") != n:
            raise SmokeFailure(
                f"the same batch sent again: expected {n} duplicates, got {again.get('duplicate')} "
                f"(accepted {again.get('accepted')}): exactly-once is broken"
            )
        state["pings"] = n
        return f"{n} pings accepted; the same batch again: {n} duplicates"

    def patrol_end() -> str:
        body = client.expect(
            "POST", f"/api/v1/patrols/sessions/{state['session']}/end", {}, ok=(200,)
        )
        if not body.get("ended_at"):
            raise SmokeFailure(f"the patrol did not end: {body}")
        return f"session {state['session']} ended; its rollup is queued for a worker"

    def rollup() -> str:
        deadline = time.monotonic() + options.rollup_timeout_s
        visits_before = state["before"][0]
        polls = 0
        while True:
            polls += 1
            me = client.expect("GET", "/api/v1/compliance/me", ok=(200,))
            if _delivered(me)[0] > visits_before:
                state["after"] = _delivered(me)
                return f"visit rolled up by the worker (seen after {polls} poll(s))"
            if time.monotonic() > deadline:
                raise SmokeFailure(
                    f"no visit {options.rollup_timeout_s:.0f} s after the patrol ended: is a "
                    "Celery worker consuming the broker (and beat running the sweeps)?"
                )
            time.sleep(POLL_EVERY_S)

    def report() -> str:
        visits_before, minutes_before, koper_before = state["before"]
        visits, minutes, koper = state["after"]
        # The walk: fixes every 10 s over 13 minutes, all inside: 13 minutes of dwell, one
        # Koper-compliant visit (10-16 minutes). Minutes are rounded by the report.
        walked = (state["pings"] - 1) * PING_INTERVAL_S / 60
        if visits - visits_before != 1:
            raise SmokeFailure(
                f"expected one new visit in /compliance/me, got {visits - visits_before}"
            )
        if abs((minutes - minutes_before) - walked) > 0.5:
            raise SmokeFailure(
                f"expected {walked:.1f} more delivered minutes, got {minutes - minutes_before:.1f}"
            )
        if koper - koper_before != 1:
            raise SmokeFailure(f"expected one more Koper visit, got {koper - koper_before}")
        return (
            f"own dose: +1 visit, +{minutes - minutes_before:.1f} min (walked {walked:.1f}), "
            "+1 Koper visit"
        )

    def logout() -> str:
        client.expect("POST", "/api/v1/auth/logout", ok=(204,))
        resp = client.request("GET", "/api/v1/me")  # the same, now revoked, token
        if resp.status not in (401, 403):
            raise SmokeFailure(f"the token still works after sign-out (HTTP {resp.status})")
        return "token revoked"

    yield "healthz", healthz
    yield "login", login
    yield "hotspots", hotspots
    yield "draw", draw
    yield "patrol start", patrol_start
    yield "ping batch", pings
    yield "patrol end", patrol_end
    yield "rollup", rollup
    yield "report", report
    yield "logout", logout
    yield "healthz again", healthz


def smoke_run(options: SmokeOptions, *, echo: Callable[[StepResult], None]) -> list[StepResult]:
    """Run every step, calling ``echo`` after each; raises ``SmokeFailure`` at the first
    failure (with the step's name in front of the message)."""
    results = []
    for name, step in smoke_steps(options):
        started = time.perf_counter()
        try:
            detail = step()
        except SmokeFailure as exc:
            raise SmokeFailure(f"{name}: {exc}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise SmokeFailure(
                f"{name}: unexpected answer ({exc.__class__.__name__}: {exc})"
            ) from exc
        result = StepResult(name, time.perf_counter() - started, detail)
        results.append(result)
        echo(result)
    return results
