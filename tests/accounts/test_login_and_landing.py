"""Login works for every demo role, and the landing page shows each role only what it may use."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from backend.accounts.factor import factor_required
from backend.accounts.models import Role, User
from backend.audit.models import AuditEvent
from tests.factories import SquadFactory, UserFactory, next_totp_code, verified_totp_device

PASSWORD = "correct-horse-battery"

# What each role must see on its landing page, written out by hand from DESIGN.md's roles.
EXPECTED_AREAS = {
    Role.SERVICE: set(),  # a feed's account: API only
    Role.OFFICER: {"patrol", "my_missions"},
    Role.SERGEANT: {"patrol", "board", "menu", "hotspots", "compliance", "presence"},
    Role.SUPERVISOR: {
        "board",
        "menu",
        "hotspots",
        "experiments",
        "compliance",
        "presence",
        "impact",
        "snapshot",
        "workload",
        "api_docs",
        "audit",
    },
    Role.ANALYST: {
        "hotspots",
        "imports",
        "boundaries",
        "experiments",
        "compliance",
        "impact",
        "snapshot",
        "workload",
        "api_docs",
    },
    Role.ADMIN: {
        "patrol",
        "my_missions",
        "board",
        "menu",
        "hotspots",
        "imports",
        "boundaries",
        "experiments",
        "compliance",
        "presence",
        "impact",
        "snapshot",
        "workload",
        "api_docs",
        "audit",
        "admin",
    },
}


def areas_on_page(html: str) -> set[str]:
    return set(re.findall(r'data-area="([a-z_]+)"', html))


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the pages: the password, then, where the role asks for it, the code of
    the user's authenticator (made here if they have none). The last response is returned."""
    user = User.objects.filter(username=username).first()
    device = verified_totp_device(user) if user and factor_required(user) else None
    response = client.post(reverse("login"), {"username": username, "password": password})
    if device is not None and response.status_code == 302:
        verify = reverse("factor-verify")
        assert response["Location"].startswith(verify), response["Location"]
        query = response["Location"][len(verify) :]
        response = client.post(verify + query, {"code": next_totp_code(device)})
    return response


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_signs_in_and_sees_exactly_its_areas(client: Client, role: Role) -> None:
    UserFactory(username=f"u-{role}", role=role)
    response = login(client, f"u-{role}")
    assert response.status_code == 302
    # An officer lands in the phone app; every other role on the landing page.
    assert response["Location"] == ("/app/" if role == Role.OFFICER else reverse("home"))
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert areas_on_page(page.content.decode()) == EXPECTED_AREAS[role]


@pytest.mark.django_db
def test_the_demo_logins_work_for_every_role(client: Client) -> None:
    from django.core.management import call_command

    call_command("seed_demo", "--incidents=0", "--end=2026-01-01", stdout=io.StringIO())
    for username, role in [
        ("officer01", Role.OFFICER),
        ("sergeant2", Role.SERGEANT),
        ("supervisor", Role.SUPERVISOR),
        ("analyst", Role.ANALYST),
        ("admin", Role.ADMIN),
    ]:
        c = Client()
        assert login(c, username, "presence-demo").status_code == 302, username
        page = c.get(reverse("home")).content.decode()
        assert areas_on_page(page) == EXPECTED_AREAS[role], username


@pytest.mark.django_db
def test_an_officer_with_a_next_page_goes_there_and_signed_in_visits_to_login_go_to_the_app(
    client: Client,
) -> None:
    UserFactory(username="walker", role=Role.OFFICER)
    r = client.post(
        reverse("login") + "?next=/missions/mine/", {"username": "walker", "password": PASSWORD}
    )
    assert r["Location"] == "/missions/mine/"
    assert client.get(reverse("login"))["Location"] == "/app/"


@pytest.mark.django_db
def test_every_area_on_the_landing_page_links_to_its_page(client: Client) -> None:
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    html = client.get(reverse("home")).content.decode()
    snapshot = html.split('data-area="snapshot"')[1].split("</li>")[0]
    compliance = html.split('data-area="compliance"')[1].split("</li>")[0]
    assert f'href="{reverse("reports:snapshot")}"' in snapshot
    assert f'href="{reverse("reports:compliance")}"' in compliance
    assert "Not built yet" not in html


@pytest.mark.django_db
def test_a_wrong_password_is_refused_with_a_clear_message(client: Client) -> None:
    UserFactory(username="kim")
    response = login(client, "kim", "wrong")
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_five_failures_lock_the_username_even_with_the_right_password(client: Client) -> None:
    UserFactory(username="kim")
    for _ in range(5):
        login(client, "kim", "wrong")
    locked = login(Client(), "kim", PASSWORD)  # another device, right password
    assert locked.status_code == 429
    assert "Account locked" in locked.content.decode()
    # Another user at the same address is not affected: the lock is by username.
    UserFactory(username="lee")
    assert login(client, "lee").status_code == 302


@pytest.mark.django_db
def test_logout_is_a_post_and_ends_the_session(client: Client) -> None:
    client.force_login(UserFactory())
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_an_officer_gets_a_403_page_for_supervisor_reports(client: Client) -> None:
    client.force_login(UserFactory(role=Role.OFFICER))
    response = client.get(reverse("reports:snapshot"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_a_session_older_than_twelve_hours_is_ended(client: Client, settings: object) -> None:
    from backend.accounts.middleware import SESSION_STARTED_KEY

    client.force_login(UserFactory())
    session = client.session
    session[SESSION_STARTED_KEY] = 0  # 1970: far more than 12 h ago
    session.save()
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_api_me_and_token_authentication(client: Client) -> None:
    squad = SquadFactory(name="Alpha")
    UserFactory(username="ana", role=Role.OFFICER, squad=squad)
    token = client.post(reverse("api-token"), {"username": "ana", "password": PASSWORD}).json()[
        "token"
    ]
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get(reverse("api-me")).json()
    assert me["username"] == "ana"
    assert me["role"] == "officer"
    assert me["squad"] == "Alpha"
    assert Client().get(reverse("api-me")).status_code in {401, 403}


@pytest.mark.django_db
def test_squads_are_scoped_by_role(client: Client) -> None:
    alpha, bravo = SquadFactory(name="Alpha"), SquadFactory(name="Bravo")
    officer = UserFactory(role=Role.OFFICER, squad=bravo)

    def names(user: object) -> list[str]:
        c = Client()
        c.force_login(user)
        return [s["name"] for s in c.get(reverse("api-squads")).json()["results"]]

    assert names(officer) == ["Bravo"]
    assert names(alpha.sergeant) == ["Alpha"]
    assert names(UserFactory(role=Role.SUPERVISOR)) == ["Alpha", "Bravo"]


@pytest.mark.django_db
def test_districts_api_returns_geojson(client: Client) -> None:
    from backend.accounts.services import district_upsert

    ring = [[-80.2, 25.76], [-80.18, 25.76], [-80.18, 25.79], [-80.2, 25.79], [-80.2, 25.76]]
    district = district_upsert(
        name="Downtown", code="downtown", boundary={"type": "Polygon", "coordinates": [ring]}
    )
    client.force_login(UserFactory())
    fc = client.get(reverse("api-districts")).json()
    assert fc["type"] == "FeatureCollection"
    assert fc["features"][0]["id"] == "downtown"
    assert fc["features"][0]["geometry"]["coordinates"] == [ring]
    # The creation was audited exactly once, for this district; reading the API audits nothing.
    events = AuditEvent.objects.filter(object_id=str(district.pk), action__startswith="district.")
    assert list(events.values_list("action", "after__name")) == [("district.create", "Downtown")]
