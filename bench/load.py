"""Load test: on-duty officers' phones and sergeants' boards against a running server.

Two steps (the server must be this checkout, on the same database):

1. ``DATABASE_URL=... python bench/load.py prepare --officers 5000`` creates, in bulk, a city of
   five districts with a published analysis (``--hotspots`` active hot spots, 500 by default),
   one squad and one sergeant per ``--squad-size`` officers, every officer on an open patrol
   session, and an API token for everyone written directly in the database (staff roles sign in
   with a second factor; a load test does not). It writes the tokens to ``--state``. Re-running
   replaces the previous load-test users; run it shortly before ``run`` (a token expires after
   30 minutes without use).

2. ``python bench/load.py run --url http://127.0.0.1:8000 --officers 500 --duration 60``
   simulates each officer sending a batch of ``--pings-per-batch`` pings every 10 s, asking for
   nearby hot spots every 30 s and drawing a mission every 15 minutes, and each sergeant polling
   the squad board every 10 s, each at a random phase. It stops by itself after ``--duration``
   seconds, refuses any target but 127.0.0.1/localhost, and prints per endpoint: requests,
   throughput, p50/p95/p99 latency and errors. Latency runs from the moment a request was due,
   so time spent waiting for a connection counts (no coordinated omission). With
   ``--server-pid`` (the gunicorn master) it also reports the CPU the web workers and the
   database's backends spent, per officer: what sizing extrapolates from.

Run the server with ``PRESENCE_ENV=production`` (hot reads on: ``PRESENCE_HOT_READ_SECONDS``)
and ``deploy/gunicorn.conf.py``; the ladder measured on the 2-core reference machine (500 to
5,000 officers) and ``bench/endpoint_cpu.py``'s CPU per call are in deploy/README.md, "Sizing".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.city import CITY_H_M, CITY_W_M, district_strips, square_hotspots  # noqa: E402

CENTRE = (25.80, -80.21)
PING_EVERY_S, NEARBY_EVERY_S, DRAW_EVERY_S, BOARD_EVERY_S = 10.0, 30.0, 900.0, 10.0
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
PREFIX = "load-"


# --- prepare ---------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from datetime import date

    import numpy as np
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from backend.accounts.models import District, Role, Squad, User
    from backend.analytics.projection import LocalProjection
    from backend.hotspots.models import AnalysisRun, Hotspot
    from backend.incidents.selectors import harm_version_current
    from backend.patrols.models import PatrolSession

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(args.seed)
    proj = LocalProjection(*CENTRE)
    with transaction.atomic():
        districts = list(District.objects.filter(code__startswith=PREFIX).order_by("code"))
        if not districts:
            districts = district_strips(proj, name="Load district {k}", code=PREFIX + "d{k}")
        if not Hotspot.objects.filter(run__is_active=True).exists():
            AnalysisRun.objects.filter(is_active=True).update(is_active=False)
            run = AnalysisRun.objects.create(
                as_of=date.today(),
                status="done",
                is_active=True,
                published_at=timezone.now(),
                weights_version=harm_version_current(),
            )
            square_hotspots(run, districts, proj, rng, args.hotspots)

        # Users stay between runs (their audit rows protect them): missing ones are created,
        # everyone gets a fresh token and an open patrol session.
        n_squads = math.ceil(args.officers / args.squad_size)
        sergeants = _ensure_users(
            User, [f"{PREFIX}sgt{k}" for k in range(n_squads)], role=Role.SERGEANT
        )
        have = {q.name: q for q in Squad.objects.filter(name__startswith=PREFIX)}
        Squad.objects.bulk_create(
            [
                Squad(
                    name=f"{PREFIX}squad{k}",
                    district=districts[k % len(districts)],
                    sergeant=sergeants[k],
                    shift_start="00:00",
                    shift_hours=24,
                )
                for k in range(n_squads)
                if f"{PREFIX}squad{k}" not in have
            ]
        )
        have = {q.name: q for q in Squad.objects.filter(name__startswith=PREFIX)}
        squads = [have[f"{PREFIX}squad{k}"] for k in range(n_squads)]
        officers = _ensure_users(
            User, [f"{PREFIX}officer{i}" for i in range(args.officers)], role=Role.OFFICER
        )
        for i, o in enumerate(officers):
            o.squad = squads[i // args.squad_size]
        User.objects.bulk_update(officers, ["squad"])
        now = timezone.now()
        open_ = {
            s.officer_id: s
            for s in PatrolSession.objects.filter(officer__in=officers, ended_at__isnull=True)
        }
        PatrolSession.objects.bulk_create(
            [
                PatrolSession(
                    officer=o, client_uuid=uuid.uuid4(), started_at=now - timedelta(hours=1)
                )
                for o in officers
                if o.pk not in open_
            ]
        )
        open_ = {
            s.officer_id: s
            for s in PatrolSession.objects.filter(officer__in=officers, ended_at__isnull=True)
        }
        sessions = [open_[o.pk] for o in officers]
        everyone = [*officers, *sergeants]
        Token.objects.filter(user__in=everyone).delete()
        tokens = Token.objects.bulk_create(
            [Token(key=Token.generate_key(), user=u) for u in everyone]
        )
    key = {t.user_id: t.key for t in tokens}
    state = {
        "officers": [
            {"token": key[o.pk], "session": s.pk, "squad": o.squad_id}
            for o, s in zip(officers, sessions, strict=True)
        ],
        "sergeants": [
            {"token": key[s.pk], "squad": q.pk} for s, q in zip(sergeants, squads, strict=True)
        ],
    }
    Path(args.state).write_text(json.dumps(state))
    print(
        f"prepared {len(officers):,} officers on patrol, {len(sergeants):,} sergeants and squads, "
        f"{Hotspot.objects.filter(run__is_active=True).count():,} active hot spots in "
        f"{time.perf_counter() - started:.1f} s; tokens in {args.state}"
    )


def _ensure_users(model: Any, names: list[str], *, role: str) -> list[Any]:
    """The users named ``names`` (in that order), created in bulk where missing."""
    have = {u.username: u for u in model.objects.filter(username__in=names)}
    model.objects.bulk_create(
        [model(username=n, role=role, password="!") for n in names if n not in have]
    )  # password "!": no password can sign in; the API token is written below
    have = {u.username: u for u in model.objects.filter(username__in=names)}
    return [have[n] for n in names]


# --- run -------------------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: dict[str, str] = field(default_factory=dict)
    pings_sent: int = 0
    pings_stored: int = 0


class Officer:
    def __init__(self, info: dict[str, Any], rng: random.Random) -> None:
        self.token = info["token"]
        self.session = info["session"]
        self.rng = rng
        self.x = rng.uniform(-CITY_W_M / 2, CITY_W_M / 2)
        self.y = rng.uniform(-CITY_H_M / 2, CITY_H_M / 2)

    def position(self) -> tuple[float, float]:
        """A walk of about 1.3 m/s; (lat, lon) by a flat-earth approximation near CENTRE."""
        self.x = max(-CITY_W_M / 2, min(CITY_W_M / 2, self.x + self.rng.gauss(0, 8)))
        self.y = max(-CITY_H_M / 2, min(CITY_H_M / 2, self.y + self.rng.gauss(0, 8)))
        lat = CENTRE[0] + self.y / 111_320.0
        lon = CENTRE[1] + self.x / (111_320.0 * math.cos(math.radians(CENTRE[0])))
        return lat, lon


async def _call(
    session: Any,
    stats: Stats,
    name: str,
    due: float,
    method: str,
    url: str,
    token: str,
    body: bytes | None = None,
) -> Any:
    # As nginx forwards it (deploy/nginx.conf): TLS ended at the proxy.
    headers = {
        "Authorization": f"Token {token}",
        "Accept": "application/json",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with session.request(method, url, data=body, headers=headers) as response:
            payload = await response.read()
            latency = time.perf_counter() - due
            if response.status >= 300:
                stats.errors[name] += 1
                stats.error_samples.setdefault(name, f"{response.status} {payload[:200]!r}")
                return None
            stats.latencies[name].append(latency)
            return json.loads(payload) if payload else None
    except Exception as exc:  # every failure is counted and reported, never raised
        stats.errors[name] += 1
        stats.error_samples.setdefault(name, f"{type(exc).__name__}: {exc}")
        return None


async def _every(period: float, end: float, rng: random.Random, action: Any) -> None:
    """Call ``action(due)`` every ``period`` seconds from a random phase until ``end``; a late
    call does not shift the schedule (the next is due a period after the previous was due)."""
    due = time.perf_counter() + rng.uniform(0, period)
    while due < end:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await action(due)
        due += period


async def officer_loop(
    session: Any, base: str, o: Officer, stats: Stats, end: float, per_batch: int
) -> None:
    async def pings(due: float) -> None:
        now = datetime.now(UTC)
        items = []
        for k in range(per_batch):
            lat, lon = o.position()
            when = now - timedelta(seconds=PING_EVERY_S * (per_batch - k) / per_batch)
            items.append(
                {
                    "client_uuid": str(uuid.uuid4()),
                    "recorded_at": when.isoformat(),
                    "lat": lat,
                    "lon": lon,
                    "accuracy_m": 8.0,
                    "speed_mps": 1.3,
                    "heading_deg": 90.0,
                }
            )
        body = json.dumps({"pings": items, "session": o.session}).encode()
        stats.pings_sent += per_batch
        answer = await _call(
            session, stats, "pings", due, "POST", f"{base}/api/v1/pings/batch", o.token, body
        )
        if answer is not None:
            stats.pings_stored += answer["accepted"]

    async def nearby(due: float) -> None:
        lat, lon = o.position()
        url = f"{base}/api/v1/hotspots/nearby?lat={lat:.6f}&lon={lon:.6f}"
        await _call(session, stats, "nearby", due, "GET", url, o.token)

    async def draw(due: float) -> None:
        lat, lon = o.position()
        body = json.dumps({"lat": lat, "lon": lon, "client_uuid": str(uuid.uuid4())}).encode()
        await _call(
            session, stats, "draw", due, "POST", f"{base}/api/v1/missions/draw", o.token, body
        )

    await asyncio.gather(
        _every(PING_EVERY_S, end, o.rng, pings),
        _every(NEARBY_EVERY_S, end, o.rng, nearby),
        _every(DRAW_EVERY_S, end, o.rng, draw),
    )


async def sergeant_loop(
    session: Any, base: str, info: dict[str, Any], stats: Stats, end: float, rng: random.Random
) -> None:
    async def board(due: float) -> None:
        url = f"{base}/api/v1/squads/{info['squad']}/board"
        await _call(session, stats, "board", due, "GET", url, info["token"])

    await _every(BOARD_EVERY_S, end, rng, board)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)] * 1000


async def run_async(args: argparse.Namespace, state: dict[str, Any]) -> Stats:
    import aiohttp

    stats = Stats()
    rng = random.Random(args.seed)
    officers = [
        Officer(info, random.Random(rng.random())) for info in state["officers"][: args.officers]
    ]
    squads = {info["squad"] for info in state["officers"][: args.officers]}
    sergeants = [s for s in state["sergeants"] if s["squad"] in squads]
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, auto_decompress=True
    ) as session:
        end = time.perf_counter() + args.duration
        base = args.url.rstrip("/")
        await asyncio.gather(
            *(officer_loop(session, base, o, stats, end, args.pings_per_batch) for o in officers),
            *(
                sergeant_loop(session, base, s, stats, end, random.Random(rng.random()))
                for s in sergeants
            ),
        )
    return stats


def run(args: argparse.Namespace) -> None:
    host = urlparse(args.url).hostname or ""
    if host not in LOCAL_HOSTS:
        sys.exit(f"refusing to load {host!r}: this load test targets only 127.0.0.1/localhost")
    state = json.loads(Path(args.state).read_text())
    if args.officers > len(state["officers"]):
        sys.exit(f"{args.state} holds {len(state['officers'])} officers: prepare more")
    meters = None
    if args.server_pid:
        from bench.cputime import CpuMeter, children, pg_backends

        web = CpuMeter(lambda: [args.server_pid, *children(args.server_pid)])
        database = CpuMeter(lambda: pg_backends(args.database)) if args.database else None
        meters = (web, database)
        web.start()
        if database:
            database.start()
    own_before = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.perf_counter()
    stats = asyncio.run(run_async(args, state))
    wall = time.perf_counter() - wall
    own_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (own_after.ru_utime + own_after.ru_stime) - (
        own_before.ru_utime + own_before.ru_stime
    )

    n_sgt = len({o["squad"] for o in state["officers"][: args.officers]})
    print(
        f"{args.officers:,} officers ({args.pings_per_batch} pings per batch every "
        f"{PING_EVERY_S:.0f} s, nearby every {NEARBY_EVERY_S:.0f} s, a draw every "
        f"{DRAW_EVERY_S / 60:.0f} min), {n_sgt:,} sergeants (board every {BOARD_EVERY_S:.0f} s), "
        f"{wall:.0f} s against {args.url}, {args.connections} client connections"
    )
    print(
        f"{'endpoint':<10}{'requests':>10}{'req/s':>9}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    )
    total = errors = 0
    worst_p95 = 0.0
    for name in ("pings", "nearby", "draw", "board"):
        lat = stats.latencies.get(name, [])
        err = stats.errors.get(name, 0)
        total += len(lat) + err
        errors += err
        p95 = _pct(lat, 0.95)
        if lat:
            worst_p95 = max(worst_p95, p95)
        print(
            f"{name:<10}{len(lat) + err:>10,}{(len(lat) + err) / wall:>9.1f}{_pct(lat, 0.50):>9.1f}"
            f"{p95:>9.1f}{_pct(lat, 0.99):>9.1f}{err:>8,}"
        )
    print(
        f"{'all':<10}{total:>10,}{total / wall:>9.1f}   pings stored {stats.pings_stored:,} "
        f"of {stats.pings_sent:,} sent ({stats.pings_stored / wall:,.0f}/s); worst p95 "
        f"{worst_p95:.1f} ms; errors {errors}"
    )
    for name, sample in stats.error_samples.items():
        print(f"  first {name} error: {sample}")
    verdict = "PASS" if errors == 0 and worst_p95 < 200 else "FAIL"
    print(f"{verdict}: p95 < 200 ms on every endpoint and zero errors")
    line = f"CPU over the run: client {client_cpu:.1f} s"
    if meters:
        web_s = meters[0].stop()
        line += f", web workers {web_s:.1f} s"
        if meters[1]:
            db_s = meters[1].stop()
            line += f", PostgreSQL backends {db_s:.1f} s"
            per = (web_s + db_s) / wall / args.officers * 1000
            line += f"; web+db {per:.2f} cores per 1,000 officers"
    print(line + f" ({os.cpu_count()} cores shared with other jobs)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="create the officers, sergeants, sessions and tokens")
    p.add_argument("--officers", type=int, default=5000)
    p.add_argument("--hotspots", type=int, default=500)
    p.add_argument("--squad-size", type=int, default=10)
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--state", default="/tmp/presence-load.json")
    r = sub.add_parser("run", help="simulate the officers and sergeants")
    r.add_argument("--url", default="http://127.0.0.1:8000")
    r.add_argument("--officers", type=int, default=500)
    r.add_argument("--duration", type=float, default=60.0, help="seconds")
    r.add_argument("--pings-per-batch", type=int, default=2, help="a fix every 5 s")
    r.add_argument("--connections", type=int, default=64, help="client connection pool")
    r.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--state", default="/tmp/presence-load.json")
    r.add_argument("--server-pid", type=int, default=0, help="gunicorn master, for CPU figures")
    r.add_argument("--database", default="", help="database name, for PostgreSQL CPU figures")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
