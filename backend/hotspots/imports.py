"""Incident imports: read a CSV (or CSV.gz) export through a column mapping, check every row,
write the good ones exactly once.

The contract:

* **Idempotent on the source id.** An incident is unique per (source, source id); importing a
  file again stores nothing twice and counts those rows as duplicates. A file without an id
  column uses ``id=@hash``: the id is the SHA-1 of the row's raw fields plus ``#k`` for the k-th
  identical row in the file, so the same file maps to the same ids and genuinely identical rows
  stay distinct incidents. Within one file, a later good row with an id already seen is a
  duplicate, not an error.
* **Nothing is dropped silently.** Every rejected row is counted and reported with its file line
  (the header is line 1) and the reason: the first problem found, in the order line shape, id,
  time, coordinates, offence. The first 1,000 are stored on the import.
* **Nothing is half-imported.** Every row is checked first (progress is written as it goes,
  outside any transaction, so a page can poll it); then all good rows are written in one
  transaction. A failure while writing stores no incident and marks the import failed.
* **Exact counts.** PostgreSQL: COPY into a temporary staging table, then one
  ``INSERT .. SELECT .. ON CONFLICT (source, source_id) DO NOTHING`` whose row count is the
  number imported. SQLite: ``executemany`` of ``INSERT .. ON CONFLICT (source, source_id) DO
  NOTHING``, counting the source's rows before and after while holding SQLite's write lock.

Selectors for the import pages live here too, beside the services they serve.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from shapely.geometry import shape

from backend.accounts.models import District, Role
from backend.analytics.projection import LocalProjection
from backend.audit.services import audit_record
from backend.gis.layers import spreadsheet_safe
from backend.hotspots.models import (
    ColumnMapping,
    ImportStatus,
    Incident,
    IncidentImport,
    OffenceType,
)
from backend.hotspots.timeutil import TIME_FORMATS_HELP, parse_times, utc_datetimes

FIELDS = ("id", "occurred_at", "lat", "lon", "offence", "premise", "block", "intersection")
REQUIRED_FIELDS = ("occurred_at", "lat", "lon")
HASH_ID = "@hash"
FIELD_LABELS = {
    "id": "id",
    "occurred_at": "time",
    "lat": "latitude",
    "lon": "longitude",
    "offence": "offence",
    "premise": "premise",
    "block": "block address",
    "intersection": "intersection",
}

PROGRESS_ROWS = 10_000  # rows checked between progress writes: a poll a second sees it move
COPY_BLOCK_ROWS = 50_000  # rows converted from numpy to Python objects at a time: bounds memory
EXECUTEMANY_ROWS = 10_000  # rows per executemany (one row bound at a time, so no variable
# limit applies): bounds the parameter tuples held in memory at once
REJECTIONS_KEPT = 1_000  # rejections stored on the import (the counts are always complete)
VALUE_CHARS = 200  # a rejected value is cut to this many characters in the report
SOURCE_ID_MAX = Incident._meta.get_field("source_id").max_length or 80
PREMISE_MAX = Incident._meta.get_field("premise").max_length or 60
BLOCK_MAX = Incident._meta.get_field("block").max_length or 120
SOURCE_MAX = Incident._meta.get_field("source").max_length or 60
_HASH_SEP = "\x1f"  # ASCII unit separator: cannot be confused with a field's own characters

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class ImportFileError(Exception):
    """The file cannot be read as a whole (not CSV, not UTF-8, corrupt gzip): nothing written."""


# --- The mapping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSpec:
    """How to read one file: columns, time zone, offence. Stored on the import as JSON."""

    columns: dict[str, str]
    time_zone: str
    time_zone_defaulted: bool = False
    offence: str = ""
    offence_aliases: dict[str, str] = field(default_factory=dict)
    mapping_name: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "columns": dict(self.columns),
            "time_zone": self.time_zone,
            "time_zone_defaulted": self.time_zone_defaulted,
            "offence": self.offence,
            "offence_aliases": dict(self.offence_aliases),
            "mapping_name": self.mapping_name,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImportSpec:
        return cls(
            columns=dict(data.get("columns") or {}),
            time_zone=data.get("time_zone") or settings.TIME_ZONE,
            time_zone_defaulted=bool(data.get("time_zone_defaulted")),
            offence=data.get("offence") or "",
            offence_aliases=dict(data.get("offence_aliases") or {}),
            mapping_name=data.get("mapping_name") or "",
        )


def parse_column_map(text: str) -> dict[str, str]:
    """``"id=COL,occurred_at=COL,..."`` to {field: column}; ValidationError naming the item."""
    columns: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ValidationError({"map": f"'{item}' is not FIELD=COLUMN"})
        columns[name.strip()] = column.strip()
    return columns


def parse_offence_map(text: str) -> dict[str, str]:
    """``"FILE VALUE=code;OTHER=code"`` to {file value: offence code}."""
    aliases: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (text or "").split(";"))):
        value, sep, code = item.rpartition("=")
        if not sep or not value.strip() or not code.strip():
            raise ValidationError({"offence_map": f"'{item}' is not FILE VALUE=offence code"})
        aliases[value.strip()] = code.strip()
    return aliases


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def _offence_lookup() -> dict[str, int]:
    """{normalised code, name or alias: offence type id}; codes win over names over aliases."""
    lookup: dict[str, int] = {}
    offences = list(OffenceType.objects.values_list("pk", "code", "name", "aliases"))
    for pk, code, _, _ in offences:
        lookup.setdefault(_norm(code), pk)
    for pk, _, name, _ in offences:
        lookup.setdefault(_norm(name), pk)
    for pk, _, _, aliases in offences:
        for alias in aliases or []:
            lookup.setdefault(_norm(str(alias)), pk)
    return lookup


def offence_type_find(code_or_name: str) -> OffenceType | None:
    """The offence type whose code, name or alias is ``code_or_name`` (case-insensitive)."""
    pk = _offence_lookup().get(_norm(code_or_name))
    return OffenceType.objects.filter(pk=pk).first() if pk is not None else None


def import_spec_build(
    *,
    columns: dict[str, str] | None = None,
    mapping_name: str = "",
    time_zone: str = "",
    offence: str = "",
    offence_aliases: dict[str, str] | None = None,
) -> ImportSpec:
    """The mapping for one import: a saved mapping (if named) overlaid with explicit values.

    ``id`` defaults to ``@hash``; local times default to the mapping's zone, then the agency's
    (``time_zone_defaulted`` says so). Raises ValidationError keyed by the offending input
    (``mapping``, ``map``, ``tz``, ``offence``, ``offence_map``).
    """
    saved: ColumnMapping | None = None
    if mapping_name:
        saved = ColumnMapping.objects.filter(name=mapping_name).first()
        if saved is None:
            names = ", ".join(ColumnMapping.objects.values_list("name", flat=True)) or "none"
            raise ValidationError(
                {"mapping": f"no saved mapping is named '{mapping_name}' (saved: {names})"}
            )
    explicit = {k: v for k, v in (columns or {}).items() if v}
    unknown = sorted(set(explicit) - set(FIELDS))
    if unknown:
        raise ValidationError(
            {"map": f"unknown field '{unknown[0]}' (fields are {', '.join(FIELDS)})"}
        )
    merged = {**(saved.columns if saved else {}), **explicit}
    single = offence or (saved.offence if saved else "")
    if offence and "offence" in explicit:
        raise ValidationError(
            {"offence": "give either an offence column or one offence for every row, not both"}
        )
    if "offence" in explicit:
        single = ""
    elif offence:
        merged.pop("offence", None)
    missing = [f for f in REQUIRED_FIELDS if not merged.get(f)]
    if missing:
        raise ValidationError(
            {"map": f"map a column to {', '.join(missing)} (e.g. --map {missing[0]}=COLUMN)"}
        )
    if not merged.get("offence") and not single:
        raise ValidationError(
            {"offence": "map an offence column (offence=COLUMN) or give one offence for the file"}
        )
    merged.setdefault("id", HASH_ID)
    merged = {f: merged[f] for f in FIELDS if merged.get(f)}

    zone = time_zone or (saved.time_zone if saved else "")
    try:
        ZoneInfo(zone or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            {"tz": f"unknown time zone '{zone}' (use e.g. Europe/London)"}
        ) from exc

    code = ""
    if single:
        found = offence_type_find(single)
        if found is None:
            raise ValidationError({"offence": f"unknown offence '{single}'"})
        code = found.code
    aliases = {**(saved.offence_aliases if saved else {}), **(offence_aliases or {})}
    codes = set(OffenceType.objects.values_list("code", flat=True))
    for value, alias_code in aliases.items():
        if alias_code not in codes:
            raise ValidationError(
                {"offence_map": f"'{value}' maps to '{alias_code}', which is no offence code"}
            )
    return ImportSpec(
        columns=merged,
        time_zone=zone or settings.TIME_ZONE,
        time_zone_defaulted=not zone,
        offence=code,
        offence_aliases=aliases,
        mapping_name=saved.name if saved else "",
    )


# --- Reading the file -------------------------------------------------------------------------


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def _open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed if it is gzip (by its magic number, not its name)."""
    if _is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


