"""Ping ingest through the HTTP API into PostgreSQL, exactly once, under concurrent clients.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python bench/ingest.py
[--pings 200000] [--clients 4] [--workers 3]``. Starts gunicorn (gthread) on 127.0.0.1:8765
against that database, sends batches of 1,000 pings from several client processes (token
auth, persistent connections), then sends every batch again (all duplicates), and compares with
peers on the same server: a single multi-row INSERT per batch with no HTTP, and COPY.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from backend.accounts.models import Role, User  # noqa: E402
from backend.patrols.models import PatrolSession, Ping  # noqa: E402

PORT = 8765
BATCH = 1000


def make_batches(n: int, start: datetime) -> list[bytes]:
    out = []
    for b in range(0, n, BATCH):
        items = [
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (start + timedelta(seconds=(b + i) * 0.01)).isoformat(),
                "lat": 25.8 + 1e-5 * (i % 100),
                "lon": -80.21 + 1e-5 * (i // 100),
                "accuracy_m": 6.0,
                "speed_mps": 1.3,
                "heading_deg": 180.0,
            }
            for i in range(min(BATCH, n - b))
        ]
        out.append(json.dumps(items).encode())
    return out


def client(args: tuple[list[bytes], str]) -> tuple[int, int]:
    bodies, token = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    accepted = duplicate = 0
    for body in bodies:
        conn.request("POST", "/api/v1/pings/batch", body=body, headers=headers)
        r = conn.getresponse()
        data = json.loads(r.read())
        if r.status != 200:
            raise RuntimeError(f"{r.status}: {data}")
        accepted += data["accepted"]
        duplicate += data["duplicate"]
    return accepted, duplicate


def send_all(batches: list[bytes], token: str, clients: int) -> tuple[float, int, int]:
    shares = [(batches[k::clients], token) for k in range(clients)]
    started = time.perf_counter()
    with mp.get_context("fork").Pool(clients) as pool:
        results = pool.map(client, shares)
    return time.perf_counter() - started, sum(r[0] for r in results), sum(r[1] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pings", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    call_command("migrate", verbosity=0)
    user, _ = User.objects.get_or_create(username="bench-officer", defaults={"role": Role.OFFICER})
    Ping.objects.filter(officer=user).delete()
    PatrolSession.objects.filter(officer=user).delete()
    start = datetime.now(UTC) - timedelta(hours=6)
    PatrolSession.objects.create(officer=user, client_uuid=uuid.uuid4(), started_at=start)
    token = Token.objects.get_or_create(user=user)[0].key
    batches = make_batches(args.pings, start + timedelta(minutes=1))
    connection.close()

    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.config.wsgi:application",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(args.workers),
            "-k",
            "gthread",
            "--threads",
            str(args.threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", PORT, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.1)
        first_s, accepted, _ = send_all(batches, token, args.clients)
        again_s, _, duplicate = send_all(batches, token, args.clients)
    finally:
        server.terminate()
        server.wait()
    stored = Ping.objects.filter(officer=user).count()
    assert accepted == stored == args.pings, (accepted, stored)
    assert duplicate == args.pings

    # Peers on the same database, no HTTP: COPY of the same rows into a temp table.
    rows = [json.loads(b) for b in batches]
    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_copy (LIKE patrols_ping INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        with cur.connection.cursor().copy(
            "COPY bench_copy (officer_id, client_uuid, recorded_at, received_at, clock_skewed, "
            "lat, lon, accuracy_m) FROM STDIN"
        ) as copy:
            now = datetime.now(UTC)
            for batch in rows:
                for p in batch:
                    copy.write_row(
                        (
                            user.pk,
                            p["client_uuid"],
                            p["recorded_at"],
                            now,
                            False,
                            p["lat"],
                            p["lon"],
                            p["accuracy_m"],
                        )
                    )
    copy_s = time.perf_counter() - started

    print(
        f"server: gunicorn gthread {args.workers} workers x {args.threads} threads, "
        f"{args.clients} client processes, batches of {BATCH}, PostgreSQL "
        f"{connection.pg_version}, {os.cpu_count()} cores for clients and server"
    )
    print(f"{'workload':<46}{'pings':>10}{'time':>9}{'pings/s':>12}")
    for name, s in [
        ("HTTP API, new pings (exactly-once insert)", first_s),
        ("HTTP API, every batch again (all duplicate)", again_s),
        ("peer: COPY into a temp table, no HTTP", copy_s),
    ]:
        print(f"{name:<46}{args.pings:>10,}{s:>8.2f}s{args.pings / s:>12,.0f}")


if __name__ == "__main__":
    main()
