"""Hot spot analyses through the service, the command, the API and the pages."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import esda
import libpysal
import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from shapely.geometry import shape

from backend.accounts.services import district_upsert
from backend.analytics.projection import LocalProjection
from backend.hotspots.models import AnalysisRun, GridCell, Hotspot
from backend.hotspots.services import AnalysisParams, analysis_create, analysis_execute
from backend.incidents.models import Incident, OffenceType
from tests.conftest import TEST_DATA
from tests.factories import IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db
ORIGIN = (25.80, -80.21)
PROJ = LocalProjection(*ORIGIN)


def run_analysis(**kwargs: Any) -> AnalysisRun:
    publish = kwargs.pop("publish", False)
    run = analysis_create(params=AnalysisParams(**kwargs), publish=publish)
    return analysis_execute(run_id=run.pk)


def at_metres(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) of a point x metres east and y metres north of the origin."""
    lat, lon = PROJ.to_latlon(x, y)
    return float(lat), float(lon)


def incident(x: float, y: float, when: datetime, code: str = "larceny") -> Incident:
    lat, lon = at_metres(x, y)
    return IncidentFactory(
        lat=lat, lon=lon, occurred_at=when, offence=OffenceType.objects.get(code=code)
    )


# --- hand-worked examples -------------------------------------------------------------------


def test_look_back_includes_its_first_instant_and_excludes_the_as_of_day() -> None:
    # as_of 2026-03-10 with a 1-day look-back: 2026-03-09 local (EDT) = 04:00Z to 04:00Z.
    incident(75, 75, datetime(2026, 3, 9, 4, 0, tzinfo=UTC))  # first instant: in
    incident(75, 75, datetime(2026, 3, 10, 3, 59, 59, tzinfo=UTC))  # last second: in
    incident(75, 75, datetime(2026, 3, 10, 4, 0, tzinfo=UTC))  # the as-of day: out
    incident(75, 75, datetime(2026, 3, 9, 3, 59, 59, tzinfo=UTC))  # the day before: out
    run = run_analysis(as_of=date(2026, 3, 10), lookback_days=1)
    assert run.status == "done"
    assert run.incidents_analysed == 2


def test_a_window_that_crosses_midnight_keeps_the_spill_into_the_next_day() -> None:
    ny = ZoneInfo("America/New_York")
    times = {
        datetime(2026, 3, 13, 23, 0, tzinfo=ny): True,  # Fri 23:00
        datetime(2026, 3, 14, 3, 0, tzinfo=ny): True,  # Sat 03:00, spill from Friday
        datetime(2026, 3, 15, 3, 59, tzinfo=ny): True,  # Sun 03:59, spill from Saturday
        datetime(2026, 3, 15, 4, 0, tzinfo=ny): False,  # Sun 04:00: the window has ended
        datetime(2026, 3, 13, 19, 59, tzinfo=ny): False,  # Fri 19:59: not yet
        datetime(2026, 3, 12, 23, 0, tzinfo=ny): False,  # Thu 23:00
        datetime(2026, 3, 14, 12, 0, tzinfo=ny): False,  # Sat noon
    }
    for when in times:
        incident(75, 75, when)
    run = run_analysis(as_of=date(2026, 3, 20), lookback_days=14, window="Fri-Sat 20:00-04:00")
    assert run.incidents_analysed == sum(times.values()) == 3


