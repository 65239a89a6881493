"""import_avl: a real vehicle track, stored exactly once, rolled up into visits."""

from __future__ import annotations

import csv
import io
import itertools
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import box, mapping

from backend.analytics.projection import LocalProjection
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.incidents.models import HarmWeightVersion
from backend.patrols.models import Ping, Visit
from tests.conftest import TEST_DATA

GPX = TEST_DATA / "gps" / "limerick_bus_304_2019-02-18.gpx"
pytestmark = pytest.mark.django_db


def gpx_fixes() -> list[tuple[float, float, float]]:
    """(epoch seconds, lat, lon) of every track point, read independently of the app."""
    out = []
    for el in ET.parse(GPX).iter():
        if el.tag.endswith("trkpt"):
            when = next(c.text for c in el if c.tag.endswith("time"))
            t = datetime.fromisoformat(str(when).replace("Z", "+00:00")).timestamp()
            out.append((t, float(el.get("lat", "nan")), float(el.get("lon", "nan"))))
    return out


def gpx_fix_count() -> int:
    return len(gpx_fixes())


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_avl", *args, stdout=out)
    return out.getvalue()


def test_importing_a_bus_track_twice_stores_each_fix_once_and_rolls_up_visits(
    settings: Any,
) -> None:
    # The track dates from 2019: an agency importing old tracks keeps raw pings that long
    # (fixes older than the retention period are refused; tests/patrols/test_partitions.py).
    settings.PRESENCE_PING_RETENTION_DAYS = 36_500
    with (TEST_DATA / "gps" / "limerick_bus_304_stops.csv").open() as f:
        stop = next(csv.DictReader(f))
    lat, lon = float(stop["lat"]), float(stop["lon"])
    proj = LocalProjection(lat, lon)
    version, _ = HarmWeightVersion.objects.get_or_create(number=1)
    run_ = AnalysisRun.objects.create(as_of="2019-02-18", weights_version=version, is_active=True)
    Hotspot.objects.create(
        run=run_,
        rank=1,
        geometry=mapping(proj.geometry_to_lonlat(box(-75, -75, 75, 75))),
        centroid_lat=lat,
        centroid_lon=lon,
        harm=1,
        incident_count=1,
        gi_z_max=3,
    )
    n = gpx_fix_count()
    assert n == 2144
    first = run(str(GPX), "--unit", "BUS-304")
    assert f"imported {n:,} · duplicates 0 · rejected 0" in first
    again = run(str(GPX), "--unit", "BUS-304")
    assert f"imported 0 · duplicates {n:,} · rejected 0" in again
    assert Ping.objects.filter(unit__call_sign="BUS-304").count() == n
    # Expected visits, by a plain loop over the file's fixes: runs of fixes inside the square,
    # split where consecutive inside fixes are more than 120 s apart (a device gap), kept when
    # the time between adjacent inside fixes adds up to at least 60 s.
    fixes = gpx_fixes()
    inside = []
    for t, la, lo in fixes:
        x, y = proj.to_xy(la, lo)
        if abs(float(x)) <= 75 and abs(float(y)) <= 75:
            inside.append(t)
    runs: list[list[float]] = [[inside[0]]]
    for prev, t in itertools.pairwise(inside):
        if t - prev > 120:
            runs.append([t])
        else:
            runs[-1].append(t)
    expected = [(r[0], r[-1], r[-1] - r[0]) for r in runs if r[-1] - r[0] >= 60]
    got = [
        (v.entered_at.timestamp(), v.exited_at.timestamp(), v.dwell_s)
        for v in Visit.objects.filter(unit__call_sign="BUS-304").order_by("entered_at")
    ]
    assert got == expected
    assert len(expected) >= 1


def test_import_avl_needs_a_unit_and_a_readable_track(tmp_path: Any) -> None:
    with pytest.raises(CommandError):
        call_command("import_avl", str(GPX), "--unit", "  ")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,lat,lon\n2019-02-18 07:45:00,52.6,-8.6\n")  # no UTC offset
    with pytest.raises(CommandError, match="line 2"):
        call_command("import_avl", str(bad), "--unit", "CAR-1")
    assert not Ping.objects.exists()
