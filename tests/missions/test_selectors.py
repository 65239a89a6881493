"""Reads: today's dose of each hot spot, the treated set, the board of a night shift."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from backend.missions.models import Design, MissionStatus
from backend.missions.selectors import (
    board_missions,
    hotspot_dose_today,
    squad_shift_window,
    treatment_on,
)
from backend.patrols.models import AvlUnit, Visit
from tests.factories import DistrictFactory
from tests.missions.builders import (
    analysis_run,
    hotspot,
    mission,
    running_experiment,
    squad_with_officers,
    visit,
)

pytestmark = pytest.mark.django_db


def test_dose_counts_todays_officer_gps_visits_only() -> None:
    run = analysis_run()
    h = hotspot(run, rank=1)
    today = timezone.localdate()
    visit(h)
    visit(h, day=today - timedelta(days=1))  # yesterday: not today's dose
    unit = AvlUnit.objects.create(call_sign="Car 7")
    Visit.objects.create(
        unit=unit,
        hotspot=h,
        day=today,
        entered_at=timezone.now(),
        exited_at=timezone.now(),
        dwell_s=30,
        mode="vehicle",
    )  # an AVL drive-by is background presence, not dose
    mission(h, status=MissionStatus.COMPLETED)
    old = mission(h, status=MissionStatus.COMPLETED)
    old.ended_at = timezone.now() - timedelta(days=2)
    old.save()
    mission(h, status=MissionStatus.ACCEPTED)  # under way: not delivered yet
    dose = hotspot_dose_today(hotspot_ids=[h.pk])[h.pk]
    # A completed mission is shown, but only GPS dwell counts as dose.
    assert (dose.visits, dose.completed_missions, dose.delivered) == (1, 1, 1)
    assert (dose.prescribed, dose.deficit, dose.visit_due, dose.arm) == (3, 2, "due", "")
    visit(h)
    assert hotspot_dose_today()[h.pk].visit_due == "due"
    visit(h)
    assert hotspot_dose_today()[h.pk].visit_due == "done"


def test_a_control_hot_spot_has_no_prescribed_dose_and_a_treated_one_the_experiments() -> None:
    run = analysis_run()
    t, c = hotspot(run, rank=1), hotspot(run, rank=2)
    running_experiment(run, treated=[t], control=[c], visits_per_shift=4)
    doses = hotspot_dose_today(hotspot_ids=[t.pk, c.pk])
    assert (doses[t.pk].arm, doses[t.pk].prescribed, doses[t.pk].visit_due) == (
        "treatment",
        4,
        "due",
    )
    assert (doses[c.pk].arm, doses[c.pk].prescribed, doses[c.pk].visit_due) == (
        "control",
        0,
        "control",
    )


def test_an_experiment_on_an_inactive_run_does_not_decide_treatment() -> None:
    old = analysis_run()
    h_old = hotspot(old, rank=1)
    running_experiment(old, treated=[], control=[h_old])
    new = analysis_run()  # publishing a new analysis deactivates the old run
    h = hotspot(new, rank=1)
    treatment = treatment_on(day=timezone.localdate(), hotspot_ids=[h.pk])
    assert treatment.experiment is None and treatment.is_treated(h.pk)


def test_a_placeday_treatment_is_read_for_the_day_asked() -> None:
    run = analysis_run()
    a, b = hotspot(run, rank=1), hotspot(run, rank=2)
    today = timezone.localdate()
    running_experiment(run, treated=[a], control=[b], design=Design.PLACEDAY, day=today)
    assert treatment_on(day=today).treated_ids == {a.pk}
    assert treatment_on(day=today + timedelta(days=1)).treated_ids == frozenset()


def test_a_night_shift_board_includes_missions_after_midnight() -> None:
    district = DistrictFactory()
    squad, _, (officer, *_) = squad_with_officers(
        district=district, shift_start=time(22, 0), shift_hours=10
    )
    day = timezone.localdate() + timedelta(days=3)
    start, end = squad_shift_window(squad=squad, day=day)
    assert timezone.localtime(end).date() == day + timedelta(days=1)
    h = hotspot(analysis_run(), rank=1)
    late = mission(h, officer=officer, start=start + timedelta(hours=5))  # 03:00 next day
    mission(h, officer=officer, start=end + timedelta(hours=1))  # after the shift
    assert list(board_missions(squad=squad, day=day)) == [late]
