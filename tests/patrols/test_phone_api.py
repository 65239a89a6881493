"""What the phone app relies on: "not on patrol" is a 200 with an empty body, an activity's
undo deletes only your own recent row, and a note is short."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.patrols.models import Activity
from backend.patrols.services import activity_undo
from tests.factories import UserFactory
from tests.patrols.test_ingest import api_client, post, start_session


@pytest.mark.django_db
def test_current_session_is_200_with_json_null_when_not_on_patrol_and_documented() -> None:
    officer = api_client(UserFactory(role="officer"))
    r = officer.get(reverse("api-session-current"))
    assert (r.status_code, r["Content-Type"], r.content) == (200, "application/json", b"null")
    sid = start_session(officer)
    r = officer.get(reverse("api-session-current"))
    assert r.status_code == 200 and r.json()["id"] == sid
    schema = api_client(UserFactory(role="admin")).get("/api/schema/?format=json").json()
    op = schema["paths"]["/api/v1/patrols/sessions/current"]["get"]
    assert [c for c in op["responses"] if c.startswith("2")] == ["200"]
    assert "empty body (JSON null)" in op["responses"]["200"]["description"]


def activity(officer, **extra):  # type: ignore[no-untyped-def]
    when = (timezone.now() - timedelta(minutes=1)).isoformat()
    body = {"client_uuid": str(uuid.uuid4()), "kind": "arrest", "recorded_at": when, **extra}
    return post(officer, "api-activities", body), body["client_uuid"]


@pytest.mark.django_db
def test_undo_deletes_your_own_activity_once_and_never_someone_elses() -> None:
    me_user, other_user = UserFactory(role="officer"), UserFactory(role="officer")
    me, other = api_client(me_user), api_client(other_user)
    start_session(me)
    start_session(other)
    r, mine = activity(me)
    assert r.status_code == 201
    r, theirs = activity(other)
    assert r.status_code == 201
    url = lambda u: reverse("api-activity-undo", args=[u])  # noqa: E731
    assert me.delete(url(theirs)).status_code == 204  # not mine: nothing happens
    assert Activity.objects.filter(client_uuid=theirs).exists()
    assert me.delete(url(mine)).status_code == 204
    assert not Activity.objects.filter(client_uuid=mine).exists()
    assert me.delete(url(mine)).status_code == 204  # a retried undo
    assert AuditEvent.objects.filter(action="activity.undo").count() == 1


@pytest.mark.django_db
def test_undo_is_refused_for_an_activity_received_long_ago() -> None:
    user = UserFactory(role="officer")
    me = api_client(user)
    start_session(me)
    _, key = activity(me)
    a = Activity.objects.get(client_uuid=key)
    later = a.received_at + timedelta(minutes=11)
    with pytest.raises(ValidationError, match="over 10 minutes ago"):
        activity_undo(officer=user, client_uuid=a.client_uuid, now=later)
    assert Activity.objects.filter(pk=a.pk).exists()


@pytest.mark.django_db
def test_a_note_longer_than_280_characters_is_refused_with_the_field_named() -> None:
    me = api_client(UserFactory(role="officer"))
    start_session(me)
    r, _ = activity(me, kind="problem-noted", note="x" * 281)
    assert r.status_code == 400 and "note" in r.json()
    assert Activity.objects.count() == 0
    r, _ = activity(me, kind="problem-noted", note="Broken light at the bus stop")
    assert r.status_code == 201
    assert Activity.objects.get().note == "Broken light at the bus stop"
