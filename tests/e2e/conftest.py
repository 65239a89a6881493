"""Playwright driving the machine's Chromium (Debian's package; no browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, require_service

SCREENSHOTS = REPO / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("PRESENCE_CHROMIUM") or shutil.which("chromium")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A Chromium for one test. Not session-scoped on purpose: Playwright's sync API keeps an
    event loop running in the main thread while it is open, and Django then hands that thread
    fresh database connections, which lack the serialized test data that transactional tests
    restore from (a later test would start with the migrations' reference rows missing)."""
    path = chromium_path()
    require_service(path is not None, "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls made
    # from a thread with a running loop unless told this is safe (it is: one test at a time).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def prepare_second_factor(username: str) -> Any:
    """Before a browser signs in as ``username``: give them an authenticator if their role needs
    one (so the sign-in asks for a code, not enrolment); None if it does not."""
    from backend.accounts.factor import factor_required
    from backend.accounts.models import User
    from tests.factories import verified_totp_device

    user = User.objects.get(username=username)
    return verified_totp_device(user) if factor_required(user) else None


def enter_second_factor(page: Any, device: Any) -> None:
    """On the code page after the password: type the authenticator's current code (computed
    from the device's key by ``tests.factories.totp_code``) and verify."""
    from tests.factories import next_totp_code

    if device is None:
        return
    page.wait_for_url(lambda url: "/login/code/" in url)
    page.get_by_label("Code").fill(next_totp_code(device))
    page.get_by_role("button", name="Verify").click()
