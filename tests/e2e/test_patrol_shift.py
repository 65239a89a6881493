"""A whole patrol on the phone under Playwright's clock, with emulated geolocation: three taps to
a drawn hot spot, a walk there, 15 minutes on scene against the timer, an activity logged and
undone, "Done"; then what the server measured. And "Done" after a minute is short, not dose.

The page's clock starts 40 minutes in the past, so that the phone's times (pings, mission steps)
never run ahead of the server's while the test moves page time forward by the quarter hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import expect

from backend.accounts.models import Role
from backend.missions.models import Mission
from backend.missions.selectors import mission_deliveries
from backend.patrols.models import Activity, PatrolSession, Ping, Visit
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_patrol_app import PROJ, make_hotspots, open_app, unexpected, wait_until
from tests.factories import SquadFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0 Mobile Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
# navigator.vibrate records its calls (headless Chromium has no vibration motor).
VIBRATE_SPY = (
    "window.__buzz = []; navigator.vibrate = (p) => { window.__buzz.push(p); return true; };"
)
START_XY = (0.0, -400.0)  # 400 m south of hot spot 1, outside every hot spot


def latlon(x: float, y: float) -> dict[str, float]:
    lat, lon = PROJ.to_latlon(x, y)
    return {"latitude": float(lat), "longitude": float(lon)}


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))  # the viewport: what the officer sees


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return (
        bool(box)
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and (box["x"] >= 0 and box["x"] + box["width"] <= size["width"])
    )


def advance(page: Any, seconds: int, step: int = 30, at: Any = None) -> None:
    """Move page time on by ``seconds`` in ``step``-second strides, letting each stride's
    position fixes and deliveries (real time in the browser) land before the next. With
    ``at`` (context, (x, y)), each stride starts with a fix 2 m either side of that point, as
    a standing officer's GPS drifts."""
    strides = [step] * (seconds // step) + ([seconds % step] if seconds % step else [])
    for i, stride in enumerate(strides):
        if at is not None:
            context, (x, y) = at
            context.set_geolocation(latlon(x + (2.0 if i % 2 else -2.0), y))
            page.wait_for_timeout(60)
        page.clock.run_for(stride * 1000)
        page.wait_for_timeout(60)


def walk(
    context: Any, page: Any, frm: tuple[float, float], to: tuple[float, float], steps: int
) -> None:
    for i in range(1, steps + 1):
        f = i / steps
        context.set_geolocation(
            latlon(frm[0] + (to[0] - frm[0]) * f, frm[1] + (to[1] - frm[1]) * f)
        )
        advance(page, 20, 20)


def phone(
    browser: Any, ua: str, viewport: dict[str, int] | None = None
) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(
        viewport=viewport or {"width": 390, "height": 844},
        device_scale_factor=2,
        geolocation=latlon(*START_XY),
        permissions=["geolocation"],
        user_agent=ua,
    )
    context.add_init_script(VIBRATE_SPY)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.clock.install(time=datetime.now() - timedelta(minutes=40))
    return context, page, errors


def elapsed(page: Any) -> int:
    """Seconds on the on-scene timer ("07:42 of 15:00" is 462)."""
    mm, ss = page.locator("#scene-timer").inner_text().split(" ")[0].split(":")
    return int(mm) * 60 + int(ss)


def centre_xy(mission: Mission) -> tuple[float, float]:
    x, y = PROJ.to_xy(mission.hotspot.centroid_lat, mission.hotspot.centroid_lon)
    return float(x), float(y)


def three_taps(page: Any, officer: Any) -> Mission:
    """Start patrol -> Next hot spot -> (Navigate or) Accept; both primary buttons in view."""
    page.get_by_role("button", name="Start patrol").click()
    wait_until(page, lambda: Ping.objects.filter(officer=officer).exists(), "the first ping")
    page.get_by_role("button", name="Next hot spot").click()
    page.wait_for_selector("#card:not([hidden])")
    assert in_viewport(page, "#btn-nav") and in_viewport(page, "#btn-accept")
    return wait_until(page, lambda: Mission.objects.filter(officer=officer).first(), "the draw")


def overflowing(page: Any) -> list[str]:
    """Visible buttons and inputs whose right edge lies past the viewport, or a page that
    scrolls sideways."""
    return list(
        page.evaluate(
            """() => {
              const out = [];
              if (document.documentElement.scrollWidth > window.innerWidth) out.push("page");
              for (const el of document.querySelectorAll("button, a.btn, input, textarea")) {
                const r = el.getBoundingClientRect();
                if (r.width && r.right > window.innerWidth + 0.5) {
                  out.push(`${el.id || el.textContent.trim()} ends at ${Math.round(r.right)}`);
                }
              }
              return out;
            }"""
        )
    )


def test_a_whole_patrol_three_taps_fifteen_minutes_on_scene_undo_and_done(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    context, page, errors = phone(browser, ANDROID)
    open_app(page, live_server.url)
    mission = three_taps(page, officer)
    lat, lon = mission.hotspot.centroid_lat, mission.hotspot.centroid_lon
    at = f"{lat:.6f},{lon:.6f}"
    assert (
        page.locator("#btn-nav").get_attribute("href")
        == f"geo:{at}?q={at}(Hot%20spot%20{mission.hotspot.rank})"
    )
    assert page.locator("#card-address").inner_text() == f"{lat:.5f}, {lon:.5f}"  # no address yet
    shot(page, "app-after-draw-390x844")
    page.set_viewport_size({"width": 360, "height": 640})
    assert in_viewport(page, "#btn-nav") and in_viewport(page, "#btn-accept")
    shot(page, "app-after-draw-360x640")
    page.set_viewport_size({"width": 390, "height": 844})

    page.get_by_role("button", name="Accept").click()  # the third tap
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "accepted", "accept")
    # Outside: distance and direction, live. The hot spot lies north of the start.
    where = page.locator("#card-where").inner_text()
    assert "away" in where and "north" in where, where
    assert page.locator("#st-spot").inner_text() == "Not in a hot spot"

    centre = centre_xy(mission)
    walk(context, page, START_XY, centre, 4)  # 80 s of walking; the last fix is the centre
    # Inside, the status bar and the card agree (no "1.7 km away" beside "Inside hot spot").
    page.wait_for_selector("#scene:not([hidden])")
    assert page.locator("#st-spot").inner_text() == f"Inside hot spot {mission.hotspot.rank}"
    assert page.locator("#card-distance").inner_text() == "You are inside the hot spot"
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "on_scene", "arrival")

    here = (context, centre)
    advance(page, 5 * 60, at=here)
    assert page.locator("#scene-timer").inner_text().endswith(" of 15:00")
    # An enforcement action asks first; cancelled, nothing is queued.
    page.get_by_role("button", name="Arrest").click()
    assert page.locator("#act-confirm").is_visible()
    page.get_by_role("button", name="Cancel").click()
    page.get_by_label("Observation (optional), e.g. broken light").fill(
        "Broken light by the bus stop"
    )
    page.get_by_role("button", name="Community contact").click()
    activity = wait_until(
        page, lambda: Activity.objects.filter(officer=officer).first(), "activity"
    )
    assert activity.note == "Broken light by the bus stop"
    page.get_by_role("button", name="Undo").click()
    wait_until(page, lambda: not Activity.objects.filter(officer=officer).exists(), "the undo")
    assert page.locator("#act-done-text").inner_text() == "Undone: nothing was logged."

    advance(
        page, 15 * 60 - elapsed(page) - 15, at=here
    )  # up to a quarter of a minute short of 15:00
    assert 14 * 60 <= elapsed(page) < 15 * 60
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "app-on-scene-390x844")
    page.set_viewport_size({"width": 360, "height": 640})
    page.locator("#scene").scroll_into_view_if_needed()
    shot(page, "app-on-scene-360x640")
    # Nothing on the on-scene card (timer, activity buttons) reaches past a 360 px screen.
    assert overflowing(page) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("window.__buzz.length") == 0  # not before the target
    # The target counts once a fix inside confirms it (the server counts dwell between fixes).
    advance(page, 60, at=here)
    assert page.locator("#scene-timer").inner_text() == "15:00 of 15:00"
    assert page.evaluate("window.__buzz") == [[200, 100, 200]]
    assert "Move on" in page.locator("#scene-hint").inner_text()

    page.get_by_role("button", name="Done").click()
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "completed", "done")
    walk(context, page, centre, START_XY, 2)
    page.get_by_role("button", name="End patrol").click()
    wait_until(page, lambda: PatrolSession.objects.get(officer=officer).ended_at, "the end")
    page.wait_for_selector("#summary:not([hidden])")
    expect(page.locator("#sum-sync")).to_have_text("All synced")
    shot(page, "app-summary-390x844")
    page.set_viewport_size({"width": 360, "height": 640})
    page.locator("#summary").scroll_into_view_if_needed()
    shot(page, "app-summary-360x640")

    visits = list(Visit.objects.filter(officer=officer))
    assert len(visits) == 1 and visits[0].hotspot_id == mission.hotspot_id
    assert 14 * 60 <= visits[0].dwell_s <= 16 * 60, visits[0].dwell_s
    m = Mission.objects.get(pk=mission.pk)
    assert mission_deliveries([m])[m.pk].delivered
    assert Activity.objects.filter(officer=officer).count() == 0
    assert page.locator("#sum-visits").inner_text() == "1"
    assert unexpected(errors) == []


