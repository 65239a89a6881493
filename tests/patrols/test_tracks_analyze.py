"""``tracks_analyze`` on small hand-made files, and the GPX / CSV / GeoJSON readers.

No database: the command only reads files. The track is laid out in metres around
(52.0 N, 8.0 W) and converted to degrees with the same projection the command uses (centred
on the first fix), so the expected numbers below are exact.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from shapely.geometry import box, mapping

from backend.analytics.projection import LocalProjection
from backend.patrols.trackfiles import (
    TrackFile,
    parse_time,
    read_csv_track,
    read_gpx,
    read_gpx_fast,
    read_hotspots_geojson,
    read_track,
)

PROJ = LocalProjection(52.0, -8.0)
T0 = 1_717_275_600.0  # 2024-06-01T21:00:00Z


def iso(t: float, offset_h: int = 0) -> str:
    from datetime import UTC, datetime, timedelta, timezone

    tz = UTC if offset_h == 0 else timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(t, tz=tz).isoformat().replace("+00:00", "Z")


def latlon(x: float, y: float) -> tuple[float, float]:
    lat, lon = PROJ.to_latlon(x, y)
    return float(lat), float(lon)


def write_hotspots(path: Path) -> None:
    """Feature 0 has id 17 (a number); feature 1 only a name."""

    def feature(geom_m, **extra):  # type: ignore[no-untyped-def]
        return {"type": "Feature", "geometry": mapping(PROJ.geometry_to_lonlat(geom_m)), **extra}

    doc = {
        "type": "FeatureCollection",
        "features": [
            feature(box(-100, -100, 100, 100), id=17, properties={"name": "ignored"}),
            feature(box(900, -100, 1500, 100), properties={"name": "Market Square"}),
        ],
    }
    path.write_text(json.dumps(doc))


def write_track(path: Path) -> None:
    """12 min parked at (0, 0) in hot spot 17 (one far fix with 75 m accuracy), a 200 s
    device gap, 5 min walking east at 1.3 m/s (phone-reported) in Market Square, then out."""
    rows = ["time,lat,lon,accuracy_m,speed_mps"]
    for k in range(25):  # T0 .. T0 + 720 every 30 s; every other time written at +02:00
        t = T0 + 30 * k
        x, acc = (5000.0, "75") if k == 12 else (0.0, "6.5")
        lat, lon = latlon(x, 0.0)
        rows.append(f"{iso(t, 2 if k % 2 else 0)},{lat!r},{lon!r},{acc},")
    for k in range(11):  # T0 + 920 .. T0 + 1220, x = 1000 .. 1390
        lat, lon = latlon(1000.0 + 39.0 * k, 0.0)
        rows.append(f"{iso(T0 + 920 + 30 * k)},{lat!r},{lon!r},5,1.3")
    lat, lon = latlon(1700.0, 0.0)
    rows.append(f"{iso(T0 + 1250)},{lat!r},{lon!r},,")
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    track, hotspots = tmp_path / "device.csv", tmp_path / "hotspots.geojson"
    write_track(track)
    write_hotspots(hotspots)
    return track, hotspots


def test_tracks_analyze_writes_the_json_contract_with_hand_worked_values(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    track, hotspots = files
    out = tmp_path / "out.json"
    printed = StringIO()
    call_command(
        "tracks_analyze", str(track), hotspots=str(hotspots), json=str(out), stdout=printed
    )
    report = json.loads(out.read_text())
    assert list(report) == ["visits", "stops", "gaps"]
    assert report["visits"] == [
        {
            # Parked 21:00-21:12 (the 75 m fix is dropped, leaving a 60 s interval: dwell),
            # one 720 s stop covering it: stationary, 12 min is Koper-compliant.
            "hotspot": 17,
            "entered_at": "2024-06-01T21:00:00Z",
            "exited_at": "2024-06-01T21:12:00Z",
            "dwell_s": 720.0,
            "stopped_s": 720.0,
            "mode": "stationary",
            "koper_compliant": True,
            "gaps_s": 0.0,
        },
        {
            # Walking 39 m per 30 s: never within 30 m of a fix for 120 s, so no stop; the
            # phone's 1.3 m/s is the median speed: foot. 5 min: not Koper-compliant.
            "hotspot": "Market Square",
            "entered_at": "2024-06-01T21:15:20Z",
            "exited_at": "2024-06-01T21:20:20Z",
            "dwell_s": 300.0,
            "stopped_s": 0.0,
            "mode": "foot",
            "koper_compliant": False,
            "gaps_s": 0.0,
        },
    ]
    assert report["stops"] == [
        {
            "start": "2024-06-01T21:00:00Z",
            "end": "2024-06-01T21:12:00Z",
            "lat": 52.0,
            "lon": -8.0,
            "duration_s": 720.0,
        }
    ]
    # 21:12:00 -> 21:15:20 is 200 s without a fix: a device gap, not an absence.
    assert report["gaps"] == [{"start": "2024-06-01T21:12:00Z", "end": "2024-06-01T21:15:20Z"}]
    text = printed.getvalue()
    assert "37 fixes (36 kept)" in text
    assert "Market Square" in text and "stationary" in text
    assert "2024-06-01T21:12:00Z  ..  2024-06-01T21:15:20Z  (200 s)" in text


def test_tracks_analyze_stop_options_change_the_stops(files: tuple[Path, Path]) -> None:
    track, hotspots = files
    out = track.parent / "out.json"
    call_command(
        "tracks_analyze",
        str(track),
        hotspots=str(hotspots),
        json=str(out),
        min_stop_s=900,
        stdout=StringIO(),
    )
    report = json.loads(out.read_text())
    assert report["stops"] == []  # 720 s parked < 900 s
    # Not stopped any more; the parked fixes have no phone speed and derive 0 m/s: foot.
    assert [(v["stopped_s"], v["mode"]) for v in report["visits"]] == [(0.0, "foot"), (0.0, "foot")]
    call_command(
        "tracks_analyze",
        str(track),
        hotspots=str(hotspots),
        json=str(out),
        stop_diameter_m=40,
        stdout=StringIO(),
    )
    report = json.loads(out.read_text())
    # Within 40 m, walking 39 m per 30 s makes stops of 30 s... shorter than 120 s: none; the
    # parked stop is unchanged.
    assert [s["duration_s"] for s in report["stops"]] == [720.0]


def test_tracks_analyze_reports_bad_input_with_its_line(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    good, hotspots = files
    bad = tmp_path / "bad.csv"
    bad.write_text("time,lat,lon\n2024-06-01T21:00:00Z,52,-8\n2024-06-01T21:00:05,52,-8\n")
    with pytest.raises(CommandError, match=r"bad\.csv line 3: time '2024-06-01T21:00:05' has no"):
        call_command("tracks_analyze", str(bad), hotspots=str(hotspots), stdout=StringIO())
    point = tmp_path / "p.geojson"
    point.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]}}
                ],
            }
        )
    )
    with pytest.raises(CommandError, match=r"p\.geojson feature 0: geometry type Point is not"):
        call_command("tracks_analyze", str(good), hotspots=str(point), stdout=StringIO())


# --- readers ---------------------------------------------------------------------------------

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"
     xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">
 <trk><trkseg>
  <trkpt lat="52.5" lon="-8.5"><ele>3</ele><time>2019-02-18T07:45:52Z</time><hdop>4</hdop>
   <extensions><gpxtpx:TrackPointExtension><gpxtpx:speed>2.5</gpxtpx:speed>
   </gpxtpx:TrackPointExtension></extensions></trkpt>
  <trkpt lat="52.6" lon="-8.6"><time>2019-02-18T07:45:50</time></trkpt>
 </trkseg><trkseg>
  <trkpt lat="52.7" lon="-8.7"><time>2019-02-18T09:45:55+02:00</time></trkpt>
 </trkseg></trk>
</gpx>
"""


