"""Checking every row of an incident file, in chunks of numpy arrays.

* **Nothing is dropped silently.** Every rejected row is counted and reported with its file line
  (the header is line 1) and the reason: the first problem found, in the order line shape, id,
  time, coordinates, offence. The first 1,000 are kept for the import.
* **Ids.** A file without an id column uses ``id=@hash``: the id is the SHA-1 of the row's raw
  fields plus ``#k`` for the k-th identical row in the file, so the same file maps to the same
  ids and genuinely identical rows stay distinct incidents. Within one file, a later good row
  with an id already seen is a duplicate, not an error.

Reads the database (offence types, districts) but writes nothing: ``writing`` stores the result.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import shapely
from django.conf import settings
from shapely.geometry import shape

from backend.accounts.models import District
from backend.analytics.projection import LocalProjection
from backend.config.dates import sane_window
from backend.config.timeparse import TIME_FORMATS_HELP, parse_times
from backend.incidents.mapping import (
    FIELD_LABELS,
    HASH_ID,
    ImportSpec,
    column_indexes,
    normalise,
    offence_lookup,
)
from backend.incidents.models import Incident, OffenceType
from backend.incidents.parsing import file_header, open_text

PROGRESS_ROWS = 10_000  # rows checked between progress writes: a poll a second sees it move
REJECTIONS_KEPT = 1_000  # rejections stored on the import (the counts are always complete)
VALUE_CHARS = 200  # a rejected value is cut to this many characters in the report
SOURCE_ID_MAX = Incident._meta.get_field("source_id").max_length or 80
PREMISE_MAX = Incident._meta.get_field("premise").max_length or 60
BLOCK_MAX = Incident._meta.get_field("block").max_length or 120
_HASH_SEP = "\x1f"  # ASCII unit separator: cannot be confused with a field's own characters

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class _Context:
    """Everything row checks need, built once per import."""

    indexes: dict[str, int]
    ncols: int
    hash_ids: bool
    tz: ZoneInfo
    offence_lookup: dict[str, int]
    single_offence: int | None
    projection: LocalProjection
    radius_m: float
    area_text: str
    districts: list[tuple[int, Any]]


@dataclass
class _State:
    """What carries from one chunk of rows to the next."""

    hash_counts: dict[str, int] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    duplicates: int = 0
    rejected: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    unknown_offences: dict[str, int] = field(default_factory=dict)
    naive_times: int = 0
    source_id: list[str] = field(default_factory=list)
    occurred: list[IntArray] = field(default_factory=list)
    lat: list[FloatArray] = field(default_factory=list)
    lon: list[FloatArray] = field(default_factory=list)
    offence_id: list[IntArray] = field(default_factory=list)
    premise: list[str] = field(default_factory=list)
    block: list[str] = field(default_factory=list)
    district_id: list[IntArray] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class ParsedFile:
    """The good rows as parallel arrays (UTC epoch seconds, WGS84 degrees), and the report."""

    rows: int
    source_id: list[str]
    occurred: IntArray
    lat: FloatArray
    lon: FloatArray
    offence_id: IntArray
    premise: list[str]
    block: list[str]  # block address, else intersection; "" when the file has neither
    district_id: IntArray  # -1: in no district
    duplicates: int  # within the file
    rejected: int
    rejections: list[dict[str, Any]]
    unknown_offences: dict[str, int]
    naive_times: int


def _context(spec: ImportSpec, header: list[str]) -> _Context:
    origin = settings.PRESENCE_ORIGIN
    radius_km = float(settings.PRESENCE_AREA_RADIUS_KM)
    lookup = offence_lookup()
    codes = dict(OffenceType.objects.values_list("code", "pk"))
    for value, code in spec.offence_aliases.items():
        if code in codes:
            lookup.setdefault(normalise(value), codes[code])
    districts = []
    for pk, boundary in District.objects.order_by("pk").values_list("pk", "boundary"):
        geom = shape(boundary)
        shapely.prepare(geom)
        districts.append((pk, geom))
    return _Context(
        indexes=column_indexes(spec, header),
        ncols=len(header),
        hash_ids=spec.columns.get("id") == HASH_ID,
        tz=ZoneInfo(spec.time_zone),
        offence_lookup=lookup,
        single_offence=codes[spec.offence] if spec.offence else None,
        projection=LocalProjection(origin[0], origin[1]),
        radius_m=radius_km * 1000.0,
        area_text=f"more than {radius_km:g} km from {origin[0]:.2f},{origin[1]:.2f}",
        districts=districts,
    )


def _epoch_s(day: date) -> int:
    """Seconds since 1970 at the start of ``day`` in UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _floats(values: list[str]) -> tuple[FloatArray, BoolArray, BoolArray]:
    """(numbers, missing, not a number); numbers are NaN where unreadable."""
    try:
        out = np.asarray(values, dtype=np.float64)
        return out, np.zeros(out.size, bool), np.zeros(out.size, bool)
    except ValueError:
        pass
    n = len(values)
    out = np.full(n, np.nan)
    missing = np.zeros(n, bool)
    bad = np.zeros(n, bool)
    for i, raw in enumerate(values):
        text = raw.strip()
        if not text:
            missing[i] = True
            continue
        try:
            out[i] = float(text)
        except ValueError:
            bad[i] = True
    return out, missing, bad


