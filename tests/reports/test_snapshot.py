"""The daily snapshot: local-day boundaries, harm, in/out of hot spots, idempotent recompute."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from shapely.geometry import box, mapping

from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import OffenceType
from backend.incidents.selectors import harm_version_current
from backend.reports.models import DailySnapshot
from backend.reports.services import snapshot_build
from tests.factories import DistrictFactory, IncidentFactory, UserFactory


@pytest.fixture
def day_with_incidents(db: None) -> None:
    downtown = DistrictFactory(name="Downtown", code="downtown")
    robbery = OffenceType.objects.get(code="robbery-personal")  # 365 days
    assault = OffenceType.objects.get(code="simple-assault")  # 2 days
    run = AnalysisRun.objects.create(
        as_of=date(2026, 11, 1), weights_version=harm_version_current(), is_active=True
    )
    Hotspot.objects.create(
        run=run,
        rank=1,
        geometry=mapping(box(-80.201, 25.779, -80.199, 25.781)),
        centroid_lat=25.78,
        centroid_lon=-80.2,
        harm=0,
        incident_count=0,
        gi_z_max=3.0,
    )
    # 2026-11-01 is the day New York leaves DST: local midnight to midnight is 04:00Z to 05:00Z
    # next day (25 hours).
    IncidentFactory(
        source_id="in-hotspot",
        occurred_at=datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        lat=25.78,
        lon=-80.2,
        offence=robbery,
        district=downtown,
    )
    IncidentFactory(
        source_id="late",
        occurred_at=datetime(2026, 11, 2, 4, 59, tzinfo=UTC),
        lat=25.77,
        lon=-80.19,
        offence=assault,
        district=downtown,
    )
    IncidentFactory(
        source_id="no-district",
        occurred_at=datetime(2026, 11, 1, 12, tzinfo=UTC),
        lat=25.9,
        lon=-80.3,
        offence=assault,
    )
    IncidentFactory(
        source_id="next-day", occurred_at=datetime(2026, 11, 2, 5, 0, tzinfo=UTC), offence=robbery
    )
    IncidentFactory(
        source_id="day-before",
        occurred_at=datetime(2026, 11, 1, 3, 59, tzinfo=UTC),
        offence=robbery,
    )


def test_snapshot_counts_the_local_day_and_splits_harm_by_hot_spot(
    day_with_incidents: None,
) -> None:
    snap = snapshot_build(day=date(2026, 11, 1))
    assert snap.incidents == 3
    assert snap.harm == 365 + 2 + 2
    assert snap.incidents_in_hotspots == 1
    assert snap.harm_in_hotspots == 365
    assert snap.by_district == [
        {"district": "Downtown", "incidents": 2, "harm": 367.0},
        {"district": "Outside every district", "incidents": 1, "harm": 2.0},
    ]
    assert snap.by_group == {"violent": 3}
    assert [n["source_id"] for n in snap.notable] == ["in-hotspot", "late", "no-district"]
    assert snap.notable[0]["in_hotspot"] is True
    assert snap.weights_version == 1


def test_recomputing_a_snapshot_replaces_it(day_with_incidents: None) -> None:
    first = snapshot_build(day=date(2026, 11, 1))
    again = snapshot_build(day=date(2026, 11, 1))
    assert DailySnapshot.objects.count() == 1
    assert (again.pk, again.incidents, again.harm) == (first.pk, first.incidents, first.harm)


def test_an_empty_day_gives_an_empty_snapshot(db: None) -> None:
    snap = snapshot_build(day=date(2026, 1, 1))
    assert (snap.incidents, snap.harm, snap.by_district, snap.notable) == (0, 0, [], [])


def test_snapshot_page_recompute_and_csv_export(
    day_with_incidents: None, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    client.force_login(UserFactory(role="supervisor"))
    empty = client.get(reverse("reports:snapshot"))
    assert "No snapshots yet" in empty.content.decode()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("reports:snapshot-recompute"), {"day": "2026-11-01"})
    assert len(callbacks) == 1  # the task is enqueued only once the request's data is committed
    assert response.status_code == 302
    page = client.get(reverse("reports:snapshot")).content.decode()
    assert "Sunday 1 November 2026" in page
    rows = list(
        csv.reader(io.StringIO(client.get(reverse("reports:snapshot-csv")).content.decode()))
    )
    assert rows[0] == [
        "day",
        "incidents",
        "harm",
        "incidents_in_hotspots",
        "harm_in_hotspots",
        "weights_version",
    ]
    assert rows[1] == ["2026-11-01", "3", "369.0", "1", "365.0", "1"]
    bad = client.post(reverse("reports:snapshot-recompute"), {"day": "yesterday"}, follow=True)
    assert "Day must be a date" in bad.content.decode()


@pytest.mark.parametrize(
    ("role", "status"), [("officer", 403), ("sergeant", 403), ("supervisor", 200), ("analyst", 200)]
)
def test_snapshot_api_is_for_supervisors_and_analysts(
    day_with_incidents: None, role: str, status: int
) -> None:
    snapshot_build(day=date(2026, 11, 1))
    client = Client()
    client.force_login(UserFactory(role=role))
    response = client.get(reverse("api-snapshot", args=["2026-11-01"]))
    assert response.status_code == status
    if status == 200:
        assert response.json()["harm"] == 369.0


def test_snapshot_carries_the_days_dose_squads_and_top_officers(hand_built_day: dict) -> None:
    """The hand-built day of tests/reports/conftest.py: treated h1 and h2 were prescribed
    3 visits x 15 min each (6 visits, 90 min); officers delivered 3 visits and 20 + 3 = 23
    minutes of presence, 2 of them Koper-compliant; the control h3 got 15 minutes."""
    from tests.reports.conftest import DAY

    snap = snapshot_build(day=DAY)
    assert snap.dose == {
        "prescribed_visits": 6,
        "delivered_visits": 3,
        "pct_delivered": 50.0,
        "prescribed_minutes": 90.0,
        "delivered_minutes": 23.0,
        "koper_visits": 2,
        "contamination_minutes": 15.0,
        "gap_minutes": 6.0,
        "on_target_visits": 3,
    }
    squad = hand_built_day["squad"]
    assert [(s["squad"], s["delivered_visits"], s["prescribed_visits"]) for s in snap.by_squad] == [
        (squad.name, 3, 3)
    ]
    # Top officers by minutes of dose: o1 15 + 3 = 18; o2 15 (its control minutes are not dose).
    o1, o2 = hand_built_day["o1"], hand_built_day["o2"]
    assert [(o["delivered_minutes"], o["delivered_visits"]) for o in snap.top_officers] == [
        (18.0, 2),
        (15.0, 1),
    ]
    assert o1.username in snap.top_officers[0]["officer"]
    assert o2.username in snap.top_officers[1]["officer"]


def test_snapshot_page_prints_the_dose_sentence(hand_built_day: dict, client: Client) -> None:
    from tests.reports.conftest import DAY

    snapshot_build(day=DAY)
    client.force_login(UserFactory(role="supervisor"))
    html = client.get(reverse("reports:snapshot")).content.decode()
    assert "delivered <strong>3</strong> of <strong>6</strong> prescribed visits (50%)" in html
    assert "Compliance by squad" in html and "Top officers by dose delivered" in html
