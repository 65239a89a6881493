"""CPU per API call of the hot endpoints (the load test's and the live map), hot reads off and on.

Run after ``bench/load.py prepare`` on the same database (it uses that state file's tokens):
``DATABASE_URL=... python bench/endpoint_cpu.py --calls 600``. Each endpoint is called through
Django's full stack (every middleware, token authentication, throttling, the view, JSON, GZip)
with the test client, so no HTTP server or network time is counted: CPU milliseconds of this
process per call (``time.process_time``), and wall milliseconds. The peer figure, measured in the
same run on the same rows, is the same calls with ``PRESENCE_HOT_READ_SECONDS = 0`` (every
call reads the database, as before the process kept hot reads); the other column is 5 s, the
production default (backend/config/memo.py). PostgreSQL's own CPU is not in these figures
(``bench/load.py --server-pid --database`` reports it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600, help="calls per endpoint and setting")
    parser.add_argument("--state", default="/tmp/presence-load.json")
    parser.add_argument(
        "--endpoints",
        default="pings,nearby,board,live",
        help="comma-separated subset of pings, nearby, board, live",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    from backend.config.memo import memo_clear_all
    from bench.load import CENTRE

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    state = json.loads(Path(args.state).read_text())
    officers, sergeants = state["officers"], state["sergeants"]
    https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_ACCEPT_ENCODING": "gzip"}

    def pings(i: int) -> Any:
        o = officers[i % len(officers)]
        now = datetime.now(UTC)
        items = [
            {
                "client_uuid": str(uuid.uuid4()),
                "recorded_at": (now - timedelta(seconds=5 * (2 - k))).isoformat(),
                "lat": CENTRE[0] + 0.0001 * k,
                "lon": CENTRE[1],
                "accuracy_m": 8.0,
                "speed_mps": 1.3,
                "heading_deg": 90.0,
            }
            for k in range(2)
        ]
        return Client(HTTP_AUTHORIZATION=f"Token {o['token']}", **https).post(
            "/api/v1/pings/batch",
            json.dumps({"pings": items, "session": o["session"]}),
            content_type="application/json",
        )

    def nearby(i: int) -> Any:
        o = officers[i % len(officers)]
        lat = CENTRE[0] + ((i * 37) % 100 - 50) * 0.0012
        lon = CENTRE[1] + ((i * 53) % 100 - 50) * 0.0014
        return Client(HTTP_AUTHORIZATION=f"Token {o['token']}", **https).get(
            "/api/v1/hotspots/nearby", {"lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}
        )

    def board(i: int) -> Any:
        s = sergeants[i % len(sergeants)]
        return Client(HTTP_AUTHORIZATION=f"Token {s['token']}", **https).get(
            f"/api/v1/squads/{s['squad']}/board"
        )

    def live(i: int) -> Any:
        s = sergeants[i % len(sergeants)]
        return Client(HTTP_AUTHORIZATION=f"Token {s['token']}", **https).get(
            "/api/v1/presence/live", {"squad": s["squad"]}
        )

    print(f"{args.calls} calls per endpoint and setting, in-process (Django test client)")
    print(f"{'endpoint':<10}{'hot reads':>10}{'CPU ms/call':>13}{'wall ms/call':>14}")
    offset = 0
    chosen = args.endpoints.split(",")
    endpoints = {"pings": pings, "nearby": nearby, "board": board, "live": live}
    for name, call in ((n, endpoints[n]) for n in chosen):
        for seconds in (0, 5):
            settings.PRESENCE_HOT_READ_SECONDS = seconds
            memo_clear_all()
            for i in range(20):  # warm: imports, connections, the first hot reads
                assert call(offset + i).status_code < 300
            offset += 20
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(args.calls):
                response = call(offset + i)
                if response.status_code >= 300:
                    sys.exit(f"{name}: {response.status_code} {response.content[:200]!r}")
            offset += args.calls
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"{name:<10}{f'{seconds} s':>10}{cpu / args.calls * 1000:>13.2f}"
                f"{wall / args.calls * 1000:>14.2f}"
            )


if __name__ == "__main__":
    main()