def _cut(value: str) -> str:
    return value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…"


def _fmt(x: float) -> str:
    return f"{x:.6g}" if math.isfinite(x) else str(x)


def _check_chunk(rows: list[list[str]], lines: IntArray, ctx: _Context, state: _State) -> None:
    """Check one chunk of records (``lines``: each record's first file line); keep the good."""
    n = len(rows)
    lens = np.fromiter(map(len, rows), dtype=np.int64, count=n)
    empty = lens == 0
    for i in np.flatnonzero(lens == 1).tolist():
        empty[i] = not rows[i][0].strip()
    shape_bad = (lens != ctx.ncols) & ~empty
    if (empty | shape_bad).any():
        blank = [""] * ctx.ncols
        fixed = [r if len(r) == ctx.ncols else blank for r in rows]
    else:
        fixed = rows
    # One pass per column: ``zip(*rows)`` would unpack the whole chunk into one call's
    # arguments, several times slower.
    columns = {f: list(map(itemgetter(i), fixed)) for f, i in ctx.indexes.items()}

    # id
    if ctx.hash_ids:
        joined = map(str.encode, map(_HASH_SEP.join, rows))
        digests = [h.hexdigest() for h in map(hashlib.sha1, joined)]
        counts = state.hash_counts
        if len(set(digests)) == n and counts.keys().isdisjoint(digests):
            counts.update(dict.fromkeys(digests, 1))  # the usual case: no identical rows
            ids = [d + "#1" for d in digests]
        else:
            ids = []
            for d in digests:
                k = counts.get(d, 0) + 1
                counts[d] = k
                ids.append(f"{d}#{k}")
        id_missing = id_long = id_nul = np.zeros(n, bool)
    else:
        ids = [v.strip() for v in columns["id"]]
        id_missing = np.fromiter((not v for v in ids), dtype=bool, count=n)
        id_long = np.fromiter((len(v) > SOURCE_ID_MAX for v in ids), dtype=bool, count=n)
        id_nul = np.zeros(n, bool)
        if "\x00" in "".join(ids):
            id_nul = np.fromiter(("\x00" in v for v in ids), dtype=bool, count=n)

    # time
    times = parse_times(columns["occurred_at"], ctx.tz)
    first_day, last_day = sane_window()
    in_window = (times.utc >= _epoch_s(first_day)) & (
        times.utc < _epoch_s(last_day + timedelta(days=1))
    )

    # coordinates
    lat, lat_missing, lat_nan_text = _floats(columns["lat"])
    lon, lon_missing, lon_nan_text = _floats(columns["lon"])
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(lat) & np.isfinite(lon)
        in_range = finite & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        x, y = ctx.projection.to_xy(lat, lon)
        inside = in_range & (np.hypot(x, y) <= ctx.radius_m)

    # offence
    if ctx.single_offence is not None:
        offence = np.full(n, ctx.single_offence, dtype=np.int64)
        offence_raw = None
    else:
        offence_raw = columns["offence"]
        resolved = {
            v: ctx.offence_lookup.get(normalise(v), -1 if v.strip() else -2)
            for v in set(offence_raw)
        }
        offence = np.fromiter((resolved[v] for v in offence_raw), dtype=np.int64, count=n)

    id_bad = id_missing | id_long | id_nul
    ok = ~(empty | shape_bad | id_bad) & times.ok & in_window & inside & (offence >= 0)
    bad_rows = np.flatnonzero(~ok)
    state.rejected += int(bad_rows.size)
    if offence_raw is not None:
        for i in np.flatnonzero((offence == -1) & ~ok).tolist():
            if empty[i] or shape_bad[i] or id_bad[i] or not times.ok[i]:
                continue
            if not in_window[i] or not inside[i]:
                continue
            value = offence_raw[i].strip()
            state.unknown_offences[value] = state.unknown_offences.get(value, 0) + 1
    room = REJECTIONS_KEPT - len(state.rejections)
    for i in bad_rows[: max(room, 0)].tolist():
        line = int(lines[i])
        if empty[i]:
            entry = ("", "empty line", "")
        elif shape_bad[i]:
            entry = ("", f"expected {ctx.ncols} fields, found {lens[i]}", ",".join(rows[i]))
        elif id_missing[i]:
            entry = ("id", "missing id", "")
        elif id_long[i]:
            entry = ("id", f"id is longer than {SOURCE_ID_MAX} characters", ids[i])
        elif id_nul[i]:
            entry = ("id", "id contains a NUL character", ids[i].replace("\x00", "\\0"))
        elif not times.ok[i]:
            raw = columns["occurred_at"][i]
            if times.missing[i]:
                entry = ("occurred_at", "missing time", "")
            else:
                entry = (
                    "occurred_at",
                    f"unparseable time '{raw.strip()}' (expected {TIME_FORMATS_HELP})",
                    raw,
                )
        elif not in_window[i]:
            raw = columns["occurred_at"][i]
            first, last = sane_window()
            entry = (
                "occurred_at",
                f"time '{raw.strip()}' must be between {first.isoformat()} and {last.isoformat()}",
                raw,
            )
        elif not inside[i]:
            entry = _coordinate_problem(
                i, lat, lon, columns, ctx, lat_missing, lon_missing, lat_nan_text, lon_nan_text
            )
        elif offence[i] == -2:
            entry = ("offence", "missing offence", "")
        else:
            value = offence_raw[i].strip() if offence_raw else ""
            entry = ("offence", f"unknown offence '{value}'", value)
        fld, reason, value = entry
        state.rejections.append(
            {"line": line, "field": fld, "reason": reason, "value": _cut(value)}
        )

    good = np.flatnonzero(ok)
    if good.size == 0:
        return
    good_ids = ids if good.size == n else [ids[i] for i in good.tolist()]
    if not ctx.hash_ids:
        keep = np.ones(good.size, bool)
        seen = state.seen_ids
        for j, sid in enumerate(good_ids):
            if sid in seen:
                keep[j] = False
            else:
                seen.add(sid)
        if not keep.all():
            state.duplicates += int((~keep).sum())
            good = good[keep]
            good_ids = [s for s, k in zip(good_ids, keep.tolist(), strict=True) if k]
    glat, glon = lat[good], lon[good]
    district = np.full(good.size, -1, dtype=np.int64)
    for pk, geom in ctx.districts:
        district[(district < 0) & shapely.contains_xy(geom, glon, glat)] = pk
    state.naive_times += int(times.naive[good].sum())
    state.source_id.extend(good_ids)
    state.occurred.append(times.utc[good])
    state.lat.append(glat)
    state.lon.append(glon)
    state.offence_id.append(offence[good])
    state.district_id.append(district)
    if "premise" in columns:
        raw = columns["premise"]
        chosen = raw if good.size == n else [raw[i] for i in good.tolist()]
        # Cut to the column's length (a place type, not worth rejecting a row for); a NUL
        # cannot be stored in PostgreSQL text.
        clean = {v: v.strip().replace("\x00", "")[:PREMISE_MAX] for v in set(chosen)}
        state.premise.extend(map(clean.__getitem__, chosen))
    else:
        state.premise.extend([""] * good.size)
    state.block.extend(_place_text(columns, good, n))


