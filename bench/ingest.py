"""Ping ingest through the HTTP API into PostgreSQL, exactly once, under concurrent clients.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python bench/ingest.py
[--pings 200000] [--clients 4] [--workers 3]``. Starts gunicorn (gthread) on 127.0.0.1:8765
against that database, sends batches of 1,000 pings from several client processes (one officer
each, token auth, persistent connections), then sends every batch again (all duplicates), and
compares with peers on the same server in the same run: one binary COPY of the same number of
rows into the pings table itself (same indexes and constraints, one transaction, no HTTP, no
exactly-once answer), and COPY into an unindexed temporary copy of the table.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import resource
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
import orjson  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from backend.accounts.models import Role, User  # noqa: E402
from backend.patrols.models import PatrolSession, Ping  # noqa: E402
from bench.cputime import CpuMeter, children, pg_backends  # noqa: E402

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
        out.append(orjson.dumps(items))
    return out


def client(args: tuple[list[bytes], str]) -> tuple[int, int]:
    bodies, token = args
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    accepted = duplicate = 0
    for body in bodies:
        conn.request("POST", "/api/v1/pings/batch", body=body, headers=headers)
        r = conn.getresponse()
        data = orjson.loads(r.read())
        if r.status != 200:
            raise RuntimeError(f"{r.status}: {data}")
        accepted += data["accepted"]
        duplicate += data["duplicate"]
    return accepted, duplicate


def send_all(batches: list[bytes], tokens: list[str]) -> tuple[float, int, int]:
    clients = len(tokens)
    shares = [(batches[k::clients], tokens[k]) for k in range(clients)]
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
    start = datetime.now(UTC) - timedelta(hours=6)
    tokens = []
    # One officer per client: each posts at most 2 x pings/clients/1000 batches, under the
    # ingest rate limit (240 batches a minute per officer).
    for k in range(args.clients + 1):
        user, _ = User.objects.get_or_create(
            username=f"bench-officer-{k}", defaults={"role": Role.OFFICER}
        )
        Ping.objects.filter(officer=user).delete()
        PatrolSession.objects.filter(officer=user).delete()
        PatrolSession.objects.create(officer=user, client_uuid=uuid.uuid4(), started_at=start)
        Token.objects.filter(user=user).delete()  # a fresh token: an old one may have expired
        tokens.append(Token.objects.create(user=user).key)
    copy_user = user  # the last one: the COPY peer's rows
    warm, _ = User.objects.get_or_create(username="bench-warmup", defaults={"role": Role.OFFICER})
    Ping.objects.filter(officer=warm).delete()
    PatrolSession.objects.filter(officer=warm).delete()
    PatrolSession.objects.create(officer=warm, client_uuid=uuid.uuid4(), started_at=start)
    Token.objects.filter(user=warm).delete()
    warm_token = Token.objects.create(user=warm).key
    with connection.cursor() as cur:  # earlier runs' deleted rows would slow both sides
        cur.execute("VACUUM ANALYZE patrols_ping")
    users = list(User.objects.filter(username__startswith="bench-officer-"))
    batches = make_batches(args.pings, start + timedelta(minutes=1))
    connection.close()

    env = {**os.environ, "DEBUG": "false", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.config.wsgi:application",
            "-c",
            "deploy/gunicorn.conf.py",  # the production settings; the flags below override
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
            "--access-logfile",
            "/dev/null",
            "--max-requests",
            "0",
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
        # Warm every worker thread (its database connection, lazy imports) as a server that
        # has been up for a while is: small batches from as many clients as there are threads.
        warm_batches = [orjson.dumps(orjson.loads(b)[:50]) for b in batches[:60]]
        send_all(warm_batches, [warm_token] * (args.workers * args.threads))
        web = CpuMeter(lambda: children(server.pid))
        database = CpuMeter(lambda: pg_backends(connection.settings_dict["NAME"]))
        cpu: dict[str, tuple[float, float, float]] = {}
        for name in ("first", "again"):
            web.start()
            database.start()
            clients_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            if name == "first":
                first_s, accepted, _ = send_all(batches, tokens[:-1])
            else:
                again_s, _, duplicate = send_all(batches, tokens[:-1])
            clients_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name] = (
                web.stop(),
                database.stop(),
                clients_after.ru_utime
                + clients_after.ru_stime
                - clients_before.ru_utime
                - clients_before.ru_stime,
            )
    finally:
        server.terminate()
        server.wait()
    stored = Ping.objects.filter(officer__in=users).count()
    assert accepted == stored == args.pings, (accepted, stored)
    assert duplicate == args.pings

    rows = [orjson.loads(b) for b in batches]
    session = PatrolSession.objects.get(officer=copy_user)
    now = datetime.now(UTC)
    columns = (
        "officer_id, session_id, client_uuid, recorded_at, received_at, clock_skewed, "
        "lat, lon, accuracy_m, speed_mps, heading_deg"
    )
    types = ["int8", "int8", "uuid", "timestamptz", "timestamptz", "bool"] + ["float8"] * 5

    def copy_into(table: str) -> float:
        """Seconds for one binary COPY of fresh rows (new UUIDs) into ``table``, committed."""
        fresh = [
            (
                copy_user.pk,
                session.pk,
                uuid.uuid4(),
                datetime.fromisoformat(p["recorded_at"]),
                now,
                False,
                p["lat"],
                p["lon"],
                p["accuracy_m"],
                p["speed_mps"],
                p["heading_deg"],
            )
            for batch in rows
            for p in batch
        ]
        started = time.perf_counter()
        with (
            connection.cursor() as cur,
            transaction.atomic(),
            cur.connection.cursor().copy(
                f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(types)
            for row in fresh:
                copy.write_row(row)
        return time.perf_counter() - started

    copy_table_s = copy_into(Ping._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE bench_copy (LIKE patrols_ping INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
    copy_s = copy_into("bench_copy")
    Ping.objects.filter(officer=copy_user).delete()

    print(
        f"server: gunicorn gthread {args.workers} workers x {args.threads} threads, "
        f"{args.clients} client processes, batches of {BATCH}, PostgreSQL "
        f"{connection.pg_version}, {os.cpu_count()} cores for clients and server"
    )
    print(f"{'workload':<48}{'pings':>10}{'time':>9}{'pings/s':>12}")
    for name, s in [
        ("HTTP API, new pings (exactly-once insert)", first_s),
        ("HTTP API, every batch again (all duplicate)", again_s),
        ("peer: binary COPY into the pings table", copy_table_s),
        ("peer: binary COPY into an unindexed temp table", copy_s),
    ]:
        print(f"{name:<48}{args.pings:>10,}{s:>8.2f}s{args.pings / s:>12,.0f}")
    print(f"HTTP API new pings / COPY into the pings table: {copy_table_s / first_s:.0%}")
    print()
    print("CPU per 1,000 pings (ms), and what 2 dedicated cores would serve (extrapolated):")
    print(f"{'pass':<10}{'gunicorn':>10}{'PostgreSQL':>12}{'clients':>10}{'server-only':>14}")
    for name, (w, d, c) in cpu.items():
        per = 1_000_000 / args.pings
        server_only = 2 * args.pings / (w + d) if w + d else float("nan")
        print(f"{name:<10}{w * per:>10.1f}{d * per:>12.1f}{c * per:>10.1f}{server_only:>12,.0f}/s")


if __name__ == "__main__":
    main()
