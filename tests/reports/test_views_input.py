"""Report pages refuse malformed input naming the field (backend/reports/views.py and forms)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.reports.models import DailySnapshot
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def supervisor() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    return client


@pytest.mark.parametrize("name", ["reports:compliance-csv", "reports:compliance-geojson"])
def test_a_download_with_a_reversed_range_is_a_400_naming_the_field(name: str) -> None:
    response = supervisor().get(reverse(name), {"from": "2026-11-10", "to": "2026-11-01"})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "Bad request: to: The last day is before the first day."


def test_a_map_download_in_an_unknown_format_is_a_400_naming_format_and_reads_nothing() -> None:
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = supervisor().get(
        reverse("reports:compliance-geojson"),
        {"from": day, "to": day, "by": "hotspot", "format": "shapefile"},
    )
    assert response.status_code == 400
    assert response.content.decode().startswith("Bad request: format: Select a valid choice.")
    assert not AuditEvent.objects.exclude(action="auth.login").exists()  # only the sign-in


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("yesterday", "Day must be a date like 2026-11-25."),
        ("", "This field is required."),
        ("2999-01-01", "Pick a day from 1 Jan 2000 to today"),
    ],
)
def test_a_snapshot_recompute_of_a_bad_day_is_refused_and_queues_nothing(
    day: str, message: str, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = supervisor().post(reverse("reports:snapshot-recompute"), {"day": day})
    assert response.status_code == 302 and response["Location"] == reverse("reports:snapshot")
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(message in m for m in shown), shown
    assert callbacks == [] and not DailySnapshot.objects.exists()


def test_a_malformed_page_number_shows_the_first_page() -> None:
    response = supervisor().get(reverse("reports:snapshot"), {"page": "second"})
    assert response.status_code == 200
    assert response.context["page"].number == 1
