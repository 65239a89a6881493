"""The admin's django-leaflet map widgets in Chromium: a polygon drawn on the map is saved; a
self-intersecting one is refused with a message; with no tiles the map says so."""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.models import Beat, District, Role
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from tests.e2e.conftest import enter_second_factor, prepare_second_factor, screenshot
from tests.factories import DistrictFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Pixel offsets from the map's centre, below the draw toolbar's action bar (Finish / Delete last
# point / Cancel), which a click there would hit instead of the map.
SQUARE_PX = [(-40, 20), (150, 20), (150, 160), (-40, 160)]
BOWTIE_PX = [(-40, 20), (150, 160), (150, 20), (-40, 160)]


def sign_in_admin(page: Any, base: str) -> None:
    UserFactory(username="root", role=Role.ADMIN, is_staff=True, is_superuser=True)
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "correct-horse-battery")
    device = prepare_second_factor("root")
    page.click("input[type=submit]")
    enter_second_factor(page, device)
    page.wait_for_url(f"{base}/admin/")


def draw(page: Any, map_id: str, offsets: list[tuple[int, int]]) -> None:
    """Draw a polygon with Leaflet.draw's toolbar: corners at pixel offsets from the centre,
    closed by clicking the first corner again."""
    page.wait_for_selector(f"#{map_id} .leaflet-draw-draw-polygon")
    page.click(f"#{map_id} .leaflet-draw-draw-polygon")
    box = page.locator(f"#{map_id}").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in [*offsets, offsets[0]]:
        # Leaflet.draw places a corner where the last mousemove was, on mouseup.
        page.mouse.move(cx + dx, cy + dy, steps=4)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(300)


def test_a_district_drawn_on_the_admin_map_is_saved(live_server: Any, desktop: Any) -> None:
    errors: list[str] = []
    desktop.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    desktop.on("pageerror", lambda e: errors.append(str(e)))
    missing: list[str] = []
    desktop.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    sign_in_admin(desktop, live_server.url)
    desktop.goto(f"{live_server.url}/admin/accounts/district/add/")
    # The widget drew its map with django-leaflet's Leaflet, and says there are no streets.
    desktop.wait_for_selector("#id_boundary-map.leaflet-container")
    assert "Streets unavailable" in desktop.locator(".map-notice").inner_text()
    desktop.fill("#id_name", "Drawn North")
    desktop.fill("#id_code", "drawn-north")
    draw(desktop, "id_boundary-map", SQUARE_PX)
    screenshot(desktop, "admin-district-drawn")
    desktop.click("input[name=_save]")
    desktop.wait_for_url(f"{live_server.url}/admin/accounts/district/")
    d = District.objects.get(code="drawn-north")
    assert d.boundary["type"] in {"Polygon", "MultiPolygon"}
    assert d.min_lon < -80.21 < d.max_lon or d.min_lon < d.max_lon  # a real area was drawn
    # No CSP violation (the widget's inline script carries the nonce), no script error, and no
    # missing file but the favicon the admin does not declare.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
    assert [u for u in missing if not u.endswith("/favicon.ico")] == []


def test_a_self_intersecting_beat_is_refused_and_a_valid_one_saved(
    live_server: Any, desktop: Any
) -> None:
    district = DistrictFactory(name="Central", code="central")
    sign_in_admin(desktop, live_server.url)
    desktop.goto(f"{live_server.url}/admin/accounts/beat/add/")
    desktop.wait_for_selector("#id_boundary-map.leaflet-container")
    desktop.select_option("#id_district", str(district.pk))
    desktop.fill("#id_name", "Beat 7")
    desktop.fill("#id_code", "beat-7")
    draw(desktop, "id_boundary-map", BOWTIE_PX)
    desktop.click("input[name=_save]")
    desktop.wait_for_selector(".errorlist")
    assert "crosses itself" in desktop.locator(".errorlist").first.inner_text()
    assert not Beat.objects.exists()
    screenshot(desktop, "admin-beat-refused")
    # The refused shape is back on the map: clear it with the draw toolbar, draw a square, save.
    desktop.click("#id_boundary-map .leaflet-draw-edit-remove")
    desktop.get_by_text("Clear All").click()
    draw(desktop, "id_boundary-map", SQUARE_PX)
    desktop.click("input[name=_save]")
    desktop.wait_for_url(f"{live_server.url}/admin/accounts/beat/")
    beat = Beat.objects.get(code="beat-7")
    assert beat.district_id == district.pk and beat.min_lon < beat.max_lon


def test_a_hand_drawn_hotspot_drawn_on_the_admin_map_is_saved(
    live_server: Any, desktop: Any
) -> None:
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    AnalysisRun.objects.create(
        as_of="2026-01-01", weights_version=version, is_active=True, status="done"
    )
    sign_in_admin(desktop, live_server.url)
    desktop.goto(f"{live_server.url}/admin/hotspots/handdrawnhotspot/add/")
    desktop.wait_for_selector("#id_geometry-map.leaflet-container")
    desktop.fill("#id_note", "Car park behind the mall")
    draw(desktop, "id_geometry-map", SQUARE_PX)
    desktop.click("input[name=_save]")
    desktop.wait_for_url(f"{live_server.url}/admin/hotspots/handdrawnhotspot/")
    spot = Hotspot.objects.get(hand_drawn=True)
    assert spot.geometry["type"] == "Polygon" and spot.note == "Car park behind the mall"
