"""The analysts' pages for district and beat boundaries: drawn on django-leaflet's map widget,
saved through ``district_save`` / ``beat_save`` (bounding box, audit row); bad shapes refused at
the field; only analysts (and admins)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from backend.accounts.models import Beat, District, Role
from backend.audit.models import AuditEvent
from tests.accounts.test_maps import BOWTIE, FAR_AWAY, SQUARE
from tests.factories import DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db


def signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.fixture
def analyst() -> Client:
    return signed_in(Role.ANALYST)


def test_a_district_is_drawn_then_edited_and_both_audited(analyst: Client) -> None:
    page = analyst.get("/districts/new/").content.decode()
    assert 'id="id_boundary-map"' in page and "leaflet/leaflet.forms.js" in page
    response = analyst.post(
        "/districts/new/", {"name": "North", "code": "north", "boundary": json.dumps(SQUARE)}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    d = District.objects.get(code="north")
    assert (d.min_lon, d.min_lat, d.max_lon, d.max_lat) == (-80.22, 25.79, -80.20, 25.81)
    listing = analyst.get("/boundaries/").content.decode()
    assert f"/districts/{d.pk}/edit/" in listing
    response = analyst.post(
        f"/districts/{d.pk}/edit/",
        {"name": "North Side", "code": "north", "boundary": json.dumps(SQUARE)},
    )
    assert response.status_code == 302
    d.refresh_from_db()
    assert d.name == "North Side"
    assert AuditEvent.objects.filter(action="district.create").count() == 1
    assert AuditEvent.objects.filter(action="district.update").count() == 1


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (BOWTIE, "The district boundary crosses itself"),
        (FAR_AWAY, "The district boundary lies outside the agency area"),
    ],
)
def test_a_bad_district_is_refused_at_the_field(
    analyst: Client, shape: dict[str, Any], message: str
) -> None:
    district = DistrictFactory(name="Central", code="central")
    before = dict(District.objects.filter(pk=district.pk).values("name", "boundary").get())
    response = analyst.post(
        f"/districts/{district.pk}/edit/",
        {"name": "Moved", "code": "central", "boundary": json.dumps(shape)},
    )
    assert response.status_code == 200
    page = response.content.decode()
    errors = re.search(r'<ul class="errorlist" id="id_boundary-errors"[^>]*>(.*?)</ul>', page, re.S)
    assert errors and message in errors[1]
    assert District.objects.filter(pk=district.pk).values("name", "boundary").get() == before
    assert not AuditEvent.objects.filter(action__startswith="district.").exists()


def test_a_beat_is_drawn_in_a_district_and_edited(analyst: Client) -> None:
    district = DistrictFactory(name="Central", code="central")
    page = analyst.get(f"/beats/new/?district={district.pk}").content.decode()
    assert f'<option value="{district.pk}" selected>' in page
    response = analyst.post(
        "/beats/new/",
        {"district": district.pk, "name": "Beat 1", "code": "b1", "boundary": json.dumps(SQUARE)},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    beat = Beat.objects.get(code="b1")
    assert beat.district_id == district.pk and beat.min_lon == -80.22
    assert AuditEvent.objects.filter(action="beat.create").count() == 1
    response = analyst.post(
        f"/beats/{beat.pk}/edit/",
        {"district": district.pk, "name": "Beat 1", "code": "b1", "boundary": json.dumps(BOWTIE)},
    )
    assert response.status_code == 200
    assert "The beat boundary crosses itself" in response.content.decode()
    assert not AuditEvent.objects.filter(action="beat.update").exists()


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SERGEANT, Role.SUPERVISOR])
def test_other_roles_may_not_edit_boundaries(role: str) -> None:
    district = DistrictFactory()
    client = signed_in(role)
    for url in (
        "/boundaries/",
        "/districts/new/",
        f"/districts/{district.pk}/edit/",
        "/beats/new/",
    ):
        assert client.get(url).status_code == 403
    response = client.post(
        "/districts/new/", {"name": "X", "code": "x", "boundary": json.dumps(SQUARE)}
    )
    assert response.status_code == 403 and not District.objects.filter(code="x").exists()


def test_a_new_beat_for_an_unknown_district_starts_with_none_chosen(analyst: Client) -> None:
    district = DistrictFactory(name="Central", code="central")
    for stale in (str(district.pk + 1000), "central"):
        page = analyst.get(f"/beats/new/?district={stale}")
        assert page.status_code == 200
        assert f'<option value="{district.pk}">Central</option>' in page.content.decode()
