"""The admin never changes a started experiment's allocation, and missions only through services."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from backend.accounts.models import Role
from backend.missions.models import Allocation, Arm, Experiment
from backend.missions.services import experiment_create, experiment_randomize, experiment_start
from tests.factories import UserFactory
from tests.missions.builders import analysis_run, city, hotspot, mission

pytestmark = pytest.mark.django_db


def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN, is_staff=True, is_superuser=True))
    return client


def started_experiment() -> Experiment:
    city(n=6, districts=1)
    analyst = UserFactory(role=Role.ANALYST)
    e = experiment_create(
        actor=analyst,
        name="Locked",
        design="blocked",
        starts_on=date(2026, 6, 1),
        ends_on=date(2026, 6, 30),
    )
    experiment_randomize(experiment_id=e.pk, actor=analyst)
    return experiment_start(experiment_id=e.pk, actor=analyst)


def change_form(e: Experiment, allocations: list[Allocation], **overrides: str) -> dict[str, str]:
    """What a tampered admin form would post: new fields and flipped inline arms."""
    data = {
        "name": e.name,
        "design": "paired",
        "seed": "1",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
        "blocking": "none",
        "harm_tiers": "3",
        "visits_per_shift": "9",
        "minutes_per_visit": "30",
        "status": "draft",
        "run": str(e.run_id),
        "created_by": str(e.created_by_id),
        "allocations-TOTAL_FORMS": str(len(allocations)),
        "allocations-INITIAL_FORMS": str(len(allocations)),
        "allocations-MIN_NUM_FORMS": "0",
        "allocations-MAX_NUM_FORMS": "1000",
    }
    for i, a in enumerate(allocations):
        flipped = Arm.CONTROL if a.arm == Arm.TREATMENT else Arm.TREATMENT
        data.update(
            {
                f"allocations-{i}-id": str(a.pk),
                f"allocations-{i}-experiment": str(e.pk),
                f"allocations-{i}-hotspot": str(a.hotspot_id),
                f"allocations-{i}-arm": flipped,
                f"allocations-{i}-block": "tampered",
            }
        )
    data.update(overrides)
    return data


def test_the_admin_change_view_cannot_change_a_started_experiments_allocation() -> None:
    e = started_experiment()
    before = list(Allocation.objects.filter(experiment=e).order_by("pk").values())
    client = admin_client()
    url = reverse("admin:missions_experiment_change", args=[e.pk])
    page = client.get(url).content.decode()
    assert 'name="allocations-0-arm"' not in page  # the inline is read-only
    assert 'name="design"' not in page and 'name="seed"' not in page
    client.post(url, change_form(e, list(Allocation.objects.filter(experiment=e))))
    assert list(Allocation.objects.filter(experiment=e).order_by("pk").values()) == before
    e2 = Experiment.objects.get(pk=e.pk)
    assert (e2.design, e2.seed, e2.status, e2.visits_per_shift) == (
        e.design,
        e.seed,
        "running",
        e.visits_per_shift,
    )
    assert client.get(reverse("admin:missions_experiment_delete", args=[e.pk])).status_code == 403


def test_the_admin_may_edit_a_draft_allocation_but_not_its_seed_or_status() -> None:
    city(n=4, districts=1)
    analyst = UserFactory(role=Role.ANALYST)
    e = experiment_create(
        actor=analyst,
        name="Draft",
        design="blocked",
        starts_on=date(2026, 6, 1),
        ends_on=date(2026, 6, 30),
    )
    experiment_randomize(experiment_id=e.pk, actor=analyst)
    page = admin_client().get(reverse("admin:missions_experiment_change", args=[e.pk]))
    html = page.content.decode()
    assert 'name="allocations-0-arm"' in html
    assert 'name="seed"' not in html and 'name="status"' not in html


def test_missions_are_read_only_in_the_admin() -> None:
    m = mission(hotspot(analysis_run(), rank=1))
    client = admin_client()
    html = client.get(reverse("admin:missions_mission_change", args=[m.pk])).content.decode()
    assert 'name="status"' not in html
    assert client.get(reverse("admin:missions_mission_add")).status_code == 403
    assert client.get(reverse("admin:missions_mission_delete", args=[m.pk])).status_code == 403
