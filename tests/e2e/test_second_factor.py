"""A sergeant's first sign-in in a real browser: password, the enrolment page's QR code and
secret, a code from the secret, the recovery codes once, then the landing page; no script or CSP
errors on the way."""

from __future__ import annotations

import time
from base64 import b32decode
from typing import Any

import pytest

from backend.accounts.models import Role
from tests.e2e.conftest import screenshot
from tests.factories import UserFactory, totp_code

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_sergeant_enrols_an_authenticator_on_first_sign_in(
    live_server: Any, desktop: Any
) -> None:
    UserFactory(username="sarge", role=Role.SERGEANT, first_name="Dana")
    errors: list[str] = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desktop.on("pageerror", lambda exc: errors.append(str(exc)))

    desktop.goto(f"{live_server.url}/login/")
    desktop.get_by_label("Username").fill("sarge")
    desktop.get_by_label("Password").fill("correct-horse-battery")
    desktop.get_by_role("button", name="Sign in").click()
    desktop.wait_for_url(lambda url: "/login/enrol/" in url)
    qr = desktop.locator("figure.qr svg")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 2  # a square to scan
    screenshot(desktop, "second-factor-enrol")

    secret = desktop.locator("#secret").inner_text().replace(" ", "")
    desktop.get_by_label("Code").fill(totp_code(b32decode(secret), time.time()))
    desktop.get_by_role("button", name="Confirm").click()
    desktop.get_by_role("heading", name="Your recovery codes").wait_for()
    assert desktop.locator(".recovery-codes li").count() == 10
    desktop.get_by_role("link", name="Continue").click()
    desktop.wait_for_url(f"{live_server.url}/")
    assert desktop.get_by_role("heading", name="Good to see you, Dana").is_visible()
    assert errors == []
