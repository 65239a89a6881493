"""A scripted day through the real pages and endpoints leaves every audit row it should (issue 11).

Each person works from an address of their own, so every row's "from where" is checked as well
as who acted, whose data it was, what was done to which record, and when. The rows expected are
written out by hand below, not derived from the code under test.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from tests.factories import SquadFactory, UserFactory, next_totp_code, verified_totp_device

PASSWORD = "correct-horse-battery"  # the factories' password
ADDRESS = {
    "stranger": "203.0.113.9",
    "sergeant": "198.51.100.10",
    "officer": "198.51.100.20",
    "admin": "198.51.100.30",
    "analyst": "198.51.100.40",
}
INCIDENTS = """id,when,lat,lon,type
D1,2026-05-01 21:30,25.80,-80.21,robbery
D2,2026-05-02 10:00,25.81,-80.20,burglary
"""


def signed_in(who: str, username: str) -> Client:
    """Sign in through the pages: the password, then the authenticator's code (staff roles)."""
    client = Client(REMOTE_ADDR=ADDRESS[who])
    device = verified_totp_device(User.objects.get(username=username))
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert response["Location"].startswith(reverse("factor-verify")), response["Location"]
    verified = client.post(response["Location"], {"code": next_totp_code(device)})
    assert verified.status_code == 302, verified.content
    return client


def admin_change_form(client: Client, user_id: int, **changes: str) -> dict[str, Any]:
    """The admin's change form for the user, as the browser would submit it, with ``changes``."""
    page = client.get(reverse("admin:accounts_user_change", args=[user_id]))
    form = BeautifulSoup(page.content, "html.parser").find("form", id="user_form")
    assert form is not None
    data: dict[str, Any] = {}
    for field in form.find_all(["input", "select", "textarea"]):
        name = field.get("name")
        if not name or field.get("type") in {"submit", "button"}:
            continue
        if field.name == "select":
            chosen = [o.get("value") for o in field.find_all("option") if o.has_attr("selected")]
            data[name] = chosen if field.has_attr("multiple") else (chosen or [""])[0]
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data[name] = field.get("value", "on")
        elif field.name == "textarea":
            data[name] = field.text
        else:
            data[name] = field.get("value", "")
    return {**data, **changes}


