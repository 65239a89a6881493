"""The analysts' page for hand-drawn hot spots: a polygon drawn on django-leaflet's (non-admin)
map widget is saved through ``hotspot_hand_drawn_save`` (joins the active analysis, flagged,
audited); a self-intersecting or distant one is refused at the field and nothing is saved;
only analysts (and admins) may draw."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from backend.accounts.models import Role
from backend.audit.models import AuditEvent
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from tests.accounts.test_maps import BOWTIE, FAR_AWAY, SQUARE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW = "/hotspots/hand-drawn/new/"
LIST = "/hotspots/hand-drawn/"


def signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.fixture
def analyst() -> Client:
    return signed_in(Role.ANALYST)


@pytest.fixture
def run() -> AnalysisRun:
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
    return run


def test_the_page_renders_django_leaflets_widget_with_the_csp_nonce(
    analyst: Client, run: AnalysisRun
) -> None:
    response = analyst.get(NEW)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_geometry-map"' in page
    assert "leaflet/leaflet.js" in page and "leaflet/leaflet.forms.js" in page
    assert "leaflet/draw/leaflet.draw.js" in page and "js/map-admin.js" in page
    assert page.count("/static/leaflet/leaflet.js") == 1  # one Leaflet, the widget's
    # Every inline script carries the nonce the CSP header allows.
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]  # type: ignore[index]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline if "json" not in attrs)


def test_a_drawn_hotspot_is_saved_flagged_in_the_active_analysis_and_audited(
    analyst: Client, run: AnalysisRun
) -> None:
    response = analyst.post(NEW, {"geometry": json.dumps(SQUARE), "note": "Car park"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == LIST
    drawn = Hotspot.objects.get(hand_drawn=True)
    assert (drawn.run_id, drawn.rank, drawn.note, drawn.harm) == (run.pk, 2, "Car park", 0.0)
    assert drawn.geometry["type"] == "Polygon" and drawn.briefing["hand_drawn"] is True
    assert AuditEvent.objects.filter(action="hotspot.draw").count() == 1
    listing = analyst.get(LIST).content.decode()
    assert "Car park" in listing and f"/hotspots/hand-drawn/{drawn.pk}/edit/" in listing


def test_a_hand_drawn_hotspot_is_edited_on_its_page_and_the_edit_audited(
    analyst: Client, run: AnalysisRun
) -> None:
    analyst.post(NEW, {"geometry": json.dumps(SQUARE), "note": "Car park"})
    drawn = Hotspot.objects.get(hand_drawn=True)
    page = analyst.get(f"/hotspots/hand-drawn/{drawn.pk}/edit/").content.decode()
    assert "Car park" in page and 'id="id_geometry-map"' in page
    smaller = {
        "type": "Polygon",
        "coordinates": [
            [[-80.215, 25.795], [-80.205, 25.795], [-80.205, 25.805], [-80.215, 25.795]]
        ],
    }
    response = analyst.post(
        f"/hotspots/hand-drawn/{drawn.pk}/edit/",
        {"geometry": json.dumps(smaller), "note": "Car park, east side"},
    )
    assert response.status_code == 302
    drawn.refresh_from_db()
    assert drawn.note == "Car park, east side" and drawn.rank == 2
    assert drawn.geometry["coordinates"][0][0] == [-80.215, 25.795]
    assert AuditEvent.objects.filter(action="hotspot.redraw").count() == 1
    # A computed hot spot is not edited here.
    computed = Hotspot.objects.get(hand_drawn=False)
    assert analyst.get(f"/hotspots/hand-drawn/{computed.pk}/edit/").status_code == 404


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (BOWTIE, "The hot spot crosses itself"),
        (FAR_AWAY, "The hot spot lies outside the agency area"),
    ],
)
def test_a_bad_shape_is_refused_at_the_field_and_nothing_saved(
    analyst: Client, run: AnalysisRun, shape: dict[str, Any], message: str
) -> None:
    response = analyst.post(NEW, {"geometry": json.dumps(shape), "note": "Bad"})
    assert response.status_code == 200
    page = response.content.decode()
    errors = re.search(r'<ul class="errorlist" id="id_geometry-errors"[^>]*>(.*?)</ul>', page, re.S)
    assert errors and message in errors[1]
    assert not Hotspot.objects.filter(hand_drawn=True).exists()
    assert not AuditEvent.objects.filter(action="hotspot.draw").exists()


def test_without_a_published_analysis_the_page_says_so_and_saves_nothing(analyst: Client) -> None:
    response = analyst.post(NEW, {"geometry": json.dumps(SQUARE), "note": ""})
    assert response.status_code == 200
    assert "publish one before drawing" in response.content.decode()
    assert not Hotspot.objects.exists()


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SERGEANT, Role.SUPERVISOR])
def test_other_roles_may_not_draw(role: str, run: AnalysisRun) -> None:
    client = signed_in(role)
    for url in (LIST, NEW):
        assert client.get(url).status_code == 403
    assert client.post(NEW, {"geometry": json.dumps(SQUARE)}).status_code == 403
    assert not Hotspot.objects.filter(hand_drawn=True).exists()


def test_an_admin_may_draw(run: AnalysisRun) -> None:
    client = signed_in(Role.ADMIN)
    assert client.get(NEW).status_code == 200
    assert client.post(NEW, {"geometry": json.dumps(SQUARE), "note": ""}).status_code == 302


def test_the_hotspots_page_links_an_analyst_to_drawing(analyst: Client, run: AnalysisRun) -> None:
    run.published_at = run.created_at
    run.save()
    page = analyst.get("/hotspots/").content.decode()
    assert NEW in page and LIST in page and "/boundaries/" in page