@contextmanager
def _open_text(path: Path) -> Iterator[IO[str]]:
    try:
        raw = _open_binary(path)
    except OSError as exc:
        raise ImportFileError(f"cannot open the file: {exc.strerror or exc}") from exc
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            "the file is not UTF-8 text: export it as UTF-8 (CSV UTF-8) and upload it again"
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError(f"the file cannot be read (corrupt or truncated?): {exc}") from exc
    finally:
        text.close()


def _dialect(header_line: str) -> str:
    """The delimiter: a comma unless the header clearly uses ``;``, tab or ``|`` instead."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def file_header(path: Path) -> tuple[list[str], str]:
    """The header's column names and the delimiter; ImportFileError if there is none."""
    with _open_text(path) as f:
        first = f.readline()
    if not first.strip():
        raise ImportFileError("the file is empty: the first line must name the columns")
    delimiter = _dialect(first)
    header = next(csv.reader([first], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def import_spec_check(*, path: Path, spec: ImportSpec) -> list[str]:
    """Check ``spec`` against the file's header; return the header.

    ValidationError (``file`` or ``map``) when the file has no header or a mapped column is
    missing. Column names match exactly, then ignoring case and surrounding spaces.
    """
    try:
        header, _ = file_header(path)
    except ImportFileError as exc:
        raise ValidationError({"file": str(exc)}) from exc
    _column_indexes(spec, header)
    return header


def _column_indexes(spec: ImportSpec, header: list[str]) -> dict[str, int]:
    exact = {name: i for i, name in reversed(list(enumerate(header)))}
    folded = {name.casefold(): i for i, name in reversed(list(enumerate(header)))}
    indexes: dict[str, int] = {}
    for fld, column in spec.columns.items():
        if fld == "id" and column == HASH_ID:
            continue
        i = exact.get(column, folded.get(column.strip().casefold()))
        if i is None:
            raise ValidationError(
                {
                    "map": f"column '{column}' (for {fld}) is not in the file; its columns are: "
                    + ", ".join(header)
                }
            )
        indexes[fld] = i
    return indexes


def _count_lines(path: Path) -> int:
    """Lines in the file (an upper bound on its records, for the progress bar)."""
    newlines = returns = 0
    last = b""
    try:
        with _open_binary(path) as f:
            while block := f.read(1 << 20):
                newlines += block.count(b"\n")
                returns += block.count(b"\r")
                last = block[-1:]
    except (OSError, EOFError, zlib.error) as exc:
        raise ImportFileError(f"the file cannot be read (corrupt or truncated?): {exc}") from exc
    lines = newlines or returns
    return lines + (1 if last and last not in b"\r\n" else 0)


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
    district_id: IntArray  # -1: in no district
    block: list[str]  # block address, else intersection; "" when the file has neither
    duplicates: int  # within the file
    rejected: int
    rejections: list[dict[str, Any]]
    unknown_offences: dict[str, int]
    naive_times: int


def _context(spec: ImportSpec, header: list[str]) -> _Context:
    origin = settings.PRESENCE_ORIGIN
    radius_km = float(settings.PRESENCE_AREA_RADIUS_KM)
    lookup = _offence_lookup()
    codes = dict(OffenceType.objects.values_list("code", "pk"))
    for value, code in spec.offence_aliases.items():
        if code in codes:
            lookup.setdefault(_norm(value), codes[code])
    districts = []
    for pk, boundary in District.objects.order_by("pk").values_list("pk", "boundary"):
        geom = shape(boundary)
        shapely.prepare(geom)
        districts.append((pk, geom))
    return _Context(
        indexes=_column_indexes(spec, header),
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
    fields = list(ctx.indexes)
    getter = itemgetter(*(ctx.indexes[f] for f in fields))
    columns = dict(
        zip(fields, (list(c) for c in zip(*map(getter, fixed), strict=True)), strict=True)
    )

    # id
    if ctx.hash_ids:
        digests = [hashlib.sha1(_HASH_SEP.join(r).encode()).hexdigest() for r in rows]
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
        resolved = {v: ctx.offence_lookup.get(_norm(v), -1 if v.strip() else -2)
                    for v in set(offence_raw)}  # fmt: skip
        offence = np.fromiter((resolved[v] for v in offence_raw), dtype=np.int64, count=n)

    id_bad = id_missing | id_long | id_nul
    ok = ~(empty | shape_bad | id_bad) & times.ok & inside & (offence >= 0)
    bad_rows = np.flatnonzero(~ok)
    state.rejected += int(bad_rows.size)
    if offence_raw is not None:
        for i in np.flatnonzero((offence == -1) & ~ok).tolist():
            if empty[i] or shape_bad[i] or id_bad[i] or not times.ok[i] or not inside[i]:
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
                entry = ("occurred_at", f"unparseable time '{raw.strip()}' "
                         f"(expected {TIME_FORMATS_HELP})", raw)  # fmt: skip
        elif not inside[i]:
            entry = _coordinate_problem(i, lat, lon, columns, ctx, lat_missing, lon_missing,
                                        lat_nan_text, lon_nan_text)  # fmt: skip
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
    with _open_text(path) as f:
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
        district_id=cat(state.district_id, np.int64),
        block=state.block,
        duplicates=state.duplicates,
        rejected=state.rejected,
        rejections=state.rejections,
        unknown_offences=dict(
            sorted(state.unknown_offences.items(), key=lambda kv: (-kv[1], kv[0]))
        ),
        naive_times=state.naive_times,
    )


# --- Writing ----------------------------------------------------------------------------------


def _write_copy(import_id: int, source: str, parsed: ParsedFile) -> int:
    """PostgreSQL: binary COPY into a temporary table, then one INSERT .. ON CONFLICT DO NOTHING.

    Binary COPY with declared types lets psycopg's C code encode the rows (no text escaping).
    """
    stage = f"incident_stage_{import_id}"
    raw = connection.connection
    n = len(parsed.source_id)
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE {stage} (source_id text, occurred bigint, lat float8, "
            "lon float8, offence_id bigint, premise text, district_id bigint, block text) "
            "ON COMMIT DROP"
        )
        with cur.copy(f"COPY {stage} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["text", "int8", "float8", "float8", "int8", "text", "int8", "text"])
            for lo in range(0, n, COPY_BLOCK_ROWS):
                hi = min(n, lo + COPY_BLOCK_ROWS)
                district = parsed.district_id[lo:hi]
                for row in zip(
                    parsed.source_id[lo:hi],
                    parsed.occurred[lo:hi].tolist(),
                    parsed.lat[lo:hi].tolist(),
                    parsed.lon[lo:hi].tolist(),
                    parsed.offence_id[lo:hi].tolist(),
                    parsed.premise[lo:hi],
                    np.where(district < 0, None, district).tolist(),
                    parsed.block[lo:hi],
                    strict=True,
                ):
                    copy.write_row(row)
        cur.execute(
            "INSERT INTO hotspots_incident (source, source_id, occurred_at, lat, lon, "
            "offence_id, premise, district_id, imported_by_id, block) "
            "SELECT %s, source_id, to_timestamp(occurred), lat, lon, offence_id, premise, "
            f"district_id, %s, block FROM {stage} "
            "ON CONFLICT (source, source_id) DO NOTHING",
            (source, import_id),
        )
        imported = cur.rowcount
        # Dropped now, not only at commit: inside an outer transaction (tests) the name would
        # still be taken by the next import.
        cur.execute(f"DROP TABLE {stage}")
    return imported


def _write_rows(import_id: int, source: str, parsed: ParsedFile) -> int:
    """Other databases (SQLite): executemany of one INSERT .. ON CONFLICT DO NOTHING.

    Not ``bulk_create(ignore_conflicts=True)``: on SQLite that is ``INSERT OR IGNORE``, which
    would also skip rows breaking a CHECK or NOT NULL constraint, silently; and its per-object
    overhead made the Chicago file take 9 s instead of about 1 s. Counted as rows before and
    after: the caller already holds SQLite's write lock, so no other writer can interleave.
    """
    before = Incident.objects.filter(source=source).count()
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        "INSERT INTO hotspots_incident (source, source_id, occurred_at, lat, lon, offence_id, "
        "premise, district_id, imported_by_id, block) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (source, source_id) DO NOTHING"
    )
    n = len(parsed.source_id)
    with connection.cursor() as cur:
        for lo in range(0, n, EXECUTEMANY_ROWS):
            hi = min(n, lo + EXECUTEMANY_ROWS)
            cur.executemany(
                sql,
                [
                    (
                        source,
                        sid,
                        adapt(when),
                        la,
                        lo_,
                        off,
                        prem,
                        dist if dist >= 0 else None,
                        import_id,
                        blk,
                    )
                    for sid, when, la, lo_, off, prem, dist, blk in zip(
                        parsed.source_id[lo:hi],
                        utc_datetimes(parsed.occurred[lo:hi]),
                        parsed.lat[lo:hi].tolist(),
                        parsed.lon[lo:hi].tolist(),
                        parsed.offence_id[lo:hi].tolist(),
                        parsed.premise[lo:hi],
                        parsed.district_id[lo:hi].tolist(),
                        parsed.block[lo:hi],
                        strict=True,
                    )
                ],
            )
    return Incident.objects.filter(source=source).count() - before


@dataclass(frozen=True)
class ImportOutcome:
    """What one run did. ``method``: "copy" (PostgreSQL), "executemany", or "none" (the import
    was already done, so the run wrote nothing)."""

    import_id: int
    status: str
    rows: int
    imported: int
    duplicates: int
    rejected: int
    method: str
    seconds: float  # the whole run
    write_seconds: float = 0.0  # of which the write transaction (the rest: reading, checking)
    naive_times: int = 0  # good rows whose time had no offset (read in the import's zone)
    error: str = ""


def import_rows_write(*, import_id: int, parsed: ParsedFile) -> ImportOutcome | None:
    """Write ``parsed``'s good rows for the import in one transaction and mark it done.

    Returns None (writing nothing) if the import is already done: a second run of the same
    import, or one that raced this one, cannot count its rows twice.
    """
    started = time.perf_counter()
    method = "copy" if connection.vendor == "postgresql" else "executemany"
    with transaction.atomic(durable=True):
        # The guard is an UPDATE, so it takes the row lock (PostgreSQL) or the database write
        # lock (SQLite) before anything is counted: a concurrent run waits, then sees "done".
        claimed = (
            IncidentImport.objects.filter(pk=import_id)
            .exclude(status=ImportStatus.DONE)
            .update(status=ImportStatus.RUNNING)
        )
        if not claimed:
            return None
        imp = IncidentImport.objects.get(pk=import_id)
        writer = _write_copy if method == "copy" else _write_rows
        imported = writer(import_id, imp.source, parsed) if parsed.source_id else 0
        duplicates = len(parsed.source_id) - imported + parsed.duplicates
        imp.status = ImportStatus.DONE
        imp.rows_total = imp.rows_done = parsed.rows
        imp.imported = imported
        imp.duplicates = duplicates
        imp.rejected = parsed.rejected
        imp.rejections = parsed.rejections
        # Kept beside the mapping until IncidentImport has a field of its own for it.
        imp.mapping = {**imp.mapping, "unknown_offences": parsed.unknown_offences}
        imp.error = ""
        imp.finished_at = timezone.now()
        imp.save()
        audit_record(
            actor=imp.uploaded_by,
            action="incident_import.done",
            obj=imp,
            after={"imported": imported, "duplicates": duplicates, "rejected": parsed.rejected},
        )
    return ImportOutcome(
        import_id=import_id,
        status=ImportStatus.DONE,
        rows=parsed.rows,
        imported=imported,
        duplicates=duplicates,
        rejected=parsed.rejected,
        method=method,
        seconds=time.perf_counter() - started,
        write_seconds=time.perf_counter() - started,
        naive_times=parsed.naive_times,
    )


# --- The import's life: create, run, re-run ---------------------------------------------------


def stored_file_path(imp: IncidentImport) -> Path | None:
    """Where the import's uploaded copy is kept (``MEDIA_ROOT/imports/<client_uuid>.csv[.gz]``)."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    for suffix in (".csv.gz", ".csv"):
        candidate = folder / f"{imp.client_uuid}{suffix}"
        if candidate.exists():
            return candidate
    return None


def default_source(file_name: str) -> str:
    """The file's stem without .gz and .csv: ``chicago.csv.gz`` -> ``chicago``."""
    name = Path(file_name).name
    for suffix in (".gz", ".csv", ".txt", ".tsv"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return (name or "import")[:SOURCE_MAX]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _store(path: Path, client_uuid: uuid.UUID, *, move: bool) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{client_uuid}{'.csv.gz' if _is_gzip(path) else '.csv'}"
    if move:
        shutil.move(str(path), target)
    else:
        shutil.copyfile(path, target)
    return target


def column_mapping_save(
    *, name: str, source: str, spec: ImportSpec, actor: Any = None
) -> ColumnMapping:
    """Create or replace the saved mapping ``name`` with ``spec`` (audited)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise ValidationError({"save_mapping": "a mapping name has 1 to 80 characters"})
    with transaction.atomic():
        before = ColumnMapping.objects.filter(name=name).values("columns", "time_zone").first()
        mapping, _ = ColumnMapping.objects.update_or_create(
            name=name,
            defaults={
                "source": source,
                "columns": spec.columns,
                "time_zone": "" if spec.time_zone_defaulted else spec.time_zone,
                "offence": spec.offence,
                "offence_aliases": spec.offence_aliases,
            },
        )
        audit_record(
            actor=actor,
            action="column_mapping.update" if before else "column_mapping.create",
            obj=mapping,
            before=before,
            after={"columns": spec.columns, "time_zone": mapping.time_zone},
        )
    return mapping


def incident_import_create(
    *,
    path: Path,
    file_name: str,
    spec: ImportSpec,
    source: str = "",
    client_uuid: uuid.UUID | None = None,
    uploaded_by: Any = None,
    store: str = "no",
    save_mapping: str = "",
) -> tuple[IncidentImport, bool]:
    """Record an import of the file at ``path``; (import, created).

    A client UUID already used returns that import unchanged (created False): a retried upload
    is stored once. ``store``: "move" or "copy" keeps the file under MEDIA_ROOT for the task,
    "no" leaves it where it is (the command reads it in place). Checks the mapping against the
    header first: ValidationError names the field (``file``, ``map``, ``source``).
    """
    client_uuid = client_uuid or uuid.uuid4()
    existing = IncidentImport.objects.filter(client_uuid=client_uuid).first()
    if existing is not None:
        if store == "move":
            path.unlink(missing_ok=True)
        return existing, False
    import_spec_check(path=path, spec=spec)
    if not (source or "").strip() and spec.mapping_name:
        saved_source = ColumnMapping.objects.filter(name=spec.mapping_name).values_list(
            "source", flat=True
        )
        source = saved_source.first() or ""
    source = (source or "").strip() or default_source(file_name)
    if len(source) > SOURCE_MAX:
        raise ValidationError({"source": f"a source has at most {SOURCE_MAX} characters"})
    sha = _sha256(path)
    with transaction.atomic():
        if save_mapping:
            column_mapping_save(name=save_mapping, source=source, spec=spec, actor=uploaded_by)
            spec = replace(spec, mapping_name=save_mapping.strip())
        imp, created = IncidentImport.objects.get_or_create(
            client_uuid=client_uuid,
            defaults={
                "uploaded_by": uploaded_by if getattr(uploaded_by, "pk", None) else None,
                "source": source,
                "file_name": Path(file_name).name[:255],
                "file_sha256": sha,
                "mapping": spec.as_json(),
            },
        )
        if created:
            audit_record(
                actor=uploaded_by,
                action="incident_import.create",
                obj=imp,
                after={"source": source, "file_name": imp.file_name, "mapping": imp.mapping},
            )
    if created and store in {"move", "copy"}:
        _store(path, client_uuid, move=store == "move")
    elif not created and store == "move":
        path.unlink(missing_ok=True)
    return imp, created


def incident_import_submit(**kwargs: Any) -> tuple[IncidentImport, bool]:
    """``incident_import_create`` keeping the file, then the import task once committed."""
    from backend.hotspots.tasks import import_run_task  # tasks import this module

    kwargs.setdefault("store", "move")
    with transaction.atomic(durable=True):
        imp, created = incident_import_create(**kwargs)
        if created:
            pk = imp.pk
            transaction.on_commit(lambda: import_run_task.delay(pk))
    return imp, created


def _mark_failed(import_id: int, error: str) -> None:
    with transaction.atomic():
        IncidentImport.objects.filter(pk=import_id).exclude(status=ImportStatus.DONE).update(
            status=ImportStatus.FAILED, error=error[:2000], finished_at=timezone.now()
        )
        imp = IncidentImport.objects.get(pk=import_id)
        audit_record(
            actor=imp.uploaded_by, action="incident_import.failed", obj=imp, after={"error": error}
        )


def incident_import_run(*, import_id: int, path: Path | None = None) -> ImportOutcome:
    """Read, check and write the import ``import_id`` (idempotent: a done import is a no-op).

    ``path`` is the file to read (default: the stored upload). Progress goes to ``rows_done``
    as rows are checked. A file that cannot be read, or a mapping that no longer fits, marks
    the import failed and returns; any other error while writing marks it failed, stores no
    incident, and is raised again (a task retries it).
    """
    started = time.perf_counter()
    imp = IncidentImport.objects.get(pk=import_id)

    def outcome(method: str, error: str = "") -> ImportOutcome:
        cur = IncidentImport.objects.get(pk=import_id)
        return ImportOutcome(
            import_id=import_id, status=cur.status, rows=cur.rows_total, imported=cur.imported,
            duplicates=cur.duplicates, rejected=cur.rejected, method=method,
            seconds=time.perf_counter() - started, error=error or cur.error,
        )  # fmt: skip

    if imp.status == ImportStatus.DONE:
        return outcome("none")
    spec = ImportSpec.from_json(imp.mapping)
    file = path or stored_file_path(imp)
    try:
        if file is None:
            raise ImportFileError("the uploaded file is no longer stored: upload it again")
        total = max(_count_lines(file) - 1, 0)
        IncidentImport.objects.filter(pk=import_id).exclude(status=ImportStatus.DONE).update(
            status=ImportStatus.RUNNING, rows_total=total, rows_done=0, error=""
        )

        def progress(done: int) -> None:
            IncidentImport.objects.filter(pk=import_id).exclude(status=ImportStatus.DONE).update(
                rows_done=min(done, total)
            )

        parsed = import_file_read(path=file, spec=spec, progress=progress)
    except ImportFileError as exc:
        _mark_failed(import_id, str(exc))
        return outcome("none", str(exc))
    except ValidationError as exc:
        message = "; ".join(m for msgs in exc.message_dict.values() for m in msgs)
        _mark_failed(import_id, message)
        return outcome("none", message)
    try:
        written = import_rows_write(import_id=import_id, parsed=parsed)
    except Exception as exc:
        _mark_failed(import_id, f"nothing was imported: the write failed: {exc}")
        raise
    if written is None:
        return outcome("none")
    return replace(written, seconds=time.perf_counter() - started)


def incident_import_rerun(*, import_id: int, actor: Any = None) -> IncidentImport:
    """A new import of the same stored file and mapping (saved mapping and aliases re-read).

    Safe because imports are idempotent: only rows that were rejected before and now pass
    (e.g. an offence value mapped since) are added. ValidationError if the file is gone.
    """
    old = IncidentImport.objects.get(pk=import_id)
    file = stored_file_path(old)
    if file is None:
        raise ValidationError({"file": "the uploaded file is no longer stored: upload it again"})
    spec = ImportSpec.from_json(old.mapping)
    if spec.mapping_name and ColumnMapping.objects.filter(name=spec.mapping_name).exists():
        saved = ColumnMapping.objects.get(name=spec.mapping_name)
        spec = replace(spec, offence_aliases={**saved.offence_aliases, **spec.offence_aliases})
    imp, _ = incident_import_submit(
        path=file,
        file_name=old.file_name,
        spec=spec,
        source=old.source,
        uploaded_by=actor,
        store="copy",
    )
    return imp


def offence_aliases_save(
    *, import_id: int, aliases: dict[str, str], target: str, actor: Any = None
) -> int:
    """Save ``aliases`` ({file value: offence code}) so later imports read those values.

    ``target`` "mapping": into the import's saved column mapping (only that records system);
    "offence": into each offence type's aliases (every import). Returns how many were saved.
    """
    aliases = {v.strip(): c for v, c in aliases.items() if v.strip() and c}
    if not aliases:
        return 0
    offences = {o.code: o for o in OffenceType.objects.filter(code__in=set(aliases.values()))}
    unknown = sorted(set(aliases.values()) - set(offences))
    if unknown:
        raise ValidationError({"offence": f"unknown offence code '{unknown[0]}'"})
    imp = IncidentImport.objects.get(pk=import_id)
    with transaction.atomic():
        if target == "mapping":
            name = ImportSpec.from_json(imp.mapping).mapping_name
            mapping = ColumnMapping.objects.select_for_update().filter(name=name).first()
            if mapping is None:
                raise ValidationError(
                    {"target": "this import used no saved mapping: save to the offence types"}
                )
            before = dict(mapping.offence_aliases)
            mapping.offence_aliases = {**mapping.offence_aliases, **aliases}
            mapping.save(update_fields=["offence_aliases", "updated_at"])
            audit_record(actor=actor, action="column_mapping.aliases", obj=mapping,
                         before=before, after=mapping.offence_aliases)  # fmt: skip
        elif target == "offence":
            for value, code in aliases.items():
                offence = OffenceType.objects.select_for_update().get(pk=offences[code].pk)
                if _norm(value) in {_norm(a) for a in offence.aliases}:
                    continue
                before = list(offence.aliases)
                offence.aliases = [*offence.aliases, value]
                offence.save(update_fields=["aliases"])
                audit_record(actor=actor, action="offence_type.aliases", obj=offence,
                             before=before, after=offence.aliases)  # fmt: skip
        else:
            raise ValidationError({"target": "save to 'mapping' or 'offence'"})
    return len(aliases)


# --- Selectors --------------------------------------------------------------------------------


def import_list_for(*, user: Any) -> QuerySet[IncidentImport]:
    """Imports ``user`` may see, newest first: analysts and admins all, anyone else none."""
    if not (getattr(user, "is_authenticated", False) and user.has_role(Role.ANALYST)):
        return IncidentImport.objects.none()
    return IncidentImport.objects.select_related("uploaded_by").order_by("-created_at", "-pk")


def import_unknown_offences(imp: IncidentImport) -> dict[str, int]:
    """{file value: rows} of offence values no offence type or alias matched."""
    return dict((imp.mapping or {}).get("unknown_offences") or {})


def column_mapping_list() -> QuerySet[ColumnMapping]:
    return ColumnMapping.objects.order_by("name")


def rejections_csv_rows(imp: IncidentImport) -> Iterable[list[object]]:
    """The stored rejections as CSV rows (header first), safe to open in a spreadsheet."""
    yield ["line", "field", "reason", "value"]
    for r in imp.rejections:
        yield [r.get("line"), r.get("field"), spreadsheet_safe(str(r.get("reason", ""))),
               spreadsheet_safe(str(r.get("value", "")))]  # fmt: skip
