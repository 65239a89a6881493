"""The officer phone app (/app/): start a patrol, be seen inside a hot spot, draw and accept a
hot spot, log an activity, end the patrol; and pings queued offline are delivered once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect
from shapely.geometry import box, mapping

from backend.accounts.models import Role
from backend.analytics.projection import LocalProjection
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from backend.missions.models import Mission
from backend.patrols.models import Activity, PatrolSession, Ping
from tests.e2e.conftest import screenshot
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PROJ = LocalProjection(25.80, -80.21)
HERE = {"latitude": 25.80, "longitude": -80.21}  # the centre of hot spot 1
# Chromium logs these for answers the app expects: not being on patrol yet (404) and requests
# made while the test has the network off. Anything else (a CSP violation, a script error) fails.
EXPECTED_ERRORS = ("status of 404", "net::ERR_INTERNET_DISCONNECTED")


def make_hotspots() -> list[Hotspot]:
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of=date(2026, 11, 20), weights_version=version, is_active=True, status="done"
    )
    spots = []
    for rank, (x, y) in enumerate([(0, 0), (400, 300), (-500, 200)], start=1):
        square = PROJ.geometry_to_lonlat(box(x - 75, y - 75, x + 75, y + 75))
        lat, lon = PROJ.to_latlon(float(x), float(y))
        briefing = {
            "headline": f"Hot spot {rank}",
            "one_line": f"Robberies near stop {rank}",
            "why_here": "12 robberies in a year within 150 m.",
            "why_now": "Most happen on Friday evenings.",
            "tactics": ["Stand at the bus stop", "Talk to the shop owners"],
        }
        spot = Hotspot.objects.create(
            run=run,
            rank=rank,
            geometry=mapping(square),
            centroid_lat=float(lat),
            centroid_lon=float(lon),
            harm=10.0 / rank,
            incident_count=5,
            gi_z_max=3,
            briefing=briefing,
        )
        spots.append(spot)
    return spots


@pytest.fixture
def app_page(browser: Any, live_server: Any) -> Iterator[tuple[Any, Any, list[str]]]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        geolocation=HERE,
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield context, page, errors
    context.close()


def wait_until(page: Any, check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll ``check`` (a database query) while the browser keeps running."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(200)


def unsent(page: Any) -> int:
    return int(page.locator("#st-unsent").get_attribute("data-count"))


def open_app(page: Any, base: str) -> None:
    page.goto(f"{base}/app/?flush=500")
    assert "/login/?next=/app/" in page.url  # the app needs a signed-in officer
    page.get_by_label("Username").fill("off")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/app/?flush=500")
    page.wait_for_selector("body[data-ready='1']")


def unexpected(errors: list[str], *also: str) -> list[str]:
    return [e for e in errors if not any(s in e for s in (*EXPECTED_ERRORS, *also))]


def test_an_officer_patrols_draws_accepts_logs_and_ends(live_server: Any, app_page: Any) -> None:
    _, page, errors = app_page
    spots = make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER, first_name="Luis")
    open_app(page, live_server.url)
    assert page.locator("#st-patrol").inner_text() == "Off patrol"
    assert page.get_by_role("button", name="Next hot spot").is_hidden()
    screenshot(page, "patrol-app-off")

    page.get_by_role("button", name="Start patrol").click()
    session = wait_until(
        page, lambda: PatrolSession.objects.filter(officer=officer).first(), "the session"
    )
    assert session.ended_at is None
    expect(page.locator("#st-spot")).to_have_text("Inside hot spot 1", timeout=10000)
    assert page.locator("#st-patrol").inner_text() == "On patrol"
    wait_until(page, lambda: Ping.objects.filter(officer=officer).exists(), "a ping")
    assert page.locator("#nearby-list li").count() == 3
    assert "visit due" in page.locator("#nearby-list li").first.inner_text()
    # A nearby hot spot opens its briefing and navigation; the map shows all three.
    page.locator("#nearby-list button").nth(1).click()
    expect(page.locator("#spot")).to_be_visible()
    second = spots[1]
    assert page.locator("#spot-title").inner_text() == "Hot spot 2"
    expect(page.locator("#spot-why")).to_have_text("12 robberies in a year within 150 m.")
    assert (
        page.locator("#spot-nav")
        .get_attribute("href")
        .startswith(f"geo:{second.centroid_lat:.6f},{second.centroid_lon:.6f}?q=")
    )
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Show on map").click()
    # three hot spot polygons and the officer's dot
    expect(page.locator("#near-map path.leaflet-interactive")).to_have_count(4)
    page.get_by_role("button", name="Hide the map").click()

    page.get_by_role("button", name="Next hot spot").click()
    page.wait_for_selector("#card:not([hidden])")
    mission = wait_until(
        page, lambda: Mission.objects.filter(officer=officer, source="draw").first(), "a draw"
    )
    assert mission.hotspot_id in {s.pk for s in spots}
    assert page.locator("#card-rank").inner_text() == str(mission.hotspot.rank)
    assert "Friday evenings" in page.locator("#card-why-now").inner_text()
    page.wait_for_selector("#card-map path.leaflet-interactive")  # the polygon on the map
    screenshot(page, "patrol-app-card")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "patrol-app-card-dark")
    page.emulate_media(color_scheme="light")

    page.get_by_role("button", name="Accept").click()
    wait_until(
        page,
        # inside the drawn hot spot already, acceptance is followed at once by the arrival
        lambda: Mission.objects.get(pk=mission.pk).status in ("accepted", "on_scene"),
        "the acceptance",
    )
    if mission.hotspot.rank == 1:  # the officer stands in it: arrival is automatic
        wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "on_scene", "arrival")
        expect(page.get_by_role("button", name="Done")).to_be_visible()
    else:
        assert page.get_by_role("button", name="Arrived").is_visible()

    page.get_by_role("button", name="Community contact").click()
    activity = wait_until(
        page, lambda: Activity.objects.filter(officer=officer).first(), "the activity"
    )
    assert activity.kind.code == "community-contact"
    assert activity.mission_id == mission.pk
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0")
    screenshot(page, "patrol-app-on-patrol")

    page.get_by_role("button", name="End patrol").click()
    wait_until(
        page, lambda: PatrolSession.objects.get(pk=session.pk).ended_at is not None, "the end"
    )
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0")
    assert page.locator("#st-patrol").inner_text() == "Off patrol"
    assert page.locator("#failed").is_hidden()
    screenshot(page, "patrol-app-ended")
    # The service worker took control of the page (the app shell is cached).
    # (page.evaluate, not wait_for_function: the page's CSP forbids the latter's eval.)
    wait_until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"), "SW")
    assert unexpected(errors) == []

    # A write the server refuses with a 4xx (here an unknown activity) is not retried forever:
    # it moves to the visible "failed" list, and the unsent count does not include it.
    page.evaluate(
        """async () => {
            const outbox = await import("/static/app/js/outbox.js");
            await outbox.enqueue("activity", {client_uuid: crypto.randomUUID(),
                kind: "no-such-kind", recorded_at: new Date().toISOString()});
            await outbox.flush({force: true});
        }"""
    )
    expect(page.locator("#failed")).to_be_visible()
    assert page.locator("#failed-list li").count() == 1
    assert "unknown activity" in page.locator("#failed-list").inner_text()
    screenshot(page, "patrol-app-failed")
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0")
    assert Activity.objects.filter(officer=officer).count() == 1


def test_pings_queued_offline_are_delivered_once_back_online(
    live_server: Any, app_page: Any
) -> None:
    context, page, errors = app_page
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    open_app(page, live_server.url)
    page.get_by_role("button", name="Start patrol").click()
    wait_until(page, lambda: Ping.objects.filter(officer=officer).exists(), "the first ping")
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0")
    delivered_before = Ping.objects.filter(officer=officer).count()

    context.set_offline(True)
    for step in range(1, 5):  # walk 40 m east at a time: each fix is a new ping
        lat, lon = PROJ.to_latlon(40.0 * step, 0.0)
        context.set_geolocation({"latitude": float(lat), "longitude": float(lon)})
        page.wait_for_timeout(400)
    wait_until(page, lambda: unsent(page) >= 4, "four queued pings")
    queued = unsent(page)
    page.wait_for_timeout(1500)  # flushes fail meanwhile and back off; nothing is lost
    assert unsent(page) == queued
    assert page.locator("#st-net").is_visible()
    screenshot(page, "patrol-app-offline")
    # Reopened without a network, the app comes from the service worker's cache and the queue
    # from IndexedDB: still on patrol, nothing lost.
    wait_until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"), "SW")
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#st-patrol").inner_text() == "On patrol"
    assert unsent(page) >= queued
    queued = unsent(page)

    context.set_offline(False)
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0", timeout=15000)
    pings = Ping.objects.filter(officer=officer)
    assert pings.count() == delivered_before + queued
    assert pings.values("client_uuid").distinct().count() == pings.count()
    assert page.locator("#failed").is_hidden()
    assert unexpected(errors, "status of 503") == []  # 503: the worker's "you are offline"