@pytest.mark.django_db
def test_a_scripted_day_leaves_every_expected_audit_row(
    settings: Any, tmp_path: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    squad = SquadFactory()
    sergeant = squad.sergeant
    officer = UserFactory(role="officer", squad=squad)
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    analyst = UserFactory(role="analyst")
    began = timezone.now()

    # 06:55 Someone guesses: a wrong password for the sergeant on the sign-in page and for the
    # officer on the API. Neither signs anyone in.
    stranger = Client(REMOTE_ADDR=ADDRESS["stranger"])
    page = stranger.post(reverse("login"), {"username": sergeant.username, "password": "nope"})
    assert page.status_code == 200
    api = stranger.post(
        "/api/v1/auth/token",
        json.dumps({"username": officer.username, "password": "nope"}),
        content_type="application/json",
    )
    assert api.status_code == 400

    # 07:00 The officer's phone signs in for a token and goes on patrol: a batch of pings.
    token = Client(REMOTE_ADDR=ADDRESS["officer"]).post(
        "/api/v1/auth/token",
        json.dumps({"username": officer.username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert token.status_code == 200
    phone = Client(
        REMOTE_ADDR=ADDRESS["officer"], HTTP_AUTHORIZATION=f"Token {token.json()['token']}"
    )
    started = (timezone.now() - timedelta(minutes=20)).isoformat()
    session = phone.post(
        reverse("api-session-start"),
        {"client_uuid": str(uuid.uuid4()), "started_at": started},
        content_type="application/json",
    )
    assert session.status_code == 201, session.content
    pings = [
        {
            "client_uuid": str(uuid.uuid4()),
            "recorded_at": (timezone.now() - timedelta(minutes=10 - k)).isoformat(),
            "lat": 25.80,
            "lon": -80.21 + k * 1e-4,
            "accuracy_m": 8,
        }
        for k in range(5)
    ]
    batch = phone.post(reverse("api-pings-batch"), pings, content_type="application/json")
    assert batch.status_code == 200 and batch.json()["items"][0]["status"] == "accepted"
    with django_capture_on_commit_callbacks(execute=True):
        ended = phone.post(
            reverse("api-session-end", args=[session.json()["id"]]),
            {},
            content_type="application/json",
        )
    assert ended.status_code == 200

    # 09:00 The sergeant signs in, looks at the officer's track and exports the shift's
    # visits, giving the reason.
    desk = signed_in("sergeant", sergeant.username)
    track = desk.get(
        reverse("api-officer-track", args=[officer.pk]), {"day": timezone.localdate().isoformat()}
    )
    assert track.status_code == 200
    export = desk.get(
        reverse("reports:squad-csv"), {"squad": squad.pk, "reason": "complaint 2026-118"}
    )
    assert export.status_code == 200

    # 11:00 The admin signs in and makes the officer a sergeant in the admin.
    console = signed_in("admin", admin.username)
    form = admin_change_form(console, officer.pk, role="sergeant")
    saved = console.post(reverse("admin:accounts_user_change", args=[officer.pk]), form)
    assert saved.status_code == 302, saved.content.decode()[-2000:]

    # 14:00 The analyst signs in and uploads an incident file (a bulk ingest).
    office = signed_in("analyst", analyst.username)
    with django_capture_on_commit_callbacks(execute=True):
        upload = office.post(
            reverse("api-imports"),
            {
                "file": SimpleUploadedFile("rms.csv", INCIDENTS.encode(), content_type="text/csv"),
                "client_uuid": str(uuid.uuid4()),
                "columns": '{"id": "id", "occurred_at": "when", "lat": "lat", "lon": "lon"}',
                "column_offence": "type",
                "tz": "America/New_York",
            },
        )
    assert upload.status_code == 202, upload.content

    # 16:00 The sergeant's phone is lost: the admin resets their second factor.
    reset = console.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [sergeant.pk]},
    )
    assert reset.status_code == 302
    ended_day = timezone.now()

    def who(user: Any) -> str:
        return user.username if user is not None else "system"

    session_id = str(session.json()["id"])
    expected = [
        # (action, who acted, whose data, object, from where)
        (
            "auth.login_failed",
            "system",
            sergeant.username,
            f"accounts.user#{sergeant.pk}",
            "stranger",
        ),
        (
            "auth.login_failed",
            "system",
            officer.username,
            f"accounts.user#{officer.pk}",
            "stranger",
        ),
        (
            "token.issue",
            officer.username,
            officer.username,
            f"accounts.user#{officer.pk}",
            "officer",
        ),
        (
            "patrol.start",
            officer.username,
            officer.username,
            f"patrols.patrolsession#{session_id}",
            "officer",
        ),
        (
            "patrol.end",
            officer.username,
            officer.username,
            f"patrols.patrolsession#{session_id}",
            "officer",
        ),
        (
            "auth.login",
            sergeant.username,
            sergeant.username,
            f"accounts.user#{sergeant.pk}",
            "sergeant",
        ),
        ("track.read", sergeant.username, officer.username, None, "sergeant"),
        ("visits.export", sergeant.username, None, f"accounts.squad#{squad.pk}", "sergeant"),
        ("auth.login", admin.username, admin.username, f"accounts.user#{admin.pk}", "admin"),
        (
            "user.role_change",
            admin.username,
            officer.username,
            f"accounts.user#{officer.pk}",
            "admin",
        ),
        (
            "auth.login",
            analyst.username,
            analyst.username,
            f"accounts.user#{analyst.pk}",
            "analyst",
        ),
        ("incident_import.create", analyst.username, None, None, "analyst"),
        (
            "factor.reset",
            admin.username,
            sergeant.username,
            f"accounts.user#{sergeant.pk}",
            "admin",
        ),
    ]
    rows = list(AuditEvent.objects.select_related("actor", "subject").order_by("id"))
    got = [
        (
            e.action,
            who(e.actor),
            e.subject.username if e.subject else None,
            f"{e.object_type}#{e.object_id}",
            next((k for k, a in ADDRESS.items() if a == e.ip), e.ip),
        )
        for e in rows
    ]
    print(f"\naudit day: {len(rows)} audit rows")
    for e, g in zip(rows, got, strict=True):
        print(
            f"  {timezone.localtime(e.at):%H:%M:%S} {g[0]:<24} by {g[1]:<8} "
            f"of {g[2] or '-':<8} {g[3]:<30} from {g[4]}"
        )
    for action, actor, subject, obj, where in expected:
        matching = [
            g
            for g in got
            if g[0] == action
            and g[1] == actor
            and g[2] == subject
            and (obj is None or g[3] == obj)
            and g[4] == where
        ]
        assert len(matching) == 1, (action, actor, subject, obj, where, got)
    assert all(began <= e.at <= ended_day for e in rows)  # when: during the day, in order
    assert [e.at for e in rows] == sorted(e.at for e in rows)

    role = next(e for e in rows if e.action == "user.role_change")
    assert (role.before, role.after) == ({"role": "officer"}, {"role": "sergeant"})
    export_row = next(e for e in rows if e.action == "visits.export")
    assert export_row.after["reason"] == "complaint 2026-118"
    assert next(e for e in rows if e.action == "track.read").object_id == str(officer.pk)
    done = [e for e in rows if e.action == "incident_import.done"]
    assert len(done) == 1 and done[0].after["imported"] == 2  # the bulk ingest's outcome
    # The ping batch itself writes no row: the session's start and end bracket it, and a row
    # per phone batch (one a minute per officer) would drown the log.
    assert not [e for e in rows if "ping" in e.action]
