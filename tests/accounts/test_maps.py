"""Maps: one configuration from settings, GeoDjango's libraries found, drawn shapes checked,
and the admin's map forms for districts, beats and hand-drawn hot spots."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from backend.accounts.maps import map_config, polygon_check
from backend.accounts.models import Beat, District, Role
from backend.audit.models import AuditEvent
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from tests.factories import DistrictFactory, UserFactory

W, E, S, N = -80.22, -80.20, 25.79, 25.81
SQUARE = {"type": "Polygon", "coordinates": [[[W, S], [E, S], [E, N], [W, N], [W, S]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[W, S], [E, N], [E, S], [W, N], [W, S]]]}
FAR_AWAY = {  # Chicago, 1,900 km from the demo agency
    "type": "Polygon",
    "coordinates": [[[-87.7, 41.8], [-87.6, 41.8], [-87.6, 41.9], [-87.7, 41.9], [-87.7, 41.8]]],
}


def test_geodjango_loads_gdal_and_geos_without_a_system_package() -> None:
    from django.contrib.gis.gdal import gdal_version
    from django.contrib.gis.geos import GEOSGeometry, geos_version

    assert gdal_version() and geos_version()
    assert GEOSGeometry(json.dumps(SQUARE)).valid


def test_map_config_comes_from_leaflet_config(settings: Any) -> None:
    settings.LEAFLET_CONFIG = {
        **settings.LEAFLET_CONFIG,
        "TILES": [
            (
                "Streets",
                "https://tiles.example.org/{z}/{x}/{y}.png",
                {"attribution": "© Example", "maxZoom": 17},
            )
        ],
    }
    cfg = map_config()
    assert cfg["tiles"] == [
        {
            "url": "https://tiles.example.org/{z}/{x}/{y}.png",
            "attribution": "© Example",
            "max_zoom": 17,
        }
    ]
    west, south, east, north = cfg["extent"]
    assert west < -80.21 < east and south < 25.80 < north  # the agency area round its origin


def settings_in_a_fresh_process(**env: str) -> dict[str, Any]:
    """LEAFLET_CONFIG, the CSP's img-src and the GDAL/GEOS paths as a process started with
    ``env`` (and no PRESENCE_TILE_* or *_LIBRARY_PATH of the caller's) computes them."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    drop = {
        "PRESENCE_TILE_URL",
        "PRESENCE_TILE_ATTRIBUTION",
        "PRESENCE_TILE_MAX_ZOOM",
        "GDAL_LIBRARY_PATH",
        "GEOS_LIBRARY_PATH",
    }
    code = (
        "import json; from backend.config import settings as s; print(json.dumps({"
        "'tiles': s.LEAFLET_CONFIG['TILES'], 'extent': s.LEAFLET_CONFIG['SPATIAL_EXTENT'], "
        "'img': s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'], "
        "'gdal': s.GDAL_LIBRARY_PATH, 'geos': s.GEOS_LIBRARY_PATH}))"
    )
    base = {k: v for k, v in os.environ.items() if k not in drop}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(out.stdout))


def test_default_tiles_are_openstreetmap_with_its_attribution_and_the_csp_allows_them() -> None:
    got = settings_in_a_fresh_process()
    [[_name, url, opts]] = got["tiles"]
    assert url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "OpenStreetMap" in opts["attribution"] and opts["maxZoom"] == 19
    assert "https://tile.openstreetmap.org" in got["img"]
    assert got["gdal"] and got["geos"]  # found without any setting


def test_a_tile_setting_changes_every_map_and_none_turns_tiles_off() -> None:
    got = settings_in_a_fresh_process(
        PRESENCE_TILE_URL="https://tiles.example.org/{z}/{x}/{y}.png",
        PRESENCE_TILE_ATTRIBUTION="© Example",
        PRESENCE_TILE_MAX_ZOOM="17",
    )
    [[_name, url, opts]] = got["tiles"]
    assert (url, opts["attribution"], opts["maxZoom"]) == (
        "https://tiles.example.org/{z}/{x}/{y}.png",
        "© Example",
        17,
    )
    assert "https://tiles.example.org" in got["img"]
    assert settings_in_a_fresh_process(PRESENCE_TILE_URL="none")["tiles"] == []


