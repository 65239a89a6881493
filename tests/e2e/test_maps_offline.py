"""A map whose tiles cannot load (offline, blocked) still draws its shapes and says that
streets are unavailable."""

from __future__ import annotations

from typing import Any

import pytest

from backend.accounts.models import Role
from backend.accounts.services import district_upsert
from tests.e2e.conftest import screenshot
from tests.e2e.test_web_shell import RING, sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_with_tiles_that_fail_the_district_map_still_draws_and_says_streets_are_unavailable(
    live_server: Any, desktop: Any, settings: Any
) -> None:
    # A tile server on this machine that answers 404 for every tile: what a blocked or
    # unreachable server looks like to the page, with no traffic leaving the machine.
    settings.LEAFLET_CONFIG = {
        **settings.LEAFLET_CONFIG,
        "TILES": [("Streets", "/no-tiles/{z}/{x}/{y}.png", {"attribution": "Test tiles"})],
    }
    district_upsert(
        name="Downtown", code="downtown", boundary={"type": "Polygon", "coordinates": [RING]}
    )
    UserFactory(username="sup", role=Role.SUPERVISOR)
    sign_in(desktop, live_server.url, "sup", "correct-horse-battery")
    desktop.wait_for_selector("#district-map path.leaflet-interactive")
    notice = desktop.locator("#district-map .map-notice")
    notice.wait_for()
    assert notice.inner_text().startswith("Streets unavailable (offline or blocked)")
    attribution = desktop.locator("#district-map .leaflet-control-attribution").inner_text()
    assert "Test tiles" in attribution
    screenshot(desktop, "district-map-without-tiles")
