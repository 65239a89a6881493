"""Compressed responses (issue 9, "Serving"): the app shell, a static file and an API answer
come gzipped to a client that asks for it, identical once decompressed; Leaflet only where a
map is shown."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory
from tests.missions.builders import city

pytestmark = pytest.mark.django_db
GZIP = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br"}


def body(response: object) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return response.content  # type: ignore[attr-defined]


def test_app_shell_static_file_and_api_are_gzipped_when_asked() -> None:
    officer = UserFactory(role="officer")
    client = Client()
    client.force_login(officer)

    shell = client.get("/app/", **GZIP)
    assert shell.status_code == 200 and shell["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in shell["Vary"]
    html = gzip.decompress(body(shell)).decode()
    assert 'id="presence-map-config"' in html and "</html>" in html
    plain = client.get("/app/")  # no Accept-Encoding: not compressed
    assert not plain.has_header("Content-Encoding") and b"</html>" in plain.content

    static = client.get("/static/js/map-base.js", **GZIP)
    assert static.status_code == 200 and static["Content-Encoding"] == "gzip"
    on_disk = (Path(settings.BASE_DIR) / "backend" / "static" / "js" / "map-base.js").read_bytes()
    assert gzip.decompress(body(static)) == on_disk
    assert len(body(client.get("/static/js/map-base.js", **GZIP))) < len(on_disk)

    city(n=5)  # five active hot spots: a JSON list well over GZipMiddleware's 200 bytes
    api = client.get("/api/v1/hotspots", **GZIP)
    assert api.status_code == 200 and api["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body(api)))["count"] == 5


def test_leaflet_loads_only_where_a_map_is_shown() -> None:
    supervisor = UserFactory(role="supervisor")
    client = Client()
    client.force_login(supervisor)
    # No districts yet: the home page shows no map, so no Leaflet.
    home = client.get("/").content.decode()
    assert "No districts have been set up yet" in home and "leaflet.js" not in home
    # No active hot spots: no map on the hot spots page.
    spots = client.get("/hotspots/").content.decode()
    assert "leaflet.js" not in spots
    # The board shows no map.
    sergeant = UserFactory(role="sergeant")
    client.force_login(sergeant)
    assert "leaflet" not in client.get("/missions/board/").content.decode()
