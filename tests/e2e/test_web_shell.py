"""A real browser signs in, lands on its role's page and sees the district map draw."""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.models import Role
from backend.accounts.services import district_upsert
from tests.e2e.conftest import enter_second_factor, prepare_second_factor, screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

RING = [[-80.2, 25.765], [-80.186, 25.765], [-80.185, 25.79], [-80.2, 25.79], [-80.2, 25.765]]


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    device = prepare_second_factor(username)
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if password == "correct-horse-battery":
        enter_second_factor(page, device)


def test_a_supervisor_signs_in_sees_their_areas_and_the_district_map(
    live_server: Any, desktop: Any
) -> None:
    district_upsert(
        name="Downtown", code="downtown", boundary={"type": "Polygon", "coordinates": [RING]}
    )
    UserFactory(username="sup", role=Role.SUPERVISOR, first_name="Rosa")
    errors: list[str] = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    sign_in(desktop, live_server.url, "sup", "correct-horse-battery")
    desktop.wait_for_url(f"{live_server.url}/")
    assert desktop.get_by_role("heading", name="Good to see you, Rosa").is_visible()
    assert desktop.get_by_role("heading", name="Daily snapshot").is_visible()
    assert desktop.get_by_role("heading", name="Incident imports").count() == 0
    # Leaflet drew the district polygon as an SVG path and labelled it.
    desktop.wait_for_selector("#district-map path.leaflet-interactive")
    assert desktop.locator(".district-label").inner_text() == "Downtown"
    screenshot(desktop, "landing-supervisor")
    assert errors == []  # no CSP violations, no script errors


def test_an_officer_on_a_phone_signs_in_and_out(live_server: Any, phone: Any) -> None:
    UserFactory(username="off", role=Role.OFFICER, first_name="Luis")
    sign_in(phone, live_server.url, "off", "wrong-password")
    assert phone.get_by_role("alert").inner_text().startswith("Your username and password")
    sign_in(phone, live_server.url, "off", "correct-horse-battery")
    # An officer lands in the phone app, not on the desktop start page.
    phone.wait_for_url(f"{live_server.url}/app/")
    assert phone.get_by_role("button", name="Start patrol").is_visible()
    screenshot(phone, "landing-officer-phone")
    phone.get_by_role("button", name="Sign out").click()
    phone.wait_for_url(f"{live_server.url}/login/")
