from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from backend.accounts.models import District
from backend.accounts.services import district_upsert
from backend.audit.models import AuditEvent
from tests.factories import UserFactory

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-80.2, 25.7], [-80.1, 25.7], [-80.1, 25.8], [-80.2, 25.8], [-80.2, 25.7]]],
}


@pytest.mark.django_db
def test_district_upsert_stores_the_bounding_box_and_audits_who_did_it() -> None:
    admin = UserFactory(role="admin")
    district = district_upsert(name="Downtown", code="downtown", boundary=SQUARE, actor=admin)
    assert (district.min_lon, district.min_lat, district.max_lon, district.max_lat) == (
        -80.2,
        25.7,
        -80.1,
        25.8,
    )
    event = AuditEvent.objects.get(action="district.create")
    assert event.actor == admin
    assert event.object_id == str(district.pk)
    district_upsert(name="Downtown Core", code="downtown", boundary=SQUARE, actor=admin)
    update = AuditEvent.objects.get(action="district.update")
    assert update.before["name"] == "Downtown"
    assert update.after["name"] == "Downtown Core"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("boundary", "message"),
    [
        ({"type": "Point", "coordinates": [-80.2, 25.7]}, "Polygon or MultiPolygon"),
        (
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            "self-intersecting",
        ),
        ({"type": "Polygon", "coordinates": [[[200, 0], [201, 0], [201, 1], [200, 0]]]}, "WGS84"),
        ({"type": "Polygon", "coordinates": "nope"}, "not valid GeoJSON"),
    ],
)
def test_district_upsert_refuses_a_bad_boundary_and_writes_nothing(
    boundary: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        district_upsert(name="X", code="x", boundary=boundary)
    assert not District.objects.exists()
    assert not AuditEvent.objects.exists()
