"""Read GPS tracks (GPX, CSV) and hot spot polygons (GeoJSON) into arrays and geometries.

Pure file parsing for ``tracks_analyze`` and tests: no Django import. Every error is a
``ValueError`` naming the line (GPX, CSV) or the feature (GeoJSON) at fault.

Track formats:

- GPX 1.0 / 1.1 (the ``version`` attribute; 1.0 when absent), read with gpxpy: every
  ``<trkpt lat lon>`` of every track and segment, with its ``<time>`` (required). GPX times
  are UTC by the GPX schema, so a time without an offset is read as UTC. Optional, when
  present as simple numbers: the speed (m/s): in GPX 1.0 the ``<speed>`` child of ``trkpt``,
  in GPX 1.1 any element named ``speed`` inside ``<extensions>`` (e.g. Garmin's
  ``gpxtpx:speed``); in GPX 1.1 an element named ``accuracy`` inside ``<extensions>``
  (metres). ``<hdop>`` is ignored: it is a unitless dilution of precision, not metres. Files
  larger than ``GPX_FAST_BYTES`` are streamed by ``read_gpx_fast`` instead (same points).
- CSV with a header row naming the columns ``time,lat,lon`` and optionally ``accuracy_m``
  (metres) and ``speed_mps`` (m/s), in any order; an empty optional cell means "not
  reported". ``time`` is ISO-8601 with an offset or ``Z``; a time without one is an error.

Fixes are returned sorted by time (stable, so equal times keep file order).
"""

from __future__ import annotations

import csv
import json
import math
import xml.parsers.expat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gpxpy
import gpxpy.gpx
import numpy as np
import numpy.typing as npt
import shapely.geometry
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]

CSV_REQUIRED = ("time", "lat", "lon")
CSV_OPTIONAL = ("accuracy_m", "speed_mps")


@dataclass(frozen=True, eq=False)
class TrackFile:
    """One track's fixes, float64 arrays shaped (n,), sorted by time.

    Attributes:
        t: seconds since the Unix epoch (UTC).
        lat, lon: WGS84 degrees.
        accuracy_m: metres, NaN where not reported.
        speed_mps: metres per second, NaN where not reported.
    """

    t: FloatArray
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    speed_mps: FloatArray

    def __len__(self) -> int:
        return int(self.t.size)


@dataclass(frozen=True)
class HotspotFeatures:
    """Hot spot polygons read from GeoJSON.

    Attributes:
        ids: per feature, the value that identifies it in output: its ``id`` as given (string
            or number), else ``properties.name``, else ``"feature-<index>"`` (0-based).
        names: ``str(id)`` of each, for display; unique.
        geometries: Polygon or MultiPolygon per feature, WGS84 (lon, lat) degrees.
    """

    ids: tuple[str | int | float, ...]
    names: tuple[str, ...]
    geometries: tuple[BaseGeometry, ...]


