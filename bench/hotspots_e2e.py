"""End-to-end ``hotspots_analyze`` on 1,000,000 incidents stored in PostgreSQL.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python
bench/hotspots_e2e.py [--n 1000000]``. The database is migrated and its incidents from the
source "bench" replaced (loaded with COPY, not timed). Then the analysis is timed as a user runs
it (the management command, best of 3) and broken down into load, compute and store; a peer
figure is the bare ``SELECT`` of the same columns.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
os.environ.setdefault("PRESENCE_ORIGIN", "41.8781,-87.6298")
os.environ.setdefault("PRESENCE_TIME_ZONE", "America/Chicago")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from backend.hotspots.models import AnalysisRun  # noqa: E402
from backend.incidents.models import Incident, OffenceType  # noqa: E402
from backend.incidents.selectors import incident_points  # noqa: E402
from bench.hotspots import ORIGIN, synthetic_city  # noqa: E402

AS_OF = date(2026, 1, 1)


def load(n: int) -> float:
    rng = np.random.default_rng(20240601)
    city = synthetic_city(n, rng)
    codes = [
        "larceny",
        "vandalism",
        "burglary-residential",
        "aggravated-assault",
        "robbery-personal",
    ]
    ids = [OffenceType.objects.get(code=c).pk for c in codes]
    t0 = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    t = t0 + rng.uniform(0, 365 * 86400, n)
    Incident.objects.filter(source="bench").delete()
    AnalysisRun.objects.all().delete()
    started = time.perf_counter()
    buf = io.StringIO()
    for i in range(n):
        buf.write(
            f"bench\t{i}\t{datetime.fromtimestamp(t[i], UTC).isoformat()}\t{city['lat'][i]:.6f}\t"
            f"{city['lon'][i]:.6f}\t{ids[city['category_idx'][i]]}\t\n"
        )
    buf.seek(0)
    with connection.cursor() as cur:
        with cur.connection.cursor().copy(
            "COPY hotspots_incident (source, source_id, occurred_at, lat, lon, offence_id, premise)"
            " FROM STDIN"
        ) as copy:
            while chunk := buf.read(1 << 20):
                copy.write(chunk)
        cur.execute("ANALYZE hotspots_incident")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (this benchmark is for PostgreSQL).")
    call_command("migrate", verbosity=0)
    load_s = load(args.n)

    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, tzinfo=UTC)
    select_s = min(_timed(lambda: incident_points(start=start, end=end)) for _ in range(3))
    e2e = []
    for _ in range(args.repeat):
        e2e.append(
            _timed(
                lambda: call_command(
                    "hotspots_analyze",
                    "--as-of",
                    AS_OF.isoformat(),
                    "--lookback-days",
                    "365",
                    stdout=io.StringIO(),
                )
            )
        )
    run = AnalysisRun.objects.order_by("-pk").first()
    assert run is not None
    print(f"{'stage':<44}{'workload':>18}{'time':>10}{'rate':>20}")
    rows = [
        ("load (COPY, not part of the analysis)", args.n, load_s),
        ("peer: SELECT the analysis columns", args.n, select_s),
        ("hotspots_analyze end to end (best)", args.n, min(e2e)),
        ("hotspots_analyze end to end (median)", args.n, float(np.median(e2e))),
    ]
    for name, n, s in rows:
        print(f"{name:<44}{n:>12,} rows{s:>9.2f}s{n / s / 1e6:>14.2f} M rows/s")
    print(
        f"run {run.pk}: {run.incidents_analysed:,} incidents, {run.hotspots.count()} hot spots, "
        f"{run.cells.count():,} cells stored; {run.concentration.get('sentence')}; "
        f"PostgreSQL {connection.pg_version}, city {ORIGIN.origin_lat},{ORIGIN.origin_lon}"
    )


def _timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