def test_a_planted_hot_spot_is_found_with_brute_force_cells_and_esda_z_scores() -> None:
    when = datetime(2026, 2, 6, 22, 30, tzinfo=UTC)
    rng = np.random.default_rng(4)
    # Background: one larceny (5 days) in each of 100 cells of a 10 x 10 block of 150 m cells.
    for i in range(10):
        for j in range(10):
            incident(150 * i + 20 + rng.uniform(0, 100), 150 * j + 20 + rng.uniform(0, 100), when)
    # The hot spot: 12 robberies (365 days each) in cell (4, 6), 3 in the touching cell (5, 7).
    for _ in range(12):
        incident(150 * 4 + 75, 150 * 6 + 75, when, "robbery-personal")
    for _ in range(3):
        incident(150 * 5 + 75, 150 * 7 + 75, when, "robbery-personal")
    run = run_analysis(as_of=date(2026, 3, 1), lookback_days=60, top_k=2)

    cells = {(c.ix, c.iy): c for c in GridCell.objects.filter(run=run)}
    assert len(cells) == 100
    assert cells[(4, 6)].count == 13 and cells[(4, 6)].harm == 12 * 365 + 5
    assert cells[(5, 7)].count == 4 and cells[(5, 7)].harm == 3 * 365 + 5
    assert sum(c.count for c in cells.values()) == Incident.objects.count() == 115

    # Gi* z of every stored cell equals esda on the same 10 x 10 grid (rows = y, cols = x).
    y = np.zeros((10, 10))
    for (ix, iy), c in cells.items():
        y[iy, ix] = c.harm
    w = libpysal.weights.lat2W(10, 10, rook=False)
    expected = esda.G_Local(y.ravel(), w, transform="B", star=True, permutations=0).Zs
    got = np.array([cells[(k % 10, k // 10)].gi_z for k in range(100)])
    np.testing.assert_allclose(got, expected, atol=1e-6)

    hotspots = list(Hotspot.objects.filter(run=run).order_by("rank"))
    assert len(hotspots) == 1  # the two chosen cells touch at a corner: one hot spot
    h = hotspots[0]
    assert sorted(map(tuple, h.cells)) == [(4, 6), (5, 7)]
    assert h.harm == 15 * 365 + 10
    assert h.incident_count == 17
    assert h.counts_by_offence == {"Robbery of personal property": 15, "Theft / larceny (other)": 2}
    assert h.gi_z_max == pytest.approx(max(expected[6 * 10 + 4], expected[7 * 10 + 5]), abs=1e-6)
    # The polygon is the two 150 m squares (area 45,000 m2) in WGS84.
    from shapely.geometry import shape

    area = PROJ.geometry_to_xy(shape(h.geometry)).area
    assert area == pytest.approx(2 * 150 * 150, rel=5e-4)  # corners stored to 1e-6 deg (0.1 m)
    # Friday 2026-02-06 22:30Z is 17:30 in New York: the profile says Friday 17:00.
    assert h.profile_24x7[4][17] == 17
    assert "Rank 1 of 1 for harm: 17 incidents" in h.briefing["why_here"]
    assert h.last_incident_at == when


def test_top_k_applies_per_district() -> None:
    when = datetime(2026, 2, 6, 12, tzinfo=UTC)
    west = [at_metres(x, y)[::-1] for x, y in [(0, 0), (600, 0), (600, 1500), (0, 1500), (0, 0)]]
    east = [
        at_metres(x, y)[::-1] for x, y in [(600, 0), (1500, 0), (1500, 1500), (600, 1500), (600, 0)]
    ]
    district_upsert(name="West", code="west", boundary={"type": "Polygon", "coordinates": [west]})
    district_upsert(name="East", code="east", boundary={"type": "Polygon", "coordinates": [east]})
    for i in range(10):
        for j in range(10):
            incident(150 * i + 75, 150 * j + 75, when)
    # A 2 x 2 block of robberies in each district (Gi* needs neighbours): West's cells hold
    # 10, 9, 9, 9 robberies, East's 8, 7, 7, 7.
    blocks = {
        (1, 6): 10,
        (2, 6): 9,
        (1, 7): 9,
        (2, 7): 9,
        (7, 2): 8,
        (6, 2): 7,
        (7, 3): 7,
        (6, 3): 7,
    }
    for (cell_x, cell_y), n in blocks.items():
        for _ in range(n):
            incident(150 * cell_x + 75, 150 * cell_y + 75, when, "robbery-personal")
    run = run_analysis(as_of=date(2026, 3, 1), lookback_days=60, top_k=1)
    got = {(h.district.code, tuple(map(tuple, h.cells))) for h in run.hotspots.all()}
    # One cell per district, the most harmful in each, though West's second-best cell (9
    # robberies) has more harm than East's best (8).
    assert got == {("west", ((1, 6),)), ("east", ((7, 2),))}
    two = run_analysis(as_of=date(2026, 3, 1), lookback_days=60, top_k=2)
    assert sorted(len(h.cells) for h in two.hotspots.all()) == [2, 2]


# --- real data --------------------------------------------------------------------------------


def load_chicago_2018_2019(settings: Any) -> list[tuple[float, float]]:
    """Store Chicago's 2018-2019 aggravated assaults; returns their (lat, lon) as stored."""
    settings.TIME_ZONE = "America/Chicago"
    settings.PRESENCE_ORIGIN = (41.84, -87.68)
    tz = ZoneInfo("America/Chicago")
    offence = OffenceType.objects.get(code="aggravated-assault")
    rows = []
    with gzip.open(TEST_DATA / "crime" / "chicago_aggravated_assaults.csv.gz", "rt") as f:
        for n, r in enumerate(csv.DictReader(f)):
            if not r["date"].startswith(("2018", "2019")) or not r["latitude"]:
                continue
            local = datetime.strptime(r["date"], "%Y-%m-%d %H:%M").replace(tzinfo=tz)
            rows.append(
                Incident(
                    source="chicago",
                    source_id=str(n),
                    occurred_at=local,
                    lat=float(r["latitude"]),
                    lon=float(r["longitude"]),
                    offence=offence,
                )
            )
    Incident.objects.bulk_create(rows, batch_size=5000)
    return [(i.lat, i.lon) for i in rows]


def test_chicago_concentration_equals_a_brute_force_count_over_the_raw_incidents(
    settings: Any,
) -> None:
    points = load_chicago_2018_2019(settings)
    n = len(points)
    assert n > 20_000
    run = run_analysis(as_of=date(2020, 1, 1), lookback_days=730)
    assert run.incidents_analysed == n

    # The oracle: the raw incidents read from the CSV, one at a time. Each falls in the 150 m
    # cell (floor(x / 150), floor(y / 150)) of the agency projection; every incident is an
    # aggravated assault (365 harm-days), so harm shares are incident shares.
    proj = LocalProjection(41.84, -87.68)
    lats, lons = np.array(points).T
    xs, ys = proj.to_xy(lats, lons)
    per_cell: dict[tuple[int, int], int] = {}
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        key = (math.floor(x / 150.0), math.floor(y / 150.0))
        per_cell[key] = per_cell.get(key, 0) + 1
    hot_cells = {(ix, iy) for h in run.hotspots.all() for ix, iy in h.cells}
    assert 0 < len(hot_cells) <= 20
    in_hot = sum(c for cell, c in per_cell.items() if cell in hot_cells)
    # The same count by geometry: incidents inside the published hot spot polygons.
    polygons = shapely.union_all(
        [proj.geometry_to_xy(shape(h.geometry)) for h in run.hotspots.all()]
    )
    inside = int(shapely.contains_xy(polygons, xs, ys).sum())
    print(f"\nChicago: {n} incidents, {in_hot} in {len(hot_cells)} hot cells, {inside} in polygons")
    assert inside == in_hot

    assert run.concentration["harm_total"] == pytest.approx(n * 365)
    assert run.concentration["harm_share"] == pytest.approx(in_hot / n, rel=1e-12)
    assert run.concentration["cells_nonempty"] == len(per_cell)
    assert run.concentration["area_share"] == pytest.approx(len(hot_cells) / len(per_cell))

    # Percentages as a reader expects them: 41%, 2.6%, 0.04%.
    def pct(share: float) -> str:
        p = 100 * share
        return f"{p:.0f}%" if p >= 10 else f"{p:.1f}%" if p >= 0.1 else f"{p:.2f}%"

    expected = f"{pct(in_hot / n)} of harm in {pct(len(hot_cells) / len(per_cell))} of the area"
    assert run.concentration["sentence"] == expected
    # The stored cells are the non-empty cells with their brute-force counts, and the cells
    # flagged with a rank are exactly the hot spots' cells.
    stored = GridCell.objects.filter(run=run).values_list("ix", "iy", "count")
    assert {(ix, iy): c for ix, iy, c in stored} == per_cell
    flagged = set(
        GridCell.objects.filter(run=run, hotspot_rank__isnull=False).values_list("ix", "iy")
    )
    assert hot_cells == flagged


# --- command ---------------------------------------------------------------------------------


def test_hotspots_analyze_writes_geojson_and_grid_csv_and_publishes(tmp_path: Path) -> None:
    when = datetime(2026, 2, 6, 12, tzinfo=UTC)
    for i in range(6):
        for j in range(6):
            incident(150 * i + 75, 150 * j + 75, when)
    for cell in [(2, 3), (3, 3), (2, 4), (3, 4)]:  # a 2 x 2 block of 10 robberies a cell
        for _ in range(10):
            incident(150 * cell[0] + 75, 150 * cell[1] + 75, when, "robbery-personal")
    out = io.StringIO()
    call_command(
        "hotspots_analyze",
        "--as-of",
        "2026-03-01",
        "--lookback-days",
        "60",
        "--geojson",
        str(tmp_path / "h.geojson"),
        "--grid-csv",
        str(tmp_path / "g.csv"),
        "--publish",
        stdout=out,
    )
    assert "Published" in out.getvalue()
    fc = json.loads((tmp_path / "h.geojson").read_text())
    feature = fc["features"][0]
    assert {"rank", "harm", "count", "gi_z", "cells", "counts_by_offence", "peak_hours"} <= set(
        feature["properties"]
    )
    assert feature["properties"]["rank"] == 1
    assert feature["properties"]["harm"] == 4 * (10 * 365 + 5)
    assert feature["properties"]["cells"] == 4
    assert feature["id"] == Hotspot.objects.get(run__is_active=True, rank=1).pk
    rows = list(csv.reader((tmp_path / "g.csv").open()))
    assert rows[0] == ["ix", "iy", "lat", "lon", "count", "harm", "gi_z"]
    assert len(rows) == 1 + 36
    hot = next(r for r in rows[1:] if (r[0], r[1]) == ("2", "3"))
    assert (hot[4], hot[5]) == ("11", "3655")


def test_hotspots_analyze_explains_a_bad_window() -> None:
    with pytest.raises(CommandError, match="--window"):
        call_command("hotspots_analyze", "--as-of", "2026-03-01", "--window", "Funday 25:00")
    assert not AnalysisRun.objects.exists()


# --- API and pages ---------------------------------------------------------------------------


@pytest.fixture
def published() -> AnalysisRun:
    when = datetime(2026, 2, 6, 12, tzinfo=UTC)
    for i in range(8):
        for j in range(8):
            incident(150 * i + 75, 150 * j + 75, when)
    # Block A: cells x, y in 1..2 with 9 robberies each; block B: 5..6 with 8 each.
    for lo, n in [(1, 9), (5, 8)]:
        for cx in (lo, lo + 1):
            for cy in (lo, lo + 1):
                for _ in range(n):
                    incident(150 * cx + 75, 150 * cy + 75, when, "robbery-personal")
    return run_analysis(as_of=date(2026, 3, 1), lookback_days=60, top_k=8, publish=True)


def test_nearby_lists_active_hot_spots_nearest_first(published: AnalysisRun) -> None:
    client = Client()
    client.force_login(UserFactory(role="officer"))
    lat, lon = at_metres(900, 900)  # the centre of block B
    got = client.get(reverse("api-hotspots-nearby"), {"lat": lat, "lon": lon, "radius_m": 5000})
    assert got.status_code == 200
    body = got.json()
    assert [h["rank"] for h in body] == [2, 1]
    assert body[0]["distance_m"] < 1
    assert body[1]["distance_m"] == pytest.approx(math.hypot(600, 600), abs=1)
    assert body[0]["visit_due"] == "due"  # no experiment: every hot spot is treated, none visited
    assert body[0]["reason"].startswith("#2: 36 incidents, most harm from robbery")
    small = client.get(reverse("api-hotspots-nearby"), {"lat": lat, "lon": lon, "radius_m": 800})
    assert [h["rank"] for h in small.json()] == [2]
    bad = client.get(reverse("api-hotspots-nearby"), {"lat": 95, "lon": lon})
    assert bad.status_code == 400 and "lat" in bad.json()


def test_nearby_from_a_process_memory_shows_an_unpublished_run_once_its_check_expires(
    published: AnalysisRun, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production keeps the active hot spots and their dose in the web process's memory for
    PRESENCE_HOT_READ_SECONDS: the same answer as a fresh read, and a change of the active run
    shows once the check is that old."""
    from backend.config import memo

    settings.PRESENCE_HOT_READ_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(memo, "now", lambda: clock[0])
    memo.memo_clear_all()
    try:
        client = Client()
        client.force_login(UserFactory(role="officer"))
        lat, lon = at_metres(900, 900)  # the centre of block B
        ask = {"lat": lat, "lon": lon, "radius_m": 5000}
        body = client.get(reverse("api-hotspots-nearby"), ask).json()
        assert [(h["rank"], h["visit_due"]) for h in body] == [(2, "due"), (1, "due")]
        assert body[1]["distance_m"] == pytest.approx(math.hypot(600, 600), abs=1)
        AnalysisRun.objects.filter(pk=published.pk).update(is_active=False)
        clock[0] += 4.9
        assert [h["rank"] for h in client.get(reverse("api-hotspots-nearby"), ask).json()] == [2, 1]
        clock[0] += 0.1
        assert client.get(reverse("api-hotspots-nearby"), ask).json() == []
    finally:
        memo.memo_clear_all()


def test_hot_spot_list_and_detail_for_an_officer(published: AnalysisRun) -> None:
    client = Client()
    client.force_login(UserFactory(role="officer"))
    listing = client.get(reverse("api-hotspots")).json()
    assert [h["rank"] for h in listing["results"]] == [1, 2]
    one = client.get(reverse("api-hotspot", args=[listing["results"][0]["id"]])).json()
    assert one["briefing"]["why_here"].startswith("Rank 1 of 2")


def test_only_one_run_is_active_at_a_time(published: AnalysisRun) -> None:
    again = run_analysis(as_of=date(2026, 3, 1), lookback_days=60, top_k=5, publish=True)
    assert list(AnalysisRun.objects.filter(is_active=True)) == [again]
    assert set(Hotspot.objects.filter(run__is_active=True).values_list("run", flat=True)) == {
        again.pk
    }


def test_an_analyst_runs_an_analysis_through_the_api_and_an_officer_cannot(
    published: AnalysisRun, django_capture_on_commit_callbacks: Any
) -> None:
    officer, analyst = Client(), Client()
    officer.force_login(UserFactory(role="officer"))
    analyst.force_login(UserFactory(role="analyst"))
    body = {"as_of": "2026-03-01", "lookback_days": 60, "top_k": 3}
    assert officer.post(reverse("api-analyses"), body).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        created = analyst.post(reverse("api-analyses"), body)
    assert created.status_code == 202
    run = AnalysisRun.objects.get(pk=created.json()["id"])
    assert run.status == "done" and run.hotspots.count() == 1  # top 3 cells: all in block A
    bad = analyst.post(reverse("api-analyses"), {**body, "window": "Fri 20:00", "cell_size_m": 5})
    assert bad.status_code == 400
    assert set(bad.json()) == {"window", "cell_size_m"}


def test_harm_index_edit_makes_a_new_version_that_new_analyses_record() -> None:
    analyst = Client()
    analyst.force_login(UserFactory(role="analyst"))
    response = analyst.post(
        reverse("api-harm-index"),
        {"weights": {"larceny": 7.5}, "note": "local review"},
        content_type="application/json",
    )
    assert response.status_code == 201
    weights = {w["code"]: w["days"] for w in response.json()["weights"]}
    assert response.json()["version"] == 2
    assert weights["larceny"] == 7.5 and weights["homicide"] == 5475
    incident(75, 75, datetime(2026, 2, 6, 12, tzinfo=UTC))
    run = run_analysis(as_of=date(2026, 3, 1), lookback_days=60)
    assert run.weights_version.number == 2
    assert GridCell.objects.get(run=run).harm == 7.5
    unknown = analyst.post(
        reverse("api-harm-index"), {"weights": {"nope": 1}}, content_type="application/json"
    )
    assert unknown.status_code == 400 and "nope" in unknown.json()


def test_pages_map_table_briefing_heatmap_and_exports(published: AnalysisRun) -> None:
    client = Client()
    client.force_login(UserFactory(role="sergeant"))
    index = client.get(reverse("hotspots:index")).content.decode()
    assert "hotspot-map" in index and "#1: 40 incidents" in index
    assert "New analysis" not in index  # sergeants read hot spots; analysts run analyses
    h = published.hotspots.get(rank=1)
    page = client.get(reverse("hotspots:hotspot", args=[h.pk])).content.decode()
    assert "Why here." in page and "Suggested tactics" in page
    png = client.get(reverse("hotspots:hotspot-heatmap", args=[h.pk]))
    assert png["Content-Type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("hotspots:run-csv", args=[published.pk])).content.decode()
            )
        )
    )
    assert rows[0][:3] == ["rank", "id", "district"] and len(rows) == 3
    geo = json.loads(client.get(reverse("hotspots:run-geojson", args=[published.pk])).content)
    assert [f["properties"]["rank"] for f in geo["features"]] == [1, 2]
    officer = Client()
    officer.force_login(UserFactory(role="officer"))
    assert officer.get(reverse("hotspots:index")).status_code == 403