def read_track(path: str | Path) -> TrackFile:
    """Read a ``.gpx`` or ``.csv`` track (chosen by the file extension, any case)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".gpx":
        return read_gpx(p)
    if suffix == ".csv":
        return read_csv_track(p)
    raise ValueError(f"{p.name}: unknown track format {suffix!r}; expected .gpx or .csv")


def parse_time(text: str, *, default_utc: bool = False) -> float:
    """ISO-8601 date-time -> epoch seconds. Without an offset: UTC if ``default_utc``, else
    ``ValueError``."""
    value = text.strip()
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"time {value!r} is not ISO-8601") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        if not default_utc:
            raise ValueError(
                f"time {value!r} has no UTC offset; write it as e.g. "
                "2024-05-01T21:15:00Z or 2024-05-01T22:15:00+01:00"
            )
        return dt.replace(tzinfo=UTC).timestamp()
    return dt.timestamp()


def _number(text: str, what: str, line: int, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"line {line}: {what} {text!r} is not a number") from None
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"line {line}: {what} {value!r} is outside [{lo:g}, {hi:g}]")
    return value


def _arrays(rows: list[tuple[float, float, float, float, float]], name: str) -> TrackFile:
    if not rows:
        raise ValueError("no track points")
    a = np.asarray(rows, dtype=np.float64)
    order = np.argsort(a[:, 0], kind="stable")
    a = a[order]
    return TrackFile(
        t=a[:, 0].copy(),
        lat=a[:, 1].copy(),
        lon=a[:, 2].copy(),
        accuracy_m=a[:, 3].copy(),
        speed_mps=a[:, 4].copy(),
    )


def _named(p: Path, exc: ValueError) -> ValueError:
    msg = str(exc)
    return ValueError(f"{p.name} {msg}" if msg.startswith("line ") else f"{p.name}: {msg}")


def read_csv_track(path: str | Path) -> TrackFile:
    """Read a CSV track (see the module docstring). Line numbers in errors are 1-based."""
    p = Path(path)
    try:
        return _arrays(_csv_rows(p), p.name)
    except ValueError as exc:
        raise _named(p, exc) from None


def _csv_rows(p: Path) -> list[tuple[float, float, float, float, float]]:
    rows: list[tuple[float, float, float, float, float]] = []
    with p.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise ValueError("empty file")
        cols = [h.strip() for h in header]
        missing = [c for c in CSV_REQUIRED if c not in cols]
        unknown = [c for c in cols if c not in CSV_REQUIRED + CSV_OPTIONAL]
        if missing or unknown or len(set(cols)) != len(cols):
            raise ValueError(
                "line 1: columns must be time,lat,lon[,accuracy_m,speed_mps], got "
                f"{','.join(cols)}"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + (f" (unknown {', '.join(unknown)})" if unknown else "")
            )
        at = {c: cols.index(c) for c in cols}
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(cols):
                raise ValueError(f"line {line}: {len(record)} fields, expected {len(cols)}")
            try:
                t = parse_time(record[at["time"]])
            except ValueError as exc:
                raise ValueError(f"line {line}: {exc}") from None
            lat = _number(record[at["lat"]], "lat", line, -90, 90)
            lon = _number(record[at["lon"]], "lon", line, -180, 180)
            acc = spd = math.nan
            if "accuracy_m" in at and record[at["accuracy_m"]].strip():
                acc = _number(record[at["accuracy_m"]], "accuracy_m", line, 0, math.inf)
            if "speed_mps" in at and record[at["speed_mps"]].strip():
                spd = _number(record[at["speed_mps"]], "speed_mps", line, 0, math.inf)
            rows.append((t, lat, lon, acc, spd))
    return rows


GPX_FAST_BYTES = 4_000_000
"""Above this file size ``read_gpx`` streams the file with ``read_gpx_fast`` (bench/gpx.py)."""


def read_gpx(path: str | Path) -> TrackFile:
    """Read every track point of a GPX file (see the module docstring) with gpxpy.

    gpxpy builds the whole document in memory: ``bench/gpx.py`` measured 2.6 times the time
    of the streaming expat reader ``read_gpx_fast`` and about 10 times the file's size in
    peak memory (a 2.2 MB file of 10,000 points: 22 MB against 2.7 MB; 21.5 MB: 218 MB
    against 27 MB). A phone track or one vehicle's day is well under ``GPX_FAST_BYTES``; a
    fleet's AVL export (``import_avl``) can be hundreds of MB, where gpxpy would need
    gigabytes, so larger files take the fast path. Both give the same points
    (``tests/patrols/test_tracks_analyze.py``). gpxpy does not keep line numbers: when a
    file is refused, the error comes from ``read_gpx_fast``, which names the line.
    """
    p = Path(path)
    if p.stat().st_size > GPX_FAST_BYTES:
        return read_gpx_fast(p)
    try:
        with p.open(encoding="utf-8-sig") as f:
            doc = gpxpy.parse(f)
    except UnicodeDecodeError:
        return read_gpx_fast(p)  # not UTF-8: expat decodes by the XML declaration
    except gpxpy.gpx.GPXException as exc:
        read_gpx_fast(p)  # raises the same refusal with its line number
        raise ValueError(f"{p.name}: {exc}") from None  # a file only gpxpy refuses
    try:
        return _arrays(_gpxpy_rows(doc), p.name)
    except ValueError as exc:
        read_gpx_fast(p)  # raises the same refusal with its line number
        raise ValueError(f"{p.name}: {exc}") from None  # a file only gpxpy refuses


def _gpxpy_rows(doc: gpxpy.gpx.GPX) -> list[tuple[float, float, float, float, float]]:
    v11 = doc.version == "1.1"
    rows: list[tuple[float, float, float, float, float]] = []
    for track in doc.tracks:
        for segment in track.segments:
            for pt in segment.points:
                lat, lon = float(pt.latitude), float(pt.longitude)
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError(f"lat, lon {lat!r}, {lon!r} out of range")
                if pt.time is None:
                    raise ValueError("trkpt has no <time>")
                when = pt.time if pt.time.utcoffset() is not None else pt.time.replace(tzinfo=UTC)
                given = {"speed": pt.speed} if not v11 and pt.speed is not None else {}
                for ext in pt.extensions if v11 else ():
                    for el in ext.iter():
                        name = str(el.tag).rsplit("}", 1)[-1]
                        if name in ("speed", "accuracy"):
                            given[name] = float((el.text or "").strip())
                for name, value in given.items():
                    if not (math.isfinite(value) and value >= 0):
                        raise ValueError(f"{name} {value!r} is outside [0, inf]")
                speed, accuracy = given.get("speed", math.nan), given.get("accuracy", math.nan)
                rows.append((when.timestamp(), lat, lon, accuracy, speed))
    return rows


def read_gpx_fast(path: str | Path) -> TrackFile:
    """``read_gpx``'s streaming reader on expat (the same rules and points, line-numbered
    errors): for files where gpxpy's whole-document parse costs too much (``read_gpx``)."""
    p = Path(path)
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    rows: list[tuple[float, float, float, float, float]] = []
    stack: list[str] = []
    point: dict[str, Any] | None = None
    text: list[str] = []
    version = ["1.0"]  # the root's version attribute, 1.0 when absent (as gpxpy reads it)

    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal point
        tag = local(name)
        line = parser.CurrentLineNumber
        if tag == "gpx" and not stack:
            version[0] = attrs.get("version", "1.0")
        if tag == "trkpt":
            if point is not None:
                raise ValueError(f"line {line}: trkpt inside trkpt")
            if "lat" not in attrs or "lon" not in attrs:
                raise ValueError(f"line {line}: trkpt needs lat and lon attributes")
            point = {
                "line": line,
                "lat": _number(attrs["lat"], "lat", line, -90, 90),
                "lon": _number(attrs["lon"], "lon", line, -180, 180),
            }
        stack.append(tag)
        text.clear()

    def end(name: str) -> None:
        nonlocal point
        tag = local(name)
        stack.pop()
        line = parser.CurrentLineNumber
        if point is not None and tag != "trkpt":
            value = "".join(text).strip()
            parent = stack[-1] if stack else ""
            if tag == "time" and parent == "trkpt":
                try:
                    point["t"] = parse_time(value, default_utc=True)
                except ValueError as exc:
                    raise ValueError(f"line {line}: {exc}") from None
            elif tag == "speed" and (
                (parent == "trkpt" and version[0] != "1.1")
                or ("extensions" in stack and version[0] == "1.1")
            ):
                point["speed"] = _number(value, "speed", line, 0, math.inf)
            elif tag == "accuracy" and "extensions" in stack and version[0] == "1.1":
                point["accuracy"] = _number(value, "accuracy", line, 0, math.inf)
        elif tag == "trkpt" and point is not None:
            if "t" not in point:
                raise ValueError(f"line {point['line']}: trkpt has no <time>")
            rows.append(
                (
                    point["t"],
                    point["lat"],
                    point["lon"],
                    point.get("accuracy", math.nan),
                    point.get("speed", math.nan),
                )
            )
            point = None
        text.clear()

    def chars(data: str) -> None:
        text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        with p.open("rb") as f:
            parser.ParseFile(f)
        return _arrays(rows, p.name)
    except xml.parsers.expat.ExpatError as exc:
        raise ValueError(f"{p.name} line {exc.lineno}: not well-formed XML ({exc})") from None
    except ValueError as exc:
        raise _named(p, exc) from None