def _place_text(columns: dict[str, list[str]], good: IntArray, n: int) -> list[str]:
    """Each good row's block address, else its intersection (optional columns; cut to the
    column's length, like the premise: not worth rejecting a row for)."""
    out = [""] * good.size
    for name in ("intersection", "block"):  # block last: it wins where both are given
        if name not in columns:
            continue
        raw = columns[name]
        chosen = raw if good.size == n else [raw[i] for i in good.tolist()]
        for j, v in enumerate(chosen):
            text = " ".join(v.replace("\x00", "").split())[:BLOCK_MAX]
            if text:
                out[j] = text
    return out


def _coordinate_problem(
    i: int,
    lat: FloatArray,
    lon: FloatArray,
    columns: dict[str, list[str]],
    ctx: _Context,
    lat_missing: BoolArray,
    lon_missing: BoolArray,
    lat_bad: BoolArray,
    lon_bad: BoolArray,
) -> tuple[str, str, str]:
    """(field, reason, value) for a row whose coordinates are not inside the agency area."""
    raw_lat, raw_lon = columns["lat"][i].strip(), columns["lon"][i].strip()
    for fld, missing, bad, raw, val in (
        ("lat", lat_missing, lat_bad, raw_lat, lat[i]),
        ("lon", lon_missing, lon_bad, raw_lon, lon[i]),
    ):
        name = FIELD_LABELS[fld]
        if missing[i]:
            return fld, f"missing {name}", ""
        if bad[i]:
            return fld, f"{name} '{raw}' is not a number", raw
        if not math.isfinite(val):
            return fld, f"{name} is {raw} (not a finite number)", raw
    value = f"{raw_lat},{raw_lon}"
    la, lo = float(lat[i]), float(lon[i])
    swapped_inside = False
    if abs(lo) <= 90 and abs(la) <= 180:
        sx, sy = ctx.projection.to_xy(lo, la)
        swapped_inside = bool(np.hypot(sx, sy) <= ctx.radius_m)
    hint = (
        f"; latitude and longitude look swapped ({_fmt(lo)}, {_fmt(la)} would be inside)"
        if swapped_inside
        else ""
    )
    if abs(la) > 90:
        return "lat", f"latitude {_fmt(la)} is outside -90..90{hint}", value
    if abs(lo) > 180:
        return "lon", f"longitude {_fmt(lo)} is outside -180..180{hint}", value
    return (
        "lat",
        f"coordinates ({_fmt(la)}, {_fmt(lo)}) are outside the agency area ({ctx.area_text}){hint}",
        value,
    )


