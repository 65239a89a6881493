"""A hand-built day of patrols shared by the report tests; every figure the tests expect is
worked out by hand in their comments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from backend.missions.models import MissionStatus
from backend.patrols.models import AvlUnit, DeviceGap, TravelMode, Visit
from tests.missions.builders import city, mission, running_experiment, squad_with_officers

DAY = date(2026, 11, 10)


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hh, mm)))


def make_visit(hotspot, start: datetime, minutes: float, *, officer=None, unit=None, koper=False):
    return Visit.objects.create(
        officer=officer,
        unit=unit,
        hotspot=hotspot,
        day=start.date(),
        entered_at=start,
        exited_at=start + timedelta(minutes=minutes),
        dwell_s=minutes * 60,
        mode=TravelMode.FOOT,
        koper_compliant=koper,
    )


@pytest.fixture
def hand_built_day(db: None) -> dict:
    run, spots, districts = city(n=4, districts=2)
    h1, h2, h3, _h4 = spots  # h4 is not in the experiment
    running_experiment(run, treated=[h1, h2], control=[h3])  # 3 visits x 15 min per day
    squad, _sergeant, (o1, o2) = squad_with_officers(district=districts[0], officers=2)
    car = AvlUnit.objects.create(call_sign="CAR-7")
    make_visit(h1, at(9, 0), 15, officer=o1, koper=True)
    make_visit(h1, at(9, 5), 15, officer=o2, koper=True)  # together with o1 from 09:05 to 09:15
    make_visit(h2, at(10, 0), 3, officer=o1)  # a drive-by
    make_visit(h3, at(11, 0), 10, officer=o2)  # an officer in a control hot spot
    make_visit(h3, at(11, 5), 10, unit=car)  # and a patrol car, 11:05-11:15
    DeviceGap.objects.create(
        officer=o1, hotspot=h2, day=DAY, started_at=at(12, 0), ended_at=at(12, 6)
    )
    DeviceGap.objects.create(officer=o2, day=DAY, started_at=at(13, 0), ended_at=at(13, 4))
    mission(h1, officer=o1, start=at(8, 0), target_minutes=15)
    mission(h2, officer=o1, start=at(8, 0), target_minutes=15)
    mission(h1, officer=o2, start=at(8, 0), target_minutes=15)
    mission(h2, officer=o2, start=at(8, 0), status=MissionStatus.CANCELLED)  # not prescribed
    mission(h1, officer=o2, start=at(8, 0, DAY + timedelta(days=1)))  # another day
    return {"h": spots, "o1": o1, "o2": o2, "squad": squad}