def read_hotspots_geojson(path: str | Path) -> HotspotFeatures:
    """Read a GeoJSON FeatureCollection of Polygon / MultiPolygon features in WGS84.

    Names must be unique (they identify hot spots in the output). Geometries must be valid.
    """
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p.name} line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ValueError(f"{p.name}: expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise ValueError(f"{p.name}: the FeatureCollection has no features")
    ids: list[str | int | float] = []
    names: list[str] = []
    geoms: list[BaseGeometry] = []
    for i, feat in enumerate(features):
        where = f"{p.name} feature {i}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise ValueError(f"{where}: not a GeoJSON Feature")
        geometry = feat.get("geometry")
        gtype = geometry.get("type") if isinstance(geometry, dict) else None
        if gtype not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{where}: geometry type {gtype} is not Polygon or MultiPolygon")
        try:
            geom = shapely.geometry.shape(geometry)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"{where}: bad coordinates ({exc})") from None
        if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
            raise ValueError(f"{where}: empty geometry")
        if not geom.is_valid:
            raise ValueError(f"{where}: invalid polygon ({shapely.is_valid_reason(geom)})")
        lon_lo, lat_lo, lon_hi, lat_hi = geom.bounds
        if not (-180 <= lon_lo <= lon_hi <= 180 and -90 <= lat_lo <= lat_hi <= 90):
            raise ValueError(f"{where}: coordinates are not WGS84 (lon, lat) degrees")
        props = feat.get("properties") or {}
        key: str | int | float
        if feat.get("id") is not None:
            key = feat["id"]
            if isinstance(key, bool) or not isinstance(key, str | int | float):
                raise ValueError(f"{where}: id must be a string or a number, got {key!r}")
        elif isinstance(props, dict) and props.get("name") not in (None, ""):
            key = str(props["name"])
        else:
            key = f"feature-{i}"
        if str(key) in names:
            raise ValueError(f"{where}: duplicate hot spot id or name {str(key)!r}")
        ids.append(key)
        names.append(str(key))
        geoms.append(geom)
    return HotspotFeatures(ids=tuple(ids), names=tuple(names), geometries=tuple(geoms))
