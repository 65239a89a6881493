"""End-to-end visit rollup of one day from PostgreSQL: 500 officers x 8 h at one fix per 5 s.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python bench/rollup.py``.
Loads bench/tracks.py's synthetic day (2.88 M pings, 200 hot spots published as the active
analysis) with COPY (not timed), then times ``visits_rebuild_day`` (one query, one vectorized
analysis, one transaction) and the per-officer task path on a sample, extrapolated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from shapely.geometry import mapping  # noqa: E402

from backend.accounts.models import Role, User  # noqa: E402
from backend.analytics.projection import LocalProjection  # noqa: E402
from backend.hotspots.models import AnalysisRun, Hotspot  # noqa: E402
from backend.incidents.models import HarmWeightVersion  # noqa: E402
from backend.patrols.models import PatrolSession, Ping, Visit  # noqa: E402
from backend.patrols.rollup import visit_rebuild_for_day, visits_rebuild_day  # noqa: E402
from bench.tracks import synthetic_day, synthetic_hotspots  # noqa: E402


def load(n_officers: int, day_start: datetime) -> tuple[list[int], int]:
    rng = np.random.default_rng(7)
    polys = synthetic_hotspots(rng)
    fixes = synthetic_day(n_officers, 8.0, 5.0, polys, rng)
    proj = LocalProjection(*settings.PRESENCE_ORIGIN)
    AnalysisRun.objects.filter(is_active=True).update(is_active=False)
    run = AnalysisRun.objects.create(
        as_of=day_start.date(),
        weights_version=HarmWeightVersion.objects.order_by("-number")[0],
        is_active=True,
        status="done",
    )
    Hotspot.objects.bulk_create(
        Hotspot(
            run=run,
            rank=k + 1,
            geometry=mapping(proj.geometry_to_lonlat(p)),
            centroid_lat=float(proj.to_latlon(p.centroid.x, p.centroid.y)[0]),
            centroid_lon=float(proj.to_latlon(p.centroid.x, p.centroid.y)[1]),
            harm=1,
            incident_count=1,
            gi_z_max=3,
        )
        for k, p in enumerate(polys)
    )
    users = []
    for k in range(n_officers):
        u, _ = User.objects.get_or_create(
            username=f"bench-rollup-{k:03d}", defaults={"role": Role.OFFICER}
        )
        users.append(u.pk)
    Ping.objects.filter(officer_id__in=users).delete()
    Visit.objects.filter(officer_id__in=users).delete()
    PatrolSession.objects.filter(officer_id__in=users).delete()
    sessions = {
        pk: PatrolSession.objects.create(
            officer_id=pk, client_uuid=uuid.uuid4(), started_at=day_start - timedelta(hours=1)
        ).pk
        for pk in users
    }
    lat, lon = proj.to_latlon(fixes["x"], fixes["y"])
    t0 = day_start.timestamp() + 3600
    t = t0 + (fixes["t"] - fixes["t"].min())
    now = datetime.now(UTC)
    with (
        connection.cursor() as cur,
        cur.connection.cursor().copy(
            "COPY patrols_ping (officer_id, session_id, client_uuid, recorded_at, received_at, "
            "clock_skewed, lat, lon, accuracy_m, speed_mps) FROM STDIN"
        ) as copy,
    ):
        for i in range(t.size):
            officer = users[int(fixes["track_id"][i])]
            speed = fixes["speed_mps"][i]
            copy.write_row(
                (
                    officer,
                    sessions[officer],
                    uuid.uuid4(),
                    datetime.fromtimestamp(float(t[i]), UTC),
                    now,
                    False,
                    float(lat[i]),
                    float(lon[i]),
                    float(fixes["accuracy_m"][i]),
                    None if np.isnan(speed) else float(speed),
                )
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE patrols_ping")
    return users, int(t.size)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--officers", type=int, default=500)
    parser.add_argument("--sample", type=int, default=20)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    call_command("migrate", verbosity=0)
    day = timezone.localdate() - timedelta(days=1)
    midnight = datetime.combine(day, datetime.min.time())
    day_start = timezone.make_aware(midnight + timedelta(hours=7))
    started = time.perf_counter()
    users, n = load(args.officers, day_start)
    load_s = time.perf_counter() - started
    whole = []
    for _ in range(3):
        t0 = time.perf_counter()
        visits = visits_rebuild_day(day=day)
        whole.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for pk in users[: args.sample]:
        visit_rebuild_for_day(officer_id=pk, day=day)
    per = (time.perf_counter() - t0) / args.sample
    print(
        f"{n:,} pings, {args.officers} officers, 200 hot spots, {visits:,} visits; load by COPY "
        f"{load_s:.1f} s (not timed below); PostgreSQL {connection.pg_version}"
    )
    print(f"{'workload':<52}{'time':>9}{'pings/s':>14}")
    rows = [
        ("visits_rebuild_day, whole day (best of 3)", min(whole)),
        ("visits_rebuild_day, whole day (median of 3)", float(np.median(whole))),
        (
            f"per-officer task x {args.officers} (from {args.sample}, extrapolated)",
            per * args.officers,
        ),
    ]
    for name, s in rows:
        print(f"{name:<52}{s:>8.2f}s{n / s:>14,.0f}")


if __name__ == "__main__":
    main()
