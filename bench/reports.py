"""Reports at scale: compliance recomputed from the visit tables, and an impact report.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench python bench/reports.py``.

Compliance: 30 days x 500 officers x 200 hot spots (a blocked experiment, 100 treated and 100
control), about 12 visits per officer-day as the rollup would have derived them from one fix
per 5 s over 8-hour shifts (500 x 30 x 5,760 = 86 million pings), 3 missions per officer-day,
2 device gaps per officer-day. Loading the rows is not timed. Timed: rebuilding the stored
daily rows of the 30 days (``compliance_day_rebuild`` per day: hot spot, officer and squad
scopes) and one 30-day ``compliance_compute`` per report grouping; peer: PostgreSQL's own
``GROUP BY`` of the same visits (counts and dwell sums only, no unions, no prescriptions).

Impact (``bench/impact.py``, run after it in the same process): 10,000 randomizations of a
200-place blocked design, and statsmodels' Poisson GLM with cluster-robust errors as the peer.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from shapely.geometry import box, mapping  # noqa: E402

from backend.accounts.models import District, Role, Squad, User  # noqa: E402
from backend.hotspots.models import AnalysisRun, Hotspot  # noqa: E402
from backend.incidents.models import HarmWeightVersion  # noqa: E402
from backend.missions.models import Allocation, Arm, Experiment, Mission  # noqa: E402
from backend.patrols.models import DeviceGap, TravelMode, Visit  # noqa: E402
from backend.reports.compliance import REPORT_GROUPINGS, compliance_compute  # noqa: E402
from backend.reports.models import ComplianceDay  # noqa: E402
from backend.reports.services import (  # noqa: E402
    compliance_day_rebuild,
    compliance_days_rebuild,
)
from bench.hotspots import best_of  # noqa: E402

PREFIX = "bench-reports"


def load(*, days: int, officers: int, hotspots: int, per_day: int, first: date) -> int:
    """Write the synthetic month (deleting an earlier one); returns the number of visits."""
    rng = np.random.default_rng(20261201)
    Experiment.objects.filter(name__startswith=PREFIX).delete()
    Mission.objects.filter(officer__username__startswith=PREFIX).delete()
    Visit.objects.filter(officer__username__startswith=PREFIX).delete()
    DeviceGap.objects.filter(officer__username__startswith=PREFIX).delete()
    ComplianceDay.objects.all().delete()
    district, _ = District.objects.get_or_create(
        code=PREFIX,
        defaults={
            "name": PREFIX,
            "boundary": {},
            "min_lat": 25.7,
            "min_lon": -80.3,
            "max_lat": 25.9,
            "max_lon": -80.1,
        },
    )
    AnalysisRun.objects.filter(is_active=True).update(is_active=False)
    run = AnalysisRun.objects.create(
        as_of=first,
        weights_version=HarmWeightVersion.objects.order_by("-number")[0],
        is_active=True,
        status="done",
    )
    spots = Hotspot.objects.bulk_create(
        Hotspot(
            run=run,
            rank=k + 1,
            district=district,
            geometry=mapping(box(-80.3 + k * 0.001, 25.7, -80.2995 + k * 0.001, 25.7005)),
            centroid_lat=25.70025,
            centroid_lon=-80.29975 + k * 0.001,
            harm=1,
            incident_count=1,
            gi_z_max=3,
        )
        for k in range(hotspots)
    )
    admin, _ = User.objects.get_or_create(
        username=f"{PREFIX}-analyst", defaults={"role": "analyst"}
    )
    experiment = Experiment.objects.create(
        name=f"{PREFIX} {uuid.uuid4().hex[:6]}",
        design="blocked",
        run=run,
        status="running",
        seed=1,
        started_at=timezone.now(),
        starts_on=first,
        ends_on=first + timedelta(days=days),
        created_by=admin,
    )
    order = rng.permutation(hotspots)
    Allocation.objects.bulk_create(
        Allocation(
            experiment=experiment,
            hotspot=spots[int(k)],
            block=str(i // 10),
            arm=Arm.TREATMENT if i % 2 == 0 else Arm.CONTROL,
        )
        for i, k in enumerate(order)
    )
    squads = []
    for s in range(10):
        squad, _ = Squad.objects.get_or_create(
            name=f"{PREFIX}-{s}",
            defaults={"district": district, "shift_start": dtime(7 + 8 * (s % 3) % 24, 0)},
        )
        squads.append(squad)
    existing = {u.username: u for u in User.objects.filter(username__startswith=f"{PREFIX}-o")}
    User.objects.bulk_create(
        User(username=f"{PREFIX}-o{k:03d}", role=Role.OFFICER, squad=squads[k % 10])
        for k in range(officers)
        if f"{PREFIX}-o{k:03d}" not in existing
    )
    users = list(User.objects.filter(username__startswith=f"{PREFIX}-o").order_by("username"))
    visits, missions, gaps = [], [], []
    for d in range(days):
        day = first + timedelta(days=d)
        base = timezone.make_aware(datetime.combine(day, dtime(8, 0)))
        for u in users:
            starts = np.sort(rng.uniform(0, 8 * 3600, per_day))
            lengths = rng.choice([120, 300, 720, 900, 1500], size=per_day)
            where = rng.integers(0, hotspots, per_day)
            for s, ln, h in zip(starts, lengths, where, strict=True):
                entered = base + timedelta(seconds=float(s))
                visits.append(
                    Visit(
                        officer=u,
                        hotspot=spots[int(h)],
                        day=day,
                        entered_at=entered,
                        exited_at=entered + timedelta(seconds=int(ln)),
                        dwell_s=float(ln),
                        mode=TravelMode.FOOT,
                        koper_compliant=600 <= ln <= 960,
                    )
                )
            for h in rng.integers(0, hotspots, 3):
                missions.append(
                    Mission(
                        hotspot=spots[int(h)],
                        officer=u,
                        squad=u.squad,
                        window_start=base,
                        window_end=base + timedelta(hours=2),
                        target_minutes=15,
                    )
                )
            for s in rng.uniform(0, 8 * 3600, 2):
                started = base + timedelta(seconds=float(s))
                gaps.append(
                    DeviceGap(
                        officer=u,
                        day=day,
                        started_at=started,
                        ended_at=started + timedelta(minutes=4),
                    )
                )
    Visit.objects.bulk_create(visits, batch_size=5_000)
    Mission.objects.bulk_create(missions, batch_size=5_000)
    DeviceGap.objects.bulk_create(gaps, batch_size=5_000)
    with connection.cursor() as cur:
        for table in ("patrols_visit", "missions_mission", "patrols_devicegap"):
            cur.execute(f"ANALYZE {table}")
    return len(visits)


def peer_group_by(first: date, last: date) -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT hotspot_id, day, count(*), sum(dwell_s), sum(koper_compliant::int) "
            "FROM patrols_visit WHERE day BETWEEN %s AND %s GROUP BY hotspot_id, day",
            [first, last],
        )
        return len(cur.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--officers", type=int, default=500)
    parser.add_argument("--hotspots", type=int, default=200)
    parser.add_argument("--visits-per-day", type=int, default=12)
    parser.add_argument(
        "--no-load", action="store_true", help="Reuse the month an earlier run loaded."
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    call_command("migrate", verbosity=0)
    last = timezone.localdate() - timedelta(days=1)
    first = last - timedelta(days=args.days - 1)
    t0 = time.perf_counter()
    if args.no_load:
        n = Visit.objects.filter(officer__username__startswith=PREFIX, day__gte=first).count()
    else:
        n = load(
            days=args.days,
            officers=args.officers,
            hotspots=args.hotspots,
            per_day=args.visits_per_day,
            first=first,
        )
    print(
        f"{n:,} visits ({args.days} days x {args.officers} officers x {args.hotspots} hot "
        f"spots), loaded in {time.perf_counter() - t0:.1f} s (not timed); "
        f"PostgreSQL {connection.pg_version}"
    )

    def rebuild_month() -> int:
        return sum(compliance_day_rebuild(day=first + timedelta(days=d)) for d in range(args.days))

    rows: list[tuple[str, float, str]] = []
    s, written = best_of(2, lambda: compliance_days_rebuild(first=first, last=last))
    rows.append(
        (
            f"stored rows of {args.days} days rebuilt at once ({written:,} rows)",
            s,
            f"{n / s:,.0f} visits/s",
        )
    )
    s, written = best_of(1, rebuild_month)
    rows.append(("the same, day by day (the nightly job's path)", s, f"{n / s:,.0f} visits/s"))
    for by in REPORT_GROUPINGS:
        s, result = best_of(2, lambda by=by: compliance_compute(first=first, last=last, by=by))
        rows.append(
            (f"compliance_compute by {by} ({len(result.keys):,} rows)", s, f"{n / s:,.0f} visits/s")
        )
    s, groups = best_of(3, lambda: peer_group_by(first, last))
    rows.append(
        (f"peer: SQL GROUP BY hot spot, day ({groups:,} rows)", s, f"{n / s:,.0f} visits/s")
    )
    print(f"{'workload':<58}{'time':>9}  rate")
    for name, sec, rate in rows:
        print(f"{name:<58}{sec:>8.2f}s  {rate}")
    print("\nImpact (bench/impact.py, same run):")
    from bench import impact

    sys.argv = [sys.argv[0]]
    impact.main()


if __name__ == "__main__":
    main()