def test_done_after_one_minute_is_completed_but_short_on_the_board(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    sergeant = UserFactory(role=Role.SERGEANT)
    squad = SquadFactory(sergeant=sergeant)
    officer = UserFactory(username="off", role=Role.OFFICER, squad=squad)
    context, page, errors = phone(browser, IPHONE, {"width": 360, "height": 640})
    open_app(page, live_server.url)
    mission = three_taps(page, officer)
    lat, lon = mission.hotspot.centroid_lat, mission.hotspot.centroid_lon
    assert page.locator("#btn-nav").get_attribute("href") == (
        f"https://maps.apple.com/?daddr={lat:.6f},{lon:.6f}"
    )
    page.get_by_role("button", name="Accept").click()
    centre = centre_xy(mission)
    walk(context, page, START_XY, centre, 2)
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "on_scene", "arrival")
    advance(page, 90, at=(context, centre))  # fixes inside at 0, 30, 60 and 90 s: 90 s
    page.get_by_role("button", name="Done").click()
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "completed", "done")
    walk(context, page, centre, START_XY, 2)
    page.get_by_role("button", name="End patrol").click()
    wait_until(page, lambda: PatrolSession.objects.get(officer=officer).ended_at, "the end")
    wait_until(page, lambda: Visit.objects.filter(officer=officer).exists(), "the rollup")

    m = Mission.objects.get(pk=mission.pk)
    d = mission_deliveries([m])[m.pk]
    assert (m.status, d.delivered, d.outcome, d.dwell_minutes) == ("completed", False, "short", 1)
    board = Client()
    board.force_login(sergeant)
    html = board.get(reverse("missions:board") + f"?squad={squad.pk}").content.decode()
    assert "Completed · short · 1 min" in html
    assert unexpected(errors) == []