def test_gpx_reads_every_segment_sorted_by_time_with_speed_extensions(tmp_path: Path) -> None:
    path = tmp_path / "t.gpx"
    path.write_text(GPX)
    tf = read_gpx(path)
    base = parse_time("2019-02-18T07:45:50Z")
    # The naive time is UTC (GPX schema), so it sorts first; +02:00 is 07:45:55Z.
    assert (tf.t - base).tolist() == [0.0, 2.0, 5.0]
    assert tf.lat.tolist() == [52.6, 52.5, 52.7]
    assert tf.lon.tolist() == [-8.6, -8.5, -8.7]
    assert np.isnan(tf.speed_mps[[0, 2]]).all() and tf.speed_mps[1] == 2.5
    assert np.isnan(tf.accuracy_m).all()  # hdop is not metres: ignored
    assert len(read_track(path)) == 3


def test_gpx_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.gpx"
    path.write_text(GPX.replace("<time>2019-02-18T07:45:50</time>", ""))
    with pytest.raises(ValueError, match=r"t\.gpx line 8: trkpt has no <time>"):
        read_gpx(path)
    path.write_text(GPX.replace('lat="52.6"', 'lat="152.6"'))
    with pytest.raises(ValueError, match=r"t\.gpx line 8: lat 152\.6 is outside"):
        read_gpx(path)
    path.write_text(GPX.replace("</trk>", ""))
    with pytest.raises(ValueError, match="not well-formed XML"):
        read_gpx(path)


