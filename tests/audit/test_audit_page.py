"""The audit page outside the admin: admins and supervisors filter, page and export the log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.audit.services import audit_record
from tests.factories import DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("supervisor", 200), ("sergeant", 403), ("officer", 403), ("analyst", 403)],
)
def test_only_admins_and_supervisors_see_the_audit_page_and_its_export(
    role: str, status: int
) -> None:
    client = client_for(UserFactory(role=role))
    assert client.get(reverse("audit:index")).status_code == status
    assert client.get(reverse("audit:csv")).status_code == status


def test_anonymous_callers_are_sent_to_sign_in() -> None:
    response = Client().get(reverse("audit:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_filters_narrow_the_list_by_actor_subject_action_object_and_days() -> None:
    sergeant = UserFactory(role="sergeant", username="sgt.vega")
    officer = UserFactory(role="officer", username="ofc.lee")
    other = UserFactory(role="officer", username="ofc.kim")
    district = DistrictFactory()
    audit_record(actor=sergeant, action="track.read", obj=officer, subject=officer)
    audit_record(actor=sergeant, action="track.read", obj=other, subject=other)
    audit_record(actor=sergeant, action="mission.assign", obj=district, subject=officer)
    audit_record(actor=officer, action="mission.accept", obj=district, subject=officer)
    supervisor = UserFactory(role="supervisor")
    client = client_for(supervisor)

    def shown(**query: str) -> list[tuple[str, str, str]]:
        response = client.get(reverse("audit:index"), query)
        assert response.status_code == 200
        events = response.context["events"].object_list
        return [
            (e.actor.username if e.actor else "", e.action, e.subject.username)
            for e in events
            if e.subject
        ]

    assert shown(actor="sgt.vega", action="track.read") == [
        ("sgt.vega", "track.read", "ofc.kim"),
        ("sgt.vega", "track.read", "ofc.lee"),
    ]
    assert shown(subject="ofc.lee", action="mission.") == [
        ("ofc.lee", "mission.accept", "ofc.lee"),
        ("sgt.vega", "mission.assign", "ofc.lee"),
    ]
    assert shown(object_type="accounts.district", object_id=str(district.pk), actor="ofc.lee") == [
        ("ofc.lee", "mission.accept", "ofc.lee")
    ]
    today = timezone.localdate()
    assert (
        len(shown(**{"from": today.isoformat(), "to": today.isoformat(), "subject": "ofc.lee"}))
        == 3
    )
    yesterday = (today - timedelta(days=1)).isoformat()
    assert shown(**{"from": yesterday, "to": yesterday, "subject": "ofc.lee"}) == []


def test_bad_filters_are_a_400_naming_the_field_and_show_nothing_wrong() -> None:
    client = client_for(UserFactory(role="admin"))
    response = client.get(reverse("audit:index"), {"from": "2026-11-10", "to": "2026-11-01"})
    assert response.status_code == 400
    assert "The last day is before the first day." in response.content.decode()
    response = client.get(reverse("audit:index"), {"from": "0200-03-01"})
    assert response.status_code == 400 and "must be between 2000-01-01" in response.content.decode()
    export = client.get(reverse("audit:csv"), {"from": "0200-03-01"})
    assert export.status_code == 400
    assert export.content.decode().startswith("Bad request: from: must be between 2000-01-01")


def test_the_list_is_paged_fifty_rows_at_a_time_keeping_the_filters() -> None:
    officer = UserFactory(role="officer", username="ofc.page")
    for _ in range(60):
        audit_record(actor=officer, action="mission.accept", obj=officer, subject=officer)
    client = client_for(UserFactory(role="supervisor"))
    first = client.get(reverse("audit:index"), {"actor": "ofc.page"})
    assert len(first.context["events"].object_list) == 50
    assert 'href="?actor=ofc.page&amp;page=2"' in first.content.decode()
    second = client.get(reverse("audit:index"), {"actor": "ofc.page", "page": 2})
    assert len(second.context["events"].object_list) == 10


def test_the_export_neutralizes_formulas_and_is_itself_audited_while_reading_is_not() -> None:
    evil = UserFactory(role="officer", username="@SUM")  # Django allows @ in usernames
    audit_record(
        actor=evil,
        action="mission.decline",
        obj=evil,
        subject=evil,
        after={"note": "=HYPERLINK(1)"},
    )
    admin = UserFactory(role="admin")
    client = client_for(admin)
    before = AuditEvent.objects.count()
    page = client.get(reverse("audit:index"))
    assert page.status_code == 200
    assert AuditEvent.objects.count() == before  # reading the log writes nothing
    export = client.get(reverse("audit:csv"), {"action": "mission.decline"})
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    header, *rows = rows_of(export)
    assert header == [
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "subject",
        "ip",
        "before",
        "after",
    ]
    assert [(r[1], r[2], r[5], r[8]) for r in rows] == [
        ("'@SUM", "mission.decline", "'@SUM", '{"note": "=HYPERLINK(1)"}')
    ]
    exported = AuditEvent.objects.get(action="audit.export")
    assert exported.actor == admin and exported.after == {"action": "mission.decline"}


def test_the_page_has_labelled_filters_and_a_table_that_stacks_on_a_phone() -> None:
    officer = UserFactory(role="officer")
    audit_record(actor=officer, action="mission.accept", obj=officer, subject=officer)
    html = client_for(UserFactory(role="supervisor")).get(reverse("audit:index")).content.decode()
    for name in ["actor", "subject", "action", "object_type", "object_id", "from", "to"]:
        assert f'for="id_{name}"' in html and f'id="id_{name}"' in html, name
    assert '<table class="stack">' in html and "<caption>" in html
    assert 'data-label="Who acted"' in html and 'scope="col"' in html
