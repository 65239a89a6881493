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
from backend.hotspots.models import AnalysisRun, HarmWeightVersion, Hotspot
from tests.factories import DistrictFactory, UserFactory

W, E, S, N = -80.22, -80.20, 25.79, 25.81
SQUARE = {"type": "Polygon", "coordinates": [[[W, S], [E, S], [E, N], [W, N], [W, S]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[W, S], [E, N], [E, S], [W, N], [W, S]]]}
FAR_AWAY = {  # Chicago, 1,900 km from the demo agency
    "type": "Polygon",
    "coordinates": [[[-87.7, 41.8], [-87.6, 41.8], [-87.6, 41.9], [-87.7, 41.9], [-87.7, 41.8]]],
}  # fmt: skip


def test_geodjango_loads_gdal_and_geos_without_a_system_package() -> None:
    from django.contrib.gis.gdal import gdal_version
    from django.contrib.gis.geos import GEOSGeometry, geos_version

    assert gdal_version() and geos_version()
    assert GEOSGeometry(json.dumps(SQUARE)).valid


def test_map_config_comes_from_leaflet_config(settings: Any) -> None:
    settings.LEAFLET_CONFIG = {
        **settings.LEAFLET_CONFIG,
        "TILES": [("Streets", "https://tiles.example.org/{z}/{x}/{y}.png",
                   {"attribution": "© Example", "maxZoom": 17})],
    }  # fmt: skip
    cfg = map_config()
    assert cfg["tiles"] == [
        {"url": "https://tiles.example.org/{z}/{x}/{y}.png", "attribution": "© Example",
         "max_zoom": 17}
    ]  # fmt: skip
    west, south, east, north = cfg["extent"]
    assert west < -80.21 < east and south < 25.80 < north  # the agency area round its origin


def test_default_tiles_are_openstreetmap_with_its_attribution() -> None:
    from backend.config import settings as module

    assert module.PRESENCE_TILE_URL == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    (_name, url, opts) = module.LEAFLET_CONFIG["TILES"][0]  # type: ignore[index]
    assert url == module.PRESENCE_TILE_URL and "OpenStreetMap" in opts["attribution"]
    assert opts["maxZoom"] == 19


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


@pytest.mark.parametrize(("shape", "message"), [(BOWTIE, "crosses itself"),
                                                (FAR_AWAY, "outside the agency area")])  # fmt: skip
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
    run = AnalysisRun.objects.create(as_of="2026-01-01", weights_version=version,
                                     is_active=True, status="done")  # fmt: skip
    Hotspot.objects.create(run=run, rank=1, geometry=SQUARE, centroid_lat=25.8,
                           centroid_lon=-80.21, harm=5, incident_count=2, gi_z_max=3)  # fmt: skip
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