def test_the_real_bus_gpx_reads_2144_fixes_in_order() -> None:
    from tests.conftest import TEST_DATA

    tf = read_gpx(TEST_DATA / "gps" / "limerick_bus_304_2019-02-18.gpx")
    assert len(tf) == 2144
    assert tf.t[0] == parse_time("2019-02-18T07:45:50Z")
    assert tf.t[-1] == parse_time("2019-02-18T09:00:26Z")
    assert (tf.lat[0], tf.lon[0]) == (52.629151, -8.661746)
    assert np.all(np.diff(tf.t) > 0)


GPX_10 = """<?xml version="1.0"?>
<gpx version="1.0" creator="test" xmlns="http://www.topografix.com/GPX/1/0">
 <trk><trkseg>
  <trkpt lat="52.5" lon="-8.5"><time>2019-02-18T07:45:52.250Z</time><speed>3.5</speed></trkpt>
  <trkpt lat="-33.9" lon="151.2"><time>2019-02-18T18:45:53+11:00</time></trkpt>
 </trkseg></trk>
</gpx>
"""
GPX_11_ACCURACY = GPX.replace(
    "<gpxtpx:speed>2.5</gpxtpx:speed>", "<gpxtpx:speed>2.5</gpxtpx:speed><accuracy>4</accuracy>"
)


def no_fast_path(p: object) -> None:
    raise AssertionError("a small valid file must be read by gpxpy")


def same_points(a: TrackFile, b: TrackFile) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)
        for f in ("t", "lat", "lon", "accuracy_m", "speed_mps")
    )


