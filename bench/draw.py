"""Latency of the officer's "next hot spot" draw on PostgreSQL, with 500 active hot spots.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python bench/draw.py
[--hotspots 500] [--draws 1000] [--officers 100] [--threads 4] [--keep]``.

The benchmark never touches the database named in ``DATABASE_URL``: it creates a sibling
database ``<name>_draw`` on the same server, migrates it, builds a 15 x 17 km city with
``--hotspots`` active hot spots in five districts (a running blocked experiment treating half of
them, some dose already delivered today), and drops it at the end unless ``--keep``.

Then it times ``--draws`` draws from random positions by random officers (after 50 warm-up
draws), each a committed transaction that locks the candidate rows, reads treatment, dose and
"taken", and writes the mission and its audit row:

* ``service``: ``missions.services.mission_draw`` called directly;
* ``HTTP API``: ``POST /api/v1/missions/draw`` through Django's test client with token auth
  (URL routing, authentication, DRF parsing and serialization, no network);
* ``service, N threads``: the same draws from ``--threads`` threads at once, to show the cost
  of the row locks when officers draw at the same time.

Prints median, p95 and max per path, and the median number of hot spots within reach.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
os.environ["DEBUG"] = "false"

from bench.city import CITY_H_M, CITY_W_M, district_strips, square_hotspots  # noqa: E402

WARMUP = 50


def _sibling_database(url: str) -> tuple[str, str]:
    """(admin URL on the ``postgres`` database, URL of ``<name>_draw``) for a PostgreSQL URL."""
    parts = urlparse(url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (this benchmark is for PostgreSQL).")
    name = parts.path.lstrip("/") or "presence"
    return (
        urlunparse(parts._replace(path="/postgres")),
        urlunparse(parts._replace(path=f"/{name}_draw")),
    )


def _recreate(admin_url: str, db_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    name = urlparse(db_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hotspots", type=int, default=500)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--officers", type=int, default=100)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--keep", action="store_true", help="Keep the <name>_draw database.")
    args = parser.parse_args()

    admin_url, db_url = _sibling_database(os.environ.get("DATABASE_URL", ""))
    _recreate(admin_url, db_url)
    os.environ["DATABASE_URL"] = db_url

    import django

    django.setup()
    try:
        _bench(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _recreate(admin_url, db_url, drop_only=True)


def _city(args: argparse.Namespace) -> tuple[list, list, list]:  # type: ignore[type-arg]
    from datetime import date

    import numpy as np
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from backend.accounts.models import Role, Squad, User
    from backend.analytics.projection import LocalProjection
    from backend.hotspots.models import AnalysisRun
    from backend.incidents.selectors import harm_version_current
    from backend.missions.services import (
        experiment_create,
        experiment_randomize,
        experiment_start,
    )
    from backend.patrols.models import Visit

    call_command("migrate", verbosity=0)
    rng = np.random.default_rng(args.seed)
    proj = LocalProjection(25.80, -80.21)
    districts = district_strips(proj, name="D{k}", code="d{k}")
    run = AnalysisRun.objects.create(
        as_of=date(2026, 1, 1),
        status="done",
        is_active=True,
        published_at=timezone.now(),
        weights_version=harm_version_current(),
    )
    spots = square_hotspots(run, districts, proj, rng, args.hotspots)
    analyst = User.objects.create(username="analyst", role=Role.ANALYST)
    experiment = experiment_create(
        actor=analyst,
        name="Bench",
        design="blocked",
        starts_on=timezone.localdate(),
        ends_on=timezone.localdate(),
    )
    experiment_randomize(experiment_id=experiment.pk, actor=analyst)
    experiment_start(experiment_id=experiment.pk, actor=analyst)
    squad = Squad.objects.create(
        name="Bench squad", district=districts[0], shift_start="07:00", shift_hours=10
    )
    officers = [
        User.objects.create(username=f"officer{i}", role=Role.OFFICER, squad=squad)
        for i in range(args.officers)
    ]
    tokens = [Token.objects.create(user=o).key for o in officers]
    today = timezone.localdate()
    visited = rng.choice(len(spots), size=len(spots) // 2, replace=False)
    Visit.objects.bulk_create(
        [
            Visit(
                officer=officers[int(rng.integers(len(officers)))],
                hotspot=spots[int(i)],
                day=today,
                entered_at=timezone.now(),
                exited_at=timezone.now(),
                dwell_s=700,
                mode="foot",
                koper_compliant=True,
            )
            for i in visited
            for _ in range(int(rng.integers(1, 3)))
        ]
    )
    lat, lon = proj.to_latlon(
        rng.uniform(-CITY_W_M / 2, CITY_W_M / 2, 10 * args.draws),
        rng.uniform(-CITY_H_M / 2, CITY_H_M / 2, 10 * args.draws),
    )
    positions = [(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]
    return officers, tokens, positions


def _stats(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    median = statistics.median(ms)
    return f"| {name:<26} | {len(ms):>6} | {median:>8.2f} | {p95:>8.2f} | {ms[-1]:>8.2f} |"


def _bench(args: argparse.Namespace) -> None:
    import json

    from django.db import connection
    from django.test import Client

    from backend.missions.models import Mission
    from backend.missions.selectors import draw_candidates
    from backend.missions.services import mission_draw

    started = time.perf_counter()
    officers, tokens, positions = _city(args)
    setup_s = time.perf_counter() - started
    it = iter(positions)

    def one_service(k: int) -> float:
        lat, lon = next(it)
        t0 = time.perf_counter()
        mission_draw(
            officer=officers[k % len(officers)], lat=lat, lon=lon, client_uuid=uuid.uuid4()
        )
        return (time.perf_counter() - t0) * 1000

    in_reach = []
    for lat, lon in positions[:200]:
        in_reach.append(int(draw_candidates(lat=lat, lon=lon).in_reach.sum()))

    for k in range(WARMUP):
        one_service(k)
    service_ms = [one_service(k) for k in range(args.draws)]

    client = Client()
    api_ms = []
    for k in range(WARMUP + args.draws):
        lat, lon = next(it)
        body = json.dumps({"lat": lat, "lon": lon, "client_uuid": str(uuid.uuid4())})
        t0 = time.perf_counter()
        r = client.post(
            "/api/v1/missions/draw",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {tokens[k % len(tokens)]}",
        )
        elapsed = (time.perf_counter() - t0) * 1000
        if r.status_code not in (200, 201):
            raise RuntimeError(f"{r.status_code}: {r.content[:300]!r}")
        if k >= WARMUP:
            api_ms.append(elapsed)

    threaded_ms: list[float] = []
    lock = threading.Lock()
    per_thread = args.draws // args.threads
    chunks = [positions[-(t + 1) * per_thread :][:per_thread] for t in range(args.threads)]
    barrier = threading.Barrier(args.threads)

    def worker(t: int) -> None:
        from django.db import connection as conn

        try:
            barrier.wait()
            own = []
            for k, (lat, lon) in enumerate(chunks[t]):
                t0 = time.perf_counter()
                mission_draw(
                    officer=officers[(t * per_thread + k) % len(officers)],
                    lat=lat,
                    lon=lon,
                    client_uuid=uuid.uuid4(),
                )
                own.append((time.perf_counter() - t0) * 1000)
            with lock:
                threaded_ms.extend(own)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    wall = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - wall

    print(
        f"PostgreSQL {connection.pg_version // 10000}, {args.hotspots} active hot spots "
        f"(half treated by a running blocked experiment), {args.officers} officers, reach 2 km: "
        f"median {statistics.median(in_reach):.0f} hot spots in reach; setup {setup_s:.1f} s; "
        f"{Mission.objects.count():,} missions drawn in all."
    )
    print(f"| {'path':<26} | {'draws':>6} | {'median':>8} | {'p95':>8} | {'max':>8} |")
    print(f"|{'-' * 28}|{'-' * 8}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    print(_stats("service", service_ms) + "  ms")
    print(_stats("HTTP API (in-process)", api_ms) + "  ms")
    print(
        _stats(f"service, {args.threads} threads", threaded_ms)
        + f"  ms  ({len(threaded_ms) / wall:.0f} draws/s)"
    )


if __name__ == "__main__":
    main()
