"""Exactly-once ping ingest, sessions, activities and AVL, through the HTTP API."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backend.audit.models import AuditEvent
from backend.patrols.models import Activity, PatrolSession, Ping
from tests.factories import SquadFactory, UserFactory


def api_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, name: str, body: Any, **kwargs: Any) -> Any:
    return client.post(reverse(name, **kwargs), json.dumps(body), content_type="application/json")


def ping(when: datetime, **overrides: Any) -> dict[str, Any]:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "recorded_at": when.isoformat(),
        "lat": 25.8,
        "lon": -80.21,
        "accuracy_m": 8.0,
        "speed_mps": 1.2,
        "heading_deg": 90.0,
    }
    body.update(overrides)
    return body


def start_session(client: Client, minutes_ago: int = 30) -> int:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    body = {"client_uuid": str(uuid.uuid4()), "started_at": started.isoformat()}
    response = post(client, "api-session-start", body)
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


@pytest.mark.django_db
def test_pings_outside_a_session_are_refused_and_inside_accepted_once() -> None:
    officer = api_client(UserFactory(role="officer"))
    now = timezone.now()
    before = post(officer, "api-pings-batch", [ping(now - timedelta(minutes=1))])
    assert before.json()["items"][0]["status"] == "rejected"
    assert "no patrol session of yours" in before.json()["items"][0]["reason"]
    start_session(officer)
    batch = [ping(now - timedelta(seconds=s)) for s in (50, 40, 30)]
    first = post(officer, "api-pings-batch", batch).json()
    assert [i["status"] for i in first["items"]] == ["accepted"] * 3
    again = post(officer, "api-pings-batch", batch).json()
    assert [i["status"] for i in again["items"]] == ["duplicate"] * 3
    assert [i["id"] for i in again["items"]] == [i["id"] for i in first["items"]]
    assert Ping.objects.count() == 3


@pytest.mark.django_db
def test_bad_items_are_refused_with_their_reason_and_nothing_else_is_lost() -> None:
    officer = api_client(UserFactory(role="officer"))
    start_session(officer)
    now = timezone.now() - timedelta(minutes=1)
    good = ping(now)
    batch = [
        good,
        ping(now, recorded_at="2026-11-25T10:00:00"),  # no offset
        ping(now, lat=float("nan")),
        ping(now, lat=91.0),
        ping(now, lon=-181),
        ping(now, accuracy_m=-1),
        ping(now, heading_deg=360),
        ping(now, client_uuid="not-a-uuid"),
        ping(now, lat="25.8"),
        {**good},  # the same ping twice in one batch
        ping(now + timedelta(seconds=1)),
    ]
    # json.dumps writes NaN as a bare NaN token, which Python's parser (and DRF's) accepts.
    body = post(officer, "api-pings-batch", batch).json()
    statuses = [i["status"] for i in body["items"]]
    assert statuses == ["accepted"] + ["rejected"] * 8 + ["duplicate", "accepted"]
    reasons = [i.get("reason", "") for i in body["items"]]
    assert "has no UTC offset" in reasons[1]
    assert reasons[2].startswith("lat must be a finite number")
    assert reasons[3].startswith("lat must be")
    assert reasons[4].startswith("lon must be")
    assert reasons[5].startswith("accuracy_m")
    assert reasons[6].startswith("heading_deg")
    assert "client_uuid" in reasons[7]
    assert reasons[8] == "lat must be a number"
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (2, 1, 8)
    assert Ping.objects.count() == 2


@pytest.mark.django_db
def test_a_batch_of_1001_is_refused_with_the_limit() -> None:
    officer = api_client(UserFactory(role="officer"))
    start_session(officer)
    now = timezone.now()
    response = post(officer, "api-pings-batch", [ping(now) for _ in range(1001)])
    assert response.status_code == 413
    assert response.json()["limit"] == 1000
    assert Ping.objects.count() == 0
    ok = post(officer, "api-pings-batch", [ping(now - timedelta(seconds=1)) for _ in range(1000)])
    assert ok.status_code == 200 and ok.json()["accepted"] == 1000


@pytest.mark.django_db
def test_a_ping_for_another_officers_session_is_refused() -> None:
    mine, theirs = api_client(UserFactory(role="officer")), api_client(UserFactory(role="officer"))
    start_session(mine)
    their_session = start_session(theirs)
    now = timezone.now() - timedelta(seconds=10)
    body = post(mine, "api-pings-batch", {"session": their_session, "pings": [ping(now)]}).json()
    assert body["items"][0]["status"] == "rejected"
    assert body["items"][0]["reason"] == f"patrol session {their_session} is not yours"
    # The officer comes from the login, never from the body: an "officer" field is ignored.
    other = UserFactory(role="officer")
    body = post(mine, "api-pings-batch", [ping(now, officer=other.pk)]).json()
    assert body["items"][0]["status"] == "accepted"
    assert Ping.objects.get().officer_id != other.pk


@pytest.mark.django_db
def test_late_pings_recorded_during_an_ended_session_are_kept_and_skewed_clocks_flagged() -> None:
    officer = api_client(UserFactory(role="officer"))
    session = start_session(officer, minutes_ago=60)
    assert post(officer, "api-session-end", {}, args=[session]).status_code == 200
    late = ping(timezone.now() - timedelta(minutes=20))  # taken on patrol, sent after the end
    skewed = ping(timezone.now() - timedelta(minutes=10))
    body = post(officer, "api-pings-batch", [late]).json()
    assert body["items"][0]["status"] == "accepted"
    sent = (timezone.now() - timedelta(minutes=9)).isoformat()  # device clock 9 minutes slow
    body = post(officer, "api-pings-batch", {"sent_at": sent, "pings": [skewed]}).json()
    assert body["items"][0]["status"] == "accepted"
    flags = dict(Ping.objects.values_list("client_uuid", "clock_skewed"))
    assert flags == {uuid.UUID(late["client_uuid"]): False, uuid.UUID(skewed["client_uuid"]): True}
    after_end = post(officer, "api-pings-batch", [ping(timezone.now())]).json()
    assert after_end["items"][0]["status"] == "rejected"


@pytest.mark.django_db
def test_pings_dated_far_in_the_future_are_refused_and_the_rest_of_the_batch_kept() -> None:
    """An open session covers any later time: the date bound is what stops year 9999."""
    officer = api_client(UserFactory(role="officer"))
    start_session(officer, minutes_ago=10)
    now = timezone.now()
    fine = ping(now - timedelta(minutes=1))
    fast_clock = ping(now + timedelta(hours=23))  # within the day's margin: kept, flagged
    items = [
        ping(now + timedelta(hours=25)),
        {**ping(now), "recorded_at": "9999-12-31T23:00:00-14:00"},
        {**ping(now), "recorded_at": "2100-01-01T00:00:00Z"},
        fine,
        fast_clock,
    ]
    response = post(officer, "api-pings-batch", items)
    assert response.status_code == 200, response.content
    statuses = [(i["status"], i.get("reason", "")) for i in response.json()["items"]]
    assert [s for s, _ in statuses] == ["rejected"] * 3 + ["accepted"] * 2
    assert all("after the server's time" in reason for _, reason in statuses[:3])
    stored = dict(Ping.objects.values_list("client_uuid", "clock_skewed"))
    assert stored == {
        uuid.UUID(fine["client_uuid"]): False,
        uuid.UUID(fast_clock["client_uuid"]): True,
    }
    feed = api_client(UserFactory(role="service"))
    body = post(feed, "api-avl-batch", [{**items[1], "unit": "CAR-1"}]).json()
    assert body["items"][0]["status"] == "rejected"


@pytest.mark.django_db
def test_session_start_is_retry_safe_and_one_session_is_open_at_a_time() -> None:
    officer = api_client(UserFactory(role="officer"))
    key = str(uuid.uuid4())
    first = post(officer, "api-session-start", {"client_uuid": key})
    again = post(officer, "api-session-start", {"client_uuid": key})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = post(officer, "api-session-start", {"client_uuid": str(uuid.uuid4())})
    assert other.status_code == 409
    assert other.json()["session"]["id"] == first.json()["id"]
    current = officer.get(reverse("api-session-current")).json()
    assert current["id"] == first.json()["id"]
    assert PatrolSession.objects.count() == 1


@pytest.mark.django_db
def test_activities_are_stored_exactly_once_and_validated() -> None:
    officer = api_client(UserFactory(role="officer"))
    start_session(officer)
    body = {
        "client_uuid": str(uuid.uuid4()),
        "kind": "community-contact",
        "recorded_at": (timezone.now() - timedelta(minutes=1)).isoformat(),
        "note": "Spoke to the shop owner",
        "lat": 25.8,
        "lon": -80.21,
    }
    first = post(officer, "api-activities", body)
    again = post(officer, "api-activities", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["session"] is not None
    assert Activity.objects.count() == 1
    bad = post(officer, "api-activities", {**body, "client_uuid": str(uuid.uuid4()), "kind": "nap"})
    assert bad.status_code == 400 and "unknown activity 'nap'" in bad.json()["kind"][0]


@pytest.mark.django_db
def test_avl_needs_a_service_account_and_registers_units() -> None:
    feed = api_client(UserFactory(role="service"))
    officer = api_client(UserFactory(role="officer"))
    now = timezone.now() - timedelta(seconds=5)
    items = [ping(now, unit="CAR-12"), ping(now, unit="CAR-7"), ping(now)]
    assert post(officer, "api-avl-batch", items).status_code == 403
    body = post(feed, "api-avl-batch", items).json()
    assert [i["status"] for i in body["items"]] == ["accepted", "accepted", "rejected"]
    assert body["items"][2]["reason"].startswith("unit is required")
    assert post(feed, "api-avl-batch", items).json()["duplicate"] == 2
    assert set(Ping.objects.values_list("unit__call_sign", flat=True)) == {"CAR-12", "CAR-7"}


@pytest.mark.django_db
def test_one_connection_stores_phone_pings_then_avl_pings_then_phone_pings() -> None:
    """On PostgreSQL both go through a per-connection COPY staging table that outlives the
    transaction: each column set needs its own."""
    from backend.patrols.ingest import avl_ingest, pings_ingest

    officer = UserFactory(role="officer")
    PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=timezone.now() - timedelta(hours=1)
    )
    at = timezone.now() - timedelta(minutes=5)
    for k in range(2):
        phone = pings_ingest(officer=officer, items=[ping(at + timedelta(seconds=k))])
        car = avl_ingest(items=[{**ping(at + timedelta(seconds=k)), "unit": "CAR-1"}])
        assert phone.counts()["accepted"] == car.counts()["accepted"] == 1
    assert Ping.objects.filter(officer=officer).count() == 2
    assert Ping.objects.filter(unit__call_sign="CAR-1").count() == 2


@pytest.mark.django_db
def test_track_reads_are_role_scoped_and_audited(settings: Any) -> None:
    squad = SquadFactory()
    officer_user = UserFactory(role="officer", squad=squad)
    officer = api_client(officer_user)
    start_session(officer)
    post(officer, "api-pings-batch", [ping(timezone.now() - timedelta(minutes=1))])
    day = timezone.localdate().isoformat()
    url = reverse("api-officer-track", args=[officer_user.pk])
    own = officer.get(url, {"day": day})
    assert own.status_code == 200 and len(own.json()["geometry"]["coordinates"]) == 1
    assert "no-store" in own["Cache-Control"]  # positions never kept by a browser or proxy
    assert not AuditEvent.objects.filter(action="track.read").exists()  # own track: no audit
    sergeant = api_client(squad.sergeant)
    # Behind nginx (one trusted proxy) the audit keeps the address nginx saw, not the proxy's
    # socket and not the forged entry the client put first.
    settings.PRESENCE_TRUSTED_PROXIES = 1
    forwarded = {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7", "REMOTE_ADDR": "127.0.0.1"}
    assert sergeant.get(url, {"day": day}, **forwarded).status_code == 200
    event = AuditEvent.objects.get(action="track.read")
    assert (event.actor, event.subject, event.after) == (squad.sergeant, officer_user, {"day": day})
    assert event.ip == "198.51.100.7"
    for role in ("officer", "analyst"):
        assert api_client(UserFactory(role=role)).get(url, {"day": day}).status_code == 403
    other_sergeant = api_client(SquadFactory().sergeant)
    assert other_sergeant.get(url, {"day": day}).status_code == 403
    assert AuditEvent.objects.filter(action="track.read").count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_ten_thousand_pings_in_repeated_shuffled_batches_from_four_threads(postgres: None) -> None:
    user = UserFactory(role="officer")
    # A recent day: the ingest refuses fixes older than the raw pings' retention (90 days).
    day = datetime.combine(date.today() - timedelta(days=3), time.min, tzinfo=UTC)
    PatrolSession.objects.create(officer=user, client_uuid=uuid.uuid4(), started_at=day)
    base = day + timedelta(hours=12)
    pings = [ping(base + timedelta(seconds=i)) for i in range(10_000)]
    random.Random(7).shuffle(pings)
    batches = [pings[i : i + 250] for i in range(0, 10_000, 250)]
    times = random.Random(9)
    sends = [b for b in batches for _ in range(times.randint(1, 3))]
    random.Random(8).shuffle(sends)
    outcomes: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(chunk: list[list[dict[str, Any]]]) -> None:
        from django.db import connection

        client = api_client(user)
        try:
            for batch in chunk:
                r = post(client, "api-pings-batch", batch)
                assert r.status_code == 200, r.content
                with lock:
                    outcomes.append(r.json())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(sends[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Ping.objects.filter(officer=user).count() == 10_000
    # Every ping was accepted exactly once overall; every other sending of it said duplicate,
    # with the same id; nothing was rejected.
    status_by_uuid: dict[str, Counter[str]] = {}
    ids: dict[str, set[int]] = {}
    for body in outcomes:
        for item in body["items"]:
            status_by_uuid.setdefault(item["client_uuid"], Counter())[item["status"]] += 1
            ids.setdefault(item["client_uuid"], set()).add(item["id"])
    assert len(status_by_uuid) == 10_000
    assert all(c["accepted"] == 1 and c["rejected"] == 0 for c in status_by_uuid.values())
    assert all(len(v) == 1 for v in ids.values())
    assert sum(c["duplicate"] for c in status_by_uuid.values()) == 250 * (len(sends) - len(batches))


@pytest.mark.django_db
def test_reading_raw_pings_in_the_admin_is_audited(admin_client: Client) -> None:
    officer = UserFactory(role="officer")
    now = timezone.now()
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=now - timedelta(hours=1)
    )
    p = Ping.objects.create(
        officer=officer,
        session=session,
        client_uuid=uuid.uuid4(),
        recorded_at=now,
        received_at=now,
        lat=25.8,
        lon=-80.21,
        accuracy_m=5,
    )
    assert (
        admin_client.get("/admin/patrols/ping/", {"officer__id__exact": officer.pk}).status_code
        == 200
    )
    assert admin_client.get(f"/admin/patrols/ping/{p.pk}/change/").status_code == 200
    events = list(AuditEvent.objects.filter(action="track.read.admin").order_by("id"))
    assert [e.subject for e in events] == [officer, officer]
    assert admin_client.post(f"/admin/patrols/ping/{p.pk}/change/", {}).status_code == 403


def test_reading_an_activitys_position_in_the_admin_is_audited(admin_client: Client) -> None:
    from backend.patrols.models import ActivityType

    officer = UserFactory(role="officer")
    now = timezone.now()
    activity = Activity.objects.create(
        officer=officer,
        client_uuid=uuid.uuid4(),
        kind=ActivityType.objects.first(),
        recorded_at=now,
        received_at=now,
        lat=25.8,
        lon=-80.21,
    )
    page = admin_client.get(f"/admin/patrols/activity/{activity.pk}/change/")
    assert page.status_code == 200 and "25.8" in page.content.decode()
    event = AuditEvent.objects.get(action="track.read.admin")
    assert (event.subject, event.after) == (officer, {"filters": {"activity": str(activity.pk)}})
    assert admin_client.get("/admin/patrols/visit/").status_code == 200
    assert AuditEvent.objects.filter(action="track.read.admin").count() == 2