def _first_lines(rows: list[list[str]], before: int, after: int) -> IntArray:
    """Each record's first file line, given the reader's line before and after the chunk.

    Usually one record is one line. A quoted field with line breaks makes a record span more:
    then each record spans one line plus the line breaks inside its fields.
    """
    n = len(rows)
    if after - before == n:
        return np.arange(before + 1, after + 1, dtype=np.int64)
    spans = np.fromiter(
        (1 + sum(f.count("\n") or f.count("\r") for f in r) for r in rows), np.int64, count=n
    )
    return before + 1 + np.concatenate(([0], np.cumsum(spans)[:-1])).astype(np.int64)


def import_file_read(
    *,
    path: Path,
    spec: ImportSpec,
    progress: Callable[[int], None] | None = None,
) -> ParsedFile:
    """Read and check every row of ``path``; return the good rows and the report.

    Writes nothing. ``progress(rows_done)`` is called every ``PROGRESS_ROWS`` records.
    Raises ImportFileError when the file as a whole cannot be read, ValidationError when the
    mapping does not fit its header.
    """
    header, delimiter = file_header(path)
    ctx = _context(spec, header)
    state = _State()
    done = 0
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter)
        next(reader)
        last_line = reader.line_num
        while rows := list(islice(reader, PROGRESS_ROWS)):
            starts = _first_lines(rows, last_line, reader.line_num)
            last_line = reader.line_num
            _check_chunk(rows, starts, ctx, state)
            done += len(rows)
            if progress is not None:
                progress(done)

    def cat(parts: list[npt.NDArray[Any]], dtype: Any) -> npt.NDArray[Any]:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return ParsedFile(
        rows=done,
        source_id=state.source_id,
        occurred=cat(state.occurred, np.int64),
        lat=cat(state.lat, np.float64),
        lon=cat(state.lon, np.float64),
        offence_id=cat(state.offence_id, np.int64),
        premise=state.premise,
        block=state.block,
        district_id=cat(state.district_id, np.int64),
        duplicates=state.duplicates,
        rejected=state.rejected,
        rejections=state.rejections,
        unknown_offences=dict(
            sorted(state.unknown_offences.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        naive_times=state.naive_times,
    )
