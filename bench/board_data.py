"""Give the load test's squad boards content: today's missions in every status, plans, visits.

Run after ``bench/load.py prepare`` on the same database:
``DATABASE_URL=... python bench/board_data.py [--min 10] [--max 30]``. ``prepare`` leaves the
boards empty, so ``bench/endpoint_cpu.py``'s board figure would measure an empty list; this
writes, in bulk, between ``--min`` and ``--max`` missions of today's shift per load-test squad
(every other squad through a shift plan, the rest by hand or drawn), in a mix of statuses with
their timestamps, some with a Mission Menu type, and GPS visits of the mission's officer to its
hot spot so the board shows delivered, short and open outcomes. Re-running replaces them.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.accounts.models import Squad, User
    from backend.hotspots.models import Hotspot
    from backend.missions.models import Mission, MissionType, ShiftPlan
    from backend.patrols.models import Visit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import PREFIX  # noqa: E402

STATUSES = [
    "assigned",
    "assigned",
    "accepted",
    "on_scene",
    "completed",
    "completed",
    "completed",
    "declined",
    "cancelled",
    "interrupted",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min", type=int, default=10, help="fewest missions per board")
    parser.add_argument("--max", type=int, default=30, help="most missions per board")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from backend.accounts.models import Role, Squad, User
    from backend.hotspots.models import Hotspot
    from backend.missions.models import Mission, MissionType, ShiftPlan
    from backend.missions.selectors import squad_shift_window
    from backend.patrols.models import Visit

    rng = random.Random(args.seed)
    today = timezone.localdate()
    squads = list(Squad.objects.filter(name__startswith=PREFIX).order_by("pk"))
    with transaction.atomic():
        old = Mission.objects.filter(squad__in=squads)
        Visit.objects.filter(officer__squad__in=squads).delete()
        old.delete()
        ShiftPlan.objects.filter(squad__in=squads).delete()
        mtype, _ = MissionType.objects.get_or_create(
            name="Load visible presence",
            defaults={"objective": "Be seen.", "target_minutes": 15, "tactics": "Walk\nTalk"},
        )
        missions: list[Mission] = []
        visits: list[Visit] = []
        for k, squad in enumerate(squads):
            officers = list(
                User.objects.filter(squad=squad, role=Role.OFFICER, is_active=True).order_by("pk")
            )
            for i, o in enumerate(officers):  # half the squad with a name, half by username
                o.first_name, o.last_name = ("Ana", f"Load{o.pk}") if i % 2 else ("", "")
            User.objects.bulk_update(officers, ["first_name", "last_name"])
            hotspots = list(Hotspot.objects.filter(run__is_active=True, district=squad.district))
            start, end = squad_shift_window(squad=squad, day=today)
            plan = None
            if k % 2 == 0:
                plan = ShiftPlan.objects.create(
                    squad=squad,
                    day=today,
                    seed=rng.getrandbits(62),
                    mission_type=mtype if k % 4 == 0 else None,
                    shift_start=start,
                    shift_end=end,
                    visits_per_hotspot=3,
                    visit_minutes=15,
                    created_by=squad.sergeant,
                )
            for _ in range(rng.randint(args.min, args.max)):
                missions.append(_mission(rng, squad, officers, hotspots, plan, mtype, start, end))
                visits.extend(_visits(rng, missions[-1]))
        Mission.objects.bulk_create(missions)
        Visit.objects.bulk_create(visits)
    print(
        f"{len(missions):,} missions of {today} on {len(squads)} boards "
        f"({len(missions) / max(1, len(squads)):.1f} a board), {len(visits):,} visits"
    )


def _mission(
    rng: random.Random,
    squad: Squad,
    officers: list[User],
    hotspots: list[Hotspot],
    plan: ShiftPlan | None,
    mtype: MissionType,
    start: datetime,
    end: datetime,
) -> Mission:
    """One mission of the shift in a random status, its timestamps consistent with it."""
    from backend.missions.models import Mission

    status = rng.choice(STATUSES)
    # Anything under way or over started at least 40 minutes ago, so its visits (below) and
    # its end are in the past and the board does not change between two reads.
    latest = 23 * 60 if status in ("assigned", "cancelled") else _minutes_since(start) - 40
    window_start = start + timedelta(minutes=rng.randrange(0, max(1, latest)))
    m = Mission(
        hotspot=rng.choice(hotspots),
        officer=rng.choice(officers),
        squad=squad,
        plan=plan,
        source="schedule" if plan is not None else rng.choice(["hand", "draw"]),
        mission_type=mtype if plan is not None or rng.random() < 0.3 else None,
        window_start=window_start,
        window_end=min(end, window_start + timedelta(minutes=15)),
        target_minutes=15,
        status=status,
    )
    if status not in ("assigned", "cancelled"):
        m.accepted_at = window_start - timedelta(minutes=2)
    if status in ("on_scene", "completed", "interrupted"):
        m.on_scene_at = window_start + timedelta(minutes=3)
    if status in ("completed", "declined", "cancelled", "interrupted"):
        m.ended_at = window_start + timedelta(minutes=rng.randrange(5, 30))
        m.status_note = "ok" if status == "completed" else "radio call"
    if status == "declined":
        m.decline_reason = rng.choice(["dispatched", "unsafe", "other"])
        m.accepted_at = None
    return m


def _minutes_since(start: datetime) -> int:
    from django.utils import timezone

    return int((timezone.now() - start).total_seconds() // 60)


def _visits(rng: random.Random, m: Mission) -> list[Visit]:
    """GPS visits of the mission's officer to its hot spot: none, a short one or a long one."""
    from backend.patrols.models import Visit

    if m.status in ("assigned", "cancelled", "declined") or rng.random() < 0.2:
        return []
    entered = m.window_start + timedelta(minutes=rng.randrange(0, 5))
    minutes = rng.choice([3, 9, 17, 25])
    return [
        Visit(
            officer=m.officer,
            hotspot=m.hotspot,
            day=entered.date(),
            entered_at=entered,
            exited_at=entered + timedelta(minutes=minutes),
            dwell_s=minutes * 60 * 0.9,
            mode="foot",
        )
    ]


if __name__ == "__main__":
    main()