def test_a_valid_square_inside_the_agency_area_passes() -> None:
    geojson, geom = polygon_check(SQUARE)
    assert geojson == SQUARE and geom.is_valid


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (BOWTIE, "crosses itself"),
        (FAR_AWAY, "outside the agency area"),
        ({"type": "Point", "coordinates": [-80.2, 25.8]}, "must be a polygon"),
        ("{not json", "not valid GeoJSON"),
        ({"type": "Polygon", "coordinates": [[[1, 2], [3]]]}, "not valid GeoJSON"),
    ],
)
def test_a_bad_shape_is_refused_with_a_message_that_says_why(shape: Any, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        polygon_check(shape, what="The boundary")
    assert message in exc.value.messages[0]
    assert exc.value.messages[0].startswith("The boundary")


@pytest.fixture
def admin_client(db: None) -> Client:
    client = Client()
    user = UserFactory(username="root", role=Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def test_the_district_admin_renders_django_leaflets_map_widget(admin_client: Client) -> None:
    page = admin_client.get("/admin/accounts/district/add/").content.decode()
    assert "leaflet/leaflet.js" in page and "leaflet/leaflet.forms.js" in page
    assert 'id="id_boundary-map"' in page
    assert "js/map-admin.js" in page


def test_a_district_drawn_in_the_admin_is_saved_with_its_bbox_and_audited(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        "/admin/accounts/district/add/",
        {"name": "North", "code": "north", "boundary": json.dumps(SQUARE)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    d = District.objects.get(code="north")
    assert d.boundary == SQUARE
    assert (d.min_lon, d.min_lat, d.max_lon, d.max_lat) == (-80.22, 25.79, -80.20, 25.81)
    assert AuditEvent.objects.filter(action="district.create").count() == 1


@pytest.mark.parametrize(
    ("shape", "message"), [(BOWTIE, "crosses itself"), (FAR_AWAY, "outside the agency area")]
)
def test_the_admin_refuses_an_invalid_or_distant_district(
    admin_client: Client, shape: dict[str, Any], message: str
) -> None:
    response = admin_client.post(
        "/admin/accounts/district/add/",
        {"name": "Bad", "code": "bad", "boundary": json.dumps(shape)},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not District.objects.filter(code="bad").exists()


def test_a_beat_drawn_in_the_admin_is_saved(admin_client: Client) -> None:
    district = DistrictFactory()
    response = admin_client.post(
        "/admin/accounts/beat/add/",
        {"district": district.pk, "name": "Beat 1", "code": "b1", "boundary": json.dumps(SQUARE)},
    )
    assert response.status_code == 302
    assert Beat.objects.get(code="b1").boundary == SQUARE


def test_a_hand_drawn_hotspot_joins_the_active_analysis_flagged_and_ranked_last(
    admin_client: Client,
) -> None:
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run = AnalysisRun.objects.create(
        as_of="2026-01-01", weights_version=version, is_active=True, status="done"
    )
    Hotspot.objects.create(
        run=run,
        rank=1,
        geometry=SQUARE,
        centroid_lat=25.8,
        centroid_lon=-80.21,
        harm=5,
        incident_count=2,
        gi_z_max=3,
    )
    response = admin_client.post(
        "/admin/hotspots/handdrawnhotspot/add/",
        {"geometry": json.dumps(SQUARE), "note": "Known drug market behind the mall"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    drawn = Hotspot.objects.get(hand_drawn=True)
    assert (drawn.run_id, drawn.rank, drawn.harm) == (run.pk, 2, 0.0)
    assert drawn.briefing["hand_drawn"] is True
    assert abs(drawn.centroid_lat - 25.80) < 1e-9
    assert AuditEvent.objects.filter(action="hotspot.draw").count() == 1


def test_a_hand_drawn_hotspot_needs_a_published_analysis(admin_client: Client) -> None:
    response = admin_client.post(
        "/admin/hotspots/handdrawnhotspot/add/", {"geometry": json.dumps(SQUARE), "note": ""}
    )
    assert response.status_code == 200
    assert "publish one before drawing" in response.content.decode()


def test_the_phone_app_page_carries_the_same_map_configuration(db: None, settings: Any) -> None:
    settings.LEAFLET_CONFIG = {
        **settings.LEAFLET_CONFIG,
        "TILES": [("Streets", "https://tiles.example.org/{z}/{x}/{y}.png", {"maxZoom": 18})],
    }
    client = Client()
    client.force_login(UserFactory(role=Role.OFFICER))
    page = client.get("/app/").content.decode()
    start = page.index('id="presence-map-config">') + len('id="presence-map-config">')
    config = json.loads(page[start : page.index("</script>", start)])
    assert config == map_config()
    assert config["tiles"][0]["url"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert "/static/leaflet/leaflet.js" in page and "/static/js/map-base.js" in page


def test_one_copy_of_leaflet_django_leaflets_serves_every_page_and_the_phone() -> None:
    import subprocess

    from django.contrib.staticfiles import finders

    from tests.conftest import REPO

    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [f for f in tracked if f.endswith(("leaflet.js", "leaflet.css"))] == []
    assert "site-packages/leaflet/static" in str(finders.find("leaflet/leaflet.js"))
    from django.test import Client

    sw = Client().get("/app/sw.js").content.decode()  # the shell list is filled in when served
    assert '"/static/leaflet/leaflet.js"' in sw and '"/static/js/map-base.js"' in sw
