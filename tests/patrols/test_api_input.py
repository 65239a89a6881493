"""Batch envelopes and track queries are parsed by serializers (backend/patrols/api.py): a
malformed one is a 400 naming the field, and nothing is stored or read."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.patrols.models import Ping
from tests.factories import SquadFactory, UserFactory

pytestmark = pytest.mark.django_db


def officer_on_patrol() -> Client:
    client = Client()
    client.force_login(UserFactory(role="officer"))
    started = (timezone.now() - timedelta(minutes=30)).isoformat()
    body = {"client_uuid": str(uuid.uuid4()), "started_at": started}
    response = client.post(reverse("api-session-start"), body, content_type="application/json")
    assert response.status_code == 201
    return client


def ping() -> dict[str, Any]:
    return {
        "client_uuid": str(uuid.uuid4()),
        "lat": 25.8,
        "lon": -80.21,
        "accuracy_m": 8.0,
        "recorded_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
    }


def post_batch(client: Client, body: Any) -> Any:
    return client.post(
        reverse("api-pings-batch"), json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"pings": [], "sent_at": "2026-11-25T10:00:00"}, "sent_at", "with an offset"),
        ({"pings": [], "sent_at": "soon"}, "sent_at", "with an offset"),
        ({"pings": [], "sent_at": {"at": 1}}, "sent_at", "with an offset"),
        ({"pings": [], "session": "mine"}, "session", "must be a session id (an integer)"),
        ({"pings": [], "session": 1.0}, "session", "must be a session id (an integer)"),
        ({"pings": [], "session": 0}, "session", "must be a session id (an integer)"),
        ({"pings": {"a": 1}}, "pings", 'send a JSON list of pings, or {"pings": [...]}'),
        ({"sent_at": None}, "pings", 'send a JSON list of pings, or {"pings": [...]}'),
        ("pings", "pings", 'send a JSON list of pings, or {"pings": [...]}'),
    ],
)
def test_a_malformed_envelope_is_a_400_naming_the_field_and_stores_nothing(
    body: Any, field: str, message: str
) -> None:
    client = officer_on_patrol()
    if isinstance(body, dict) and "pings" in body:
        body["pings"] = body["pings"] or [ping()]  # a valid ping: only the envelope is wrong
    response = post_batch(client, body)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field] and message in errors[field][0]
    assert not Ping.objects.exists()


def test_an_envelope_with_an_offset_clock_and_no_session_is_accepted() -> None:
    client = officer_on_patrol()
    sent = timezone.now().isoformat()
    body = {"pings": [ping()], "sent_at": sent, "session": None}
    response = post_batch(client, body)
    assert response.status_code == 200
    assert [i["status"] for i in response.json()["items"]] == ["accepted"]


@pytest.mark.parametrize("day", ["", "yesterday", "2026-13-01", "25/11/2026"])
def test_a_track_query_without_a_proper_day_is_a_400_and_is_not_audited(day: str) -> None:
    squad = SquadFactory()
    officer = UserFactory(role="officer", squad=squad)
    sergeant = Client()
    sergeant.force_login(squad.sergeant)
    url = reverse("api-officer-track", args=[officer.pk])
    response = sergeant.get(url, {"day": day} if day else {})
    assert response.status_code == 400
    assert response.json() == {"day": ["must be a date like 2026-11-25"]}
    assert not AuditEvent.objects.filter(action="track.read").exists()
