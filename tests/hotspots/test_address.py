"""Where a hot spot is in words: the import's block/intersection, the most frequent one at
analysis time, the coordinates fallback, and the payloads and pages that show it."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from backend.analytics.projection import LocalProjection
from backend.hotspots.address import address_words, hotspot_address
from backend.hotspots.models import Hotspot
from backend.hotspots.services import AnalysisParams, analysis_create, analysis_execute
from backend.incidents.models import Incident, OffenceType
from tests.factories import IncidentFactory, UserFactory

PROJ = LocalProjection(25.80, -80.21)


# --- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "words"),
    [
        ("000XX W MADISON ST", "0 block of W Madison St"),  # Chicago: 000XX is the 0 block
        ("001XX W MADISON ST", "100 block of W Madison St"),
        ("063XX S STATE ST", "6300 block of S State St"),
        ("12XX NW 62ND ST", "1200 block of NW 62nd St"),
        ("S STATE ST & E 63RD ST", "S State St & E 63rd St"),
        ("NW 62nd St / NW 7th Ave", "NW 62nd St / NW 7th Ave"),  # mixed case: as written
    ],
)
def test_block_addresses_read_as_words(block: str, words: str) -> None:
    assert address_words(block) == words


def test_the_most_frequent_block_wins_spelling_and_spaces_aside() -> None:
    # 3 x Madison (two spellings, one with double spaces), 2 x State, 2 blank: Madison.
    blocks = [
        "000XX W MADISON ST",
        "002XX S STATE ST",
        "000XX  W MADISON ST",
        "",
        "000xx w madison st",
        "002XX S STATE ST",
        "  ",
    ]
    assert hotspot_address(blocks, lat=41.883, lon=-87.631) == "0 block of W Madison St"


def test_a_tie_goes_to_the_first_in_alphabetical_order_whatever_the_order() -> None:
    a = ["002XX S STATE ST", "000XX W MADISON ST"]
    # "000xx w madison st" < "002xx s state st": Madison, in either order.
    assert hotspot_address(a, lat=0, lon=0) == "0 block of W Madison St"
    assert hotspot_address(a[::-1], lat=0, lon=0) == "0 block of W Madison St"


def test_no_block_at_all_falls_back_to_the_centre_coordinates() -> None:
    assert hotspot_address([], lat=41.883, lon=-87.631) == "41.88300, -87.63100"
    assert hotspot_address(["", " "], lat=25.8, lon=-80.21) == "25.80000, -80.21000"


# --- import and analysis ---------------------------------------------------------------------


def _at(x: float, y: float) -> tuple[float, float]:
    lat, lon = PROJ.to_latlon(x, y)
    return float(lat), float(lon)


@pytest.mark.django_db
def test_the_import_maps_block_and_intersection_like_any_other_field(tmp_path: Path) -> None:
    lat, lon = _at(75, 75)
    path = tmp_path / "blocks.csv"
    path.write_text(
        "id,when,lat,lon,type,BLOCK,CROSS\n"
        f"B1,2026-02-06 22:30,{lat},{lon},robbery,000XX W MADISON ST,\n"
        f"B2,2026-02-06 22:31,{lat},{lon},robbery,,N STATE ST & W MADISON ST\n"
        f"B3,2026-02-06 22:32,{lat},{lon},robbery,,\n"
        f"B4,2026-02-06 22:33,{lat},{lon},robbery,001XX W MADISON ST,N STATE ST & W MADISON ST\n",
        encoding="utf-8",
    )
    call_command(
        "import_incidents",
        str(path),
        "--map",
        "id=id,occurred_at=when,lat=lat,lon=lon,offence=type,block=BLOCK,intersection=CROSS",
        stdout=io.StringIO(),
    )
    stored = dict(Incident.objects.values_list("source_id", "block"))
    assert stored == {
        "B1": "000XX W MADISON ST",
        "B2": "N STATE ST & W MADISON ST",  # no block: the intersection
        "B3": "",
        "B4": "001XX W MADISON ST",  # both given: the block
    }


def _incident(x: float, y: float, block: str) -> None:
    lat, lon = _at(x, y)
    IncidentFactory(
        lat=lat,
        lon=lon,
        occurred_at=datetime(2026, 2, 6, 22, 30, tzinfo=UTC),
        offence=OffenceType.objects.get(code="robbery-personal"),
        block=block,
    )


@pytest.mark.django_db
def test_an_analysis_stores_each_hot_spots_address_or_its_coordinates() -> None:
    # Background: one blank-block theft in each of 100 cells; two planted hot spots far apart.
    for i in range(10):
        for j in range(10):
            lat, lon = _at(150 * i + 75, 150 * j + 75)
            IncidentFactory(
                lat=lat,
                lon=lon,
                occurred_at=datetime(2026, 2, 6, 12, tzinfo=UTC),
                offence=OffenceType.objects.get(code="larceny"),
            )
    # Hot spot A, cell (1, 1): 5 x Madison, 4 x State (and the background's blank one).
    for _ in range(5):
        _incident(150 + 75, 150 + 75, "000XX W MADISON ST")
    for _ in range(4):
        _incident(150 + 75, 150 + 75, "002XX S STATE ST")
    # Hot spot B, cell (8, 8): 9 robberies with no block: the centre's coordinates.
    for _ in range(9):
        _incident(150 * 8 + 75, 150 * 8 + 75, "")
    run = analysis_execute(
        run_id=analysis_create(
            params=AnalysisParams(as_of=date(2026, 3, 1), lookback_days=60, top_k=2)
        ).pk
    )
    spots = list(Hotspot.objects.filter(run=run).order_by("rank"))
    assert len(spots) == 2
    by_cell = {tuple(h.cells[0]): h for h in spots}
    assert by_cell[(1, 1)].address == "0 block of W Madison St"
    b = by_cell[(8, 8)]
    # The fallback: the centre of cell (8, 8), which the analysis stores as the centroid.
    assert b.address == f"{b.centroid_lat:.5f}, {b.centroid_lon:.5f}"
    clat, clon = _at(150 * 8 + 75, 150 * 8 + 75)
    assert b.address == f"{clat:.5f}, {clon:.5f}"  # and it is that cell's centre, by hand

    # Every payload the app reads carries the address and the street sentence.
    officer = UserFactory(role="officer")
    client = Client()
    client.force_login(officer)
    run.is_active = True
    run.save(update_fields=["is_active"])
    a = by_cell[(1, 1)]
    detail = client.get(f"/api/v1/hotspots/{a.pk}").json()
    assert detail["address"] == "0 block of W Madison St"
    # 9 robberies on Friday 22:30Z = 17:30 EST, 1 theft at 07:00: the busiest 4 hours centring
    # 17:00 start at 15:00 (9 of 10 incidents, a real peak), middle 17:00: "in the evening".
    assert detail["street_brief"] == (
        "Robberies of personal property in the evening near 0 block of W Madison St; "
        "busiest Fri 15:00-19:00"
    )
    lat, lon = _at(150 + 75, 150 + 75)
    nearby = client.get(f"/api/v1/hotspots/nearby?lat={lat}&lon={lon}&radius_m=3000").json()
    assert [n["address"] for n in nearby][:1] == ["0 block of W Madison St"]
    assert all(n["street_brief"] for n in nearby)
