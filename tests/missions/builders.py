"""Build the world missions need: an active analysis with hot spots placed in metres from the
agency origin, squads with officers, running experiments with chosen arms, visits and missions.

Hot spots are created as rows of a real (active) ``AnalysisRun``, as the analysis service would
leave them; ``tests/hotspots`` covers how the analysis finds them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from shapely.geometry import box, mapping

from backend.accounts.models import District, Role, Squad, User
from backend.analytics.projection import LocalProjection
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.selectors import harm_version_current
from backend.missions.models import (
    Allocation,
    Arm,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionStatus,
)
from backend.patrols.models import TravelMode, Visit
from tests.factories import DistrictFactory, SquadFactory, UserFactory

PROJ = LocalProjection(*settings.PRESENCE_ORIGIN)
HALF_CELL_M = 75.0


def someone(role: str = Role.OFFICER) -> User:
    """One shared user per role for rows whose user does not matter (hashing a password for
    every visit would cost a quarter of a second each)."""
    return User.objects.filter(username=f"someone-{role}").first() or UserFactory(
        username=f"someone-{role}", role=role
    )


def at_metres(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) of the point ``x`` metres east and ``y`` metres north of the agency origin."""
    lat, lon = PROJ.to_latlon(x, y)
    return float(lat), float(lon)


def analysis_run(*, active: bool = True, lookback_days: int = 365) -> AnalysisRun:
    if active:
        AnalysisRun.objects.filter(is_active=True).update(is_active=False)
    return AnalysisRun.objects.create(
        as_of=date(2026, 1, 1),
        lookback_days=lookback_days,
        status="done",
        is_active=active,
        weights_version=harm_version_current(),
        published_at=timezone.now() if active else None,
    )


def hotspot(
    run: AnalysisRun,
    *,
    rank: int,
    x: float = 0.0,
    y: float = 0.0,
    district: District | None = None,
    harm: float = 100.0,
    count: int = 10,
) -> Hotspot:
    """A 150 m square hot spot centred ``x`` m east, ``y`` m north of the origin."""
    (lat0, lon0), (lat1, lon1) = (
        at_metres(x - HALF_CELL_M, y - HALF_CELL_M),
        at_metres(x + HALF_CELL_M, y + HALF_CELL_M),
    )
    lat, lon = at_metres(x, y)
    return Hotspot.objects.create(
        run=run,
        rank=rank,
        district=district,
        geometry=mapping(box(lon0, lat0, lon1, lat1)),
        centroid_lat=lat,
        centroid_lon=lon,
        cells=[[0, 0]],
        harm=harm,
        incident_count=count,
        counts_by_offence={},
        profile_24x7=[],
        gi_z_max=3.0,
        briefing={"one_line": f"Hot spot {rank}"},
    )


def city(
    *, n: int = 40, districts: int = 2, spacing_m: float = 400.0
) -> tuple[AnalysisRun, list[Hotspot], list[District]]:
    """An active run of ``n`` hot spots on a grid, ranks by falling harm, dealt over districts."""
    run = analysis_run()
    ds = [DistrictFactory() for _ in range(districts)]
    spots = []
    for i in range(n):
        spots.append(
            hotspot(
                run,
                rank=i + 1,
                x=(i % 8) * spacing_m,
                y=(i // 8) * spacing_m,
                district=ds[i % districts],
                harm=1000.0 / (i + 1),
                count=40 - i % 17,
            )
        )
    return run, spots, ds


def squad_with_officers(
    *, district: District, officers: int = 5, shift_start: time = time(7, 0), shift_hours: int = 10
) -> tuple[Squad, User, list[User]]:
    sergeant = UserFactory(role=Role.SERGEANT)
    squad = SquadFactory(
        district=district, sergeant=sergeant, shift_start=shift_start, shift_hours=shift_hours
    )
    User.objects.filter(pk=sergeant.pk).update(squad=squad)
    members = [UserFactory(role=Role.OFFICER, squad=squad) for _ in range(officers)]
    return squad, sergeant, members


def running_experiment(
    run: AnalysisRun,
    *,
    treated: list[Hotspot],
    control: list[Hotspot],
    design: str = Design.BLOCKED,
    day: date | None = None,
    visits_per_shift: int = 3,
    minutes_per_visit: int = 15,
) -> Experiment:
    """A running experiment on ``run`` with the arms given (place-day: on ``day``)."""
    experiment = Experiment.objects.create(
        name=f"Experiment {uuid.uuid4().hex[:8]}",
        design=design,
        run=run,
        status=ExperimentStatus.RUNNING,
        seed=1,
        started_at=timezone.now(),
        starts_on=date(2020, 1, 1),
        ends_on=date(2040, 1, 1),
        created_by=someone(Role.ANALYST),
        visits_per_shift=visits_per_shift,
        minutes_per_visit=minutes_per_visit,
    )
    placeday = design == Design.PLACEDAY
    Allocation.objects.bulk_create(
        [
            Allocation(
                experiment=experiment,
                hotspot=h,
                arm=arm,
                day=(day or timezone.localdate()) if placeday else None,
            )
            for arms, arm in ((treated, Arm.TREATMENT), (control, Arm.CONTROL))
            for h in arms
        ]
    )
    return experiment


def visit(hotspot: Hotspot, *, officer: User | None = None, day: date | None = None) -> Visit:
    """A 12-minute officer visit on local ``day`` (default today), as the rollup stores it."""
    day = day or timezone.localdate()
    entered = timezone.make_aware(datetime.combine(day, time(9, 0)))
    return Visit.objects.create(
        officer=officer or someone(),
        hotspot=hotspot,
        day=day,
        entered_at=entered,
        exited_at=entered + timedelta(minutes=12),
        dwell_s=720,
        mode=TravelMode.FOOT,
        koper_compliant=True,
    )


def mission(
    hotspot: Hotspot,
    *,
    officer: User | None = None,
    status: str = MissionStatus.ASSIGNED,
    start: datetime | None = None,
    minutes: int = 60,
    **extra: Any,
) -> Mission:
    start = start or timezone.now() - timedelta(minutes=5)
    ended = {}
    if status in (MissionStatus.COMPLETED, MissionStatus.CANCELLED, MissionStatus.INTERRUPTED):
        ended = {"ended_at": timezone.now()}
    if status == MissionStatus.DECLINED:
        ended = {"ended_at": timezone.now(), "decline_reason": "unsafe"}
    officer = officer or UserFactory()
    return Mission.objects.create(
        hotspot=hotspot,
        officer=officer,
        squad_id=officer.squad_id,
        status=status,
        window_start=start,
        window_end=start + timedelta(minutes=minutes),
        **{**ended, **extra},
    )
