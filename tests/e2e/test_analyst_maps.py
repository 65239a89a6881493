"""The analysts' map pages in Chromium: a hot spot drawn on django-leaflet's (non-admin) widget is
saved, flagged as hand-drawn, with no CSP violation; a self-intersecting beat is refused at the
field and a square saved."""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.models import Beat, Role
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from tests.e2e.conftest import screenshot
from tests.e2e.test_admin_maps import BOWTIE_PX, SQUARE_PX, draw
from tests.e2e.test_reports_pages import console_errors, sign_in
from tests.factories import DistrictFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_an_analyst_draws_a_hot_spot_on_the_page_map_and_it_is_saved(
    live_server: Any, desktop: Any
) -> None:
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of="2026-01-01", weights_version=version, is_active=True, status="done"
    )
    UserFactory(username="ana", role=Role.ANALYST)
    errors = console_errors(desktop)
    sign_in(desktop, live_server.url, "ana", "/hotspots/hand-drawn/new/")
    desktop.wait_for_selector("#id_geometry-map.leaflet-container")
    desktop.fill("#id_note", "Car park behind the mall")
    draw(desktop, "id_geometry-map", SQUARE_PX)
    screenshot(desktop, "analyst-hotspot-drawn")
    desktop.get_by_role("button", name="Save hot spot").click()
    desktop.wait_for_url(f"{live_server.url}/hotspots/hand-drawn/")
    spot = Hotspot.objects.get(hand_drawn=True)
    assert spot.run_id == run.pk and spot.geometry["type"] == "Polygon"
    assert spot.note == "Car park behind the mall"
    assert "Car park behind the mall" in desktop.locator("table").inner_text()
    screenshot(desktop, "analyst-hotspot-list")
    # No CSP violation (the widget's inline script carries the nonce), no script error.
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def test_a_self_intersecting_beat_is_refused_on_the_page_and_a_square_saved(
    live_server: Any, desktop: Any
) -> None:
    district = DistrictFactory(name="Central", code="central")
    UserFactory(username="ana", role=Role.ANALYST)
    sign_in(desktop, live_server.url, "ana", f"/beats/new/?district={district.pk}")
    desktop.wait_for_selector("#id_boundary-map.leaflet-container")
    desktop.fill("#id_name", "Beat 7")
    desktop.fill("#id_code", "beat-7")
    draw(desktop, "id_boundary-map", BOWTIE_PX)
    desktop.get_by_role("button", name="Save beat").click()
    desktop.wait_for_selector("#id_boundary-errors")
    assert "crosses itself" in desktop.locator("#id_boundary-errors").inner_text()
    assert not Beat.objects.exists()
    screenshot(desktop, "analyst-beat-refused")
    desktop.click("#id_boundary-map .leaflet-draw-edit-remove")
    desktop.get_by_text("Clear All").click()
    draw(desktop, "id_boundary-map", SQUARE_PX)
    desktop.get_by_role("button", name="Save beat").click()
    desktop.wait_for_url(f"{live_server.url}/boundaries/")
    beat = Beat.objects.get(code="beat-7")
    assert beat.district_id == district.pk and beat.min_lon < beat.max_lon