@pytest.mark.parametrize(
    "text", [GPX, GPX_10, GPX_11_ACCURACY, "\ufeff" + GPX], ids=["1.1", "1.0", "accuracy", "bom"]
)
def test_gpxpy_and_the_fast_reader_give_identical_points(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.gpx"
    path.write_text(text, encoding="utf-8")
    fast = read_gpx_fast(path)
    import backend.patrols.trackfiles as trackfiles

    monkeypatch.setattr(trackfiles, "read_gpx_fast", no_fast_path)
    assert same_points(read_gpx(path), fast)


def test_gpxpy_and_the_fast_reader_agree_on_the_real_bus_track(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import TEST_DATA

    path = TEST_DATA / "gps" / "limerick_bus_304_2019-02-18.gpx"
    fast = read_gpx_fast(path)
    assert len(fast) == 2144
    import backend.patrols.trackfiles as trackfiles

    monkeypatch.setattr(trackfiles, "read_gpx_fast", no_fast_path)
    assert same_points(read_gpx(path), fast)


def test_speed_and_accuracy_follow_the_gpx_version(tmp_path: Path) -> None:
    # GPX 1.0: <speed> is a child of <trkpt>. GPX 1.1 has no such child (a file that writes
    # one anyway is not read for it); its speed and accuracy live in <extensions>.
    path = tmp_path / "t.gpx"
    path.write_text(GPX_10)
    tf = read_gpx(path)
    assert tf.speed_mps[0] == 3.5 and np.isnan(tf.speed_mps[1])
    # 07:45:52.25Z, and 18:45:53+11:00 = 07:45:53Z.
    assert (tf.t - parse_time("2019-02-18T07:45:52Z")).tolist() == [0.25, 1.0]
    path.write_text(GPX_11_ACCURACY)
    assert read_gpx(path).accuracy_m[1] == 4.0
    path.write_text(GPX.replace("<hdop>4</hdop>", "<hdop>4</hdop><speed>9</speed>"))
    for reader in (read_gpx, read_gpx_fast):
        assert reader(path).speed_mps[1] == 2.5  # from the extension, not the stray child


def test_a_large_gpx_file_takes_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import backend.patrols.trackfiles as trackfiles

    path = tmp_path / "t.gpx"
    path.write_text(GPX)
    monkeypatch.setattr(trackfiles, "GPX_FAST_BYTES", path.stat().st_size - 1)

    def no_gpxpy(*args: object) -> None:
        raise AssertionError("a file over GPX_FAST_BYTES must be streamed")

    monkeypatch.setattr(trackfiles.gpxpy, "parse", no_gpxpy)
    assert len(read_gpx(path)) == 3


def test_csv_columns_in_any_order_optional_cells_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "speed_mps,lon,time,lat\n"
        "1.5,-8.0,2024-06-01T21:00:05+01:00,52.0\n"
        ",-8.1,2024-06-01T20:00:00Z,52.1\n"
        "\n"
    )
    tf = read_csv_track(path)
    assert (tf.t - T0).tolist() == [-3600.0, -3595.0]
    assert tf.lat.tolist() == [52.1, 52.0]
    assert np.isnan(tf.speed_mps[0]) and tf.speed_mps[1] == 1.5
    assert np.isnan(tf.accuracy_m).all()
    path.write_text("time,lat,lon,accuracy\n")
    with pytest.raises(ValueError, match=r"line 1: columns .* \(unknown accuracy\)"):
        read_csv_track(path)
    path.write_text("time,lat,lon\n2024-06-01T21:00:00Z,52.0,-8.0\n2024-06-01T21:00:05Z,x,-8\n")
    with pytest.raises(ValueError, match=r"t\.csv line 3: lat 'x' is not a number"):
        read_csv_track(path)
    path.write_text("time,lat,lon\n")
    with pytest.raises(ValueError, match=r"t\.csv: no track points"):
        read_csv_track(path)
    with pytest.raises(ValueError, match="unknown track format"):
        read_track(tmp_path / "t.kml")


def test_geojson_names_are_id_then_name_then_position(tmp_path: Path) -> None:
    square = mapping(box(-8.001, 52.0, -8.0, 52.001))
    feats = [
        {"type": "Feature", "id": "HS-1", "properties": {"name": "x"}, "geometry": square},
        {"type": "Feature", "properties": {"name": "Quay"}, "geometry": square},
        {"type": "Feature", "properties": None, "geometry": square},
        {"type": "Feature", "id": 4, "geometry": square},
    ]
    path = tmp_path / "h.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    hs = read_hotspots_geojson(path)
    assert hs.ids == ("HS-1", "Quay", "feature-2", 4)
    assert hs.names == ("HS-1", "Quay", "feature-2", "4")
    feats.append({"type": "Feature", "properties": {"name": "Quay"}, "geometry": square})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    with pytest.raises(ValueError, match="feature 4: duplicate hot spot id or name 'Quay'"):
        read_hotspots_geojson(path)
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    path.write_text(
        json.dumps(
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": bowtie}]}
        )
    )
    with pytest.raises(ValueError, match="feature 0: invalid polygon"):
        read_hotspots_geojson(path)
