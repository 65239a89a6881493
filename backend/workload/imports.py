"""Workload imports: CAD calls for service, rosters and 24x7 matrices.

The contract, as the incident import's (``incidents``/``hotspots`` imports):

* **Every bad row is reported** by its file line (the header is line 1), field and reason.
* **All or nothing.** Every row is checked first; a file with any bad row is refused whole
  (``ImportRejected`` carries the problems) and nothing is written, not even the import's
  own row. A good file is written in one transaction with its audit row.
* **A retried upload is stored once.** The page sends a client UUID with the file; a second
  request with the same UUID returns the first import unchanged. Rows are also unique (a call
  per (call id, unit, en route); a shift per (unit, start)), so the same export imported twice,
  or two overlapping exports, store each row once and count the rest as duplicates.

Times without an offset are local to the agency (``PRESENCE_TIME_ZONE``; the first of a
repeated autumn hour); times with an offset are read as they say.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from backend.accounts.models import District
from backend.analytics.workload import DAYS, HOURS, WEEKDAYS
from backend.audit.services import audit_record
from backend.config.dates import sane_date_problem
from backend.config.timeparse import parse_time
from backend.workload.models import (
    CallRecord,
    ImportKind,
    MatrixKind,
    RosterShift,
    WorkloadImport,
    WorkloadMatrix,
)

CITYWIDE = "citywide"
MAX_ERRORS = 1_000  # problems kept for the report (the count is always complete)
MAX_FILE_BYTES = 50 * 1024 * 1024  # a year of a large city's CAD export fits well within
MAX_BUSY_HOURS = 24  # a unit busy longer than this on one call is a typo in the clear time
MAX_SHIFT_HOURS = 24
VALUE_CHARS = 80
INSERT_BATCH = 2_000  # rows per bulk insert: 12 columns x 2,000 stays under SQLite's limit


class ImportRejected(Exception):
    """The file was refused whole; ``problems`` lists each bad row (line, field, reason, value)."""

    def __init__(self, problems: list[dict[str, Any]], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        first = problems[0] if problems else {"line": "?", "reason": "unknown"}
        super().__init__(
            f"{self.total} problem{'s' if self.total != 1 else ''}; nothing was imported. "
            f"First: {problem_text(first)}"
        )


def problem_text(p: dict[str, Any]) -> str:
    """``line 5, WED: 'abc' is not a number`` for one problem."""
    where = f"line {p.get('line')}" if p.get("line") else "the file"
    fld = f", {p['field']}" if p.get("field") else ""
    return f"{where}{fld}: {p.get('reason')}"


@dataclass
class _Problems:
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, line: int, fld: str, reason: str, value: str = "") -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            cut = value if len(value) <= VALUE_CHARS else value[: VALUE_CHARS - 1] + "…"
            self.items.append({"line": line, "field": fld, "reason": reason, "value": cut})

    def raise_if_any(self) -> None:
        if self.total:
            raise ImportRejected(self.items, self.total)


# --- Reading ----------------------------------------------------------------------------------


def _text(data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise ImportRejected(
            [{"line": 0, "field": "", "reason": f"the file is over {MAX_FILE_BYTES >> 20} MB"}]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected(
            [
                {
                    "line": 0,
                    "field": "",
                    "value": "",
                    "reason": "the file is not UTF-8 text: export it as UTF-8 (CSV UTF-8)",
                }
            ]
        ) from exc


def _records(text: str) -> Iterable[tuple[int, list[str]]]:
    """(first file line, fields) of every record after the header, blank lines skipped."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    for row in reader:
        start = line
        line = reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield start, row


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-/]+", "_", name.strip().casefold()).strip("_")


TIME_HELP = "use e.g. 2024-05-01 21:30, 2024-05-01T21:30:00-04:00 or 05/01/2024 9:30 PM"


_TRUE = {"1", "y", "yes", "true", "t", "x", "si", "self", "self-initiated", "self initiated"}
_FALSE = {"", "0", "n", "no", "false", "f", "dispatched", "cfs"}


def district_lookup() -> dict[str, District]:
    """{casefolded name or code: district}."""
    out: dict[str, District] = {}
    for d in District.objects.all():
        out.setdefault(d.code.casefold(), d)
        out.setdefault(d.name.casefold(), d)
    return out


def district_find(name: str) -> District | None:
    """The district named ``name`` (name or code, any case); None for ``citywide``.

    Raises LookupError naming the known districts when there is no such district."""
    key = name.strip().casefold()
    if key in {CITYWIDE, "city"}:
        return None
    found = district_lookup().get(key)
    if found is None:
        known = ", ".join(District.objects.values_list("name", flat=True)) or "none yet"
        raise LookupError(f"no district is named '{name}' (districts: {known}; or 'citywide')")
    return found


# --- Columns of the CAD and roster files -----------------------------------------------------

CALL_COLUMNS: dict[str, tuple[str, ...]] = {
    "call_id": ("call_id", "call", "call_number", "incident_number", "event_id", "cad_id"),
    "unit": ("unit", "unit_id", "officer"),
    "unit_district": ("unit_district", "units_district", "unit_zone"),
    "call_district": ("call_district", "calls_district", "district", "zone"),
    "received": ("received", "received_at", "call_received", "time_received"),
    "en_route": ("en_route", "enroute", "dispatched", "dispatched_en_route", "en_route_at"),
    "on_scene": ("on_scene", "onscene", "arrived", "on_scene_at"),
    "cleared": ("cleared", "clear", "cleared_at", "time_cleared"),
    "priority": ("priority",),
    "self_initiated": ("self_initiated", "self", "officer_initiated", "self_init"),
}
CALL_REQUIRED = (
    "call_id",
    "unit",
    "unit_district",
    "call_district",
    "received",
    "en_route",
    "cleared",
)
ROSTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "unit": ("unit", "officer", "officer_or_unit", "name", "badge"),
    "district": ("district", "zone"),
    "start": ("start", "shift_start", "start_at", "on_duty"),
    "end": ("end", "shift_end", "end_at", "off_duty"),
    "meal_minutes": ("meal_minutes", "meal", "meal_break", "meal_break_minutes"),
    "court_minutes": ("court_minutes", "court", "court_time", "court_time_minutes"),
}
ROSTER_REQUIRED = ("unit", "district", "start", "end")


def _columns(
    header: list[str], names: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> dict[str, int]:
    index = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    found = {}
    for fld, aliases in names.items():
        for alias in aliases:
            if alias in index:
                found[fld] = index[alias]
                break
    missing = [f for f in required if f not in found]
    if missing:
        raise ImportRejected(
            [
                {
                    "line": 1,
                    "field": ", ".join(missing),
                    "value": ",".join(header)[:VALUE_CHARS],
                    "reason": f"the header has no {' / '.join(missing)} column (columns needed: "
                    f"{', '.join(required)}; found: {', '.join(header)})",
                }
            ]
        )
    return found


@dataclass(frozen=True)
class ParsedRows:
    rows: int
    objects: list[Any]


class _Table:
    """A CSV file's rows after its header, for a row-by-row check: iterating yields each row's
    line number and a ``get(column)`` for its stripped cell ("" for an absent optional column);
    rows with the wrong number of fields are reported to ``problems`` and skipped."""

    def __init__(
        self, data: bytes, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
    ) -> None:
        self._records = iter(_records(_text(data)))
        try:
            _, self._header = next(self._records)
        except StopIteration:
            raise ImportRejected(
                [
                    {
                        "line": 1,
                        "field": "",
                        "value": "",
                        "reason": "the file is empty: the first line must name the columns",
                    }
                ]
            ) from None
        self._cols = _columns(self._header, columns, required)
        self.problems = _Problems()
        self.rows = 0

    def __iter__(self) -> Iterator[tuple[int, Callable[[str], str]]]:
        width, cols = len(self._header), self._cols
        for line, row in self._records:
            self.rows += 1
            if len(row) != width:
                self.problems.add(
                    line, "", f"expected {width} fields, found {len(row)}", ",".join(row)
                )
                continue

            def get(name: str, row: list[str] = row) -> str:
                return row[cols[name]].strip() if name in cols else ""

            yield line, get

    def result(self, objects: list[Any]) -> ParsedRows:
        """ImportRejected with every problem found, else the rows' objects."""
        if self.rows == 0:
            self.problems.add(2, "", "the file has a header but no rows")
        self.problems.raise_if_any()
        return ParsedRows(rows=self.rows, objects=objects)


def calls_parse(data: bytes) -> ParsedRows:
    """Check every row of a CAD export; ImportRejected with every problem, else the unsaved
    ``CallRecord`` objects (without their import)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    districts = district_lookup()
    table = _Table(data, CALL_COLUMNS, CALL_REQUIRED)
    problems = table.problems
    out: list[CallRecord] = []
    for line, get in table:
        bad = False

        def fail(fld: str, reason: str, value: str, line: int = line) -> None:
            nonlocal bad
            if not bad:
                problems.add(line, fld, reason, value)
            bad = True

        call_id, unit = get("call_id"), get("unit")
        if not call_id:
            fail("call_id", "missing call id", "")
        elif len(call_id) > 80:
            fail("call_id", "a call id has at most 80 characters", call_id)
        if not unit:
            fail("unit", "missing unit", "")
        elif len(unit) > 80:
            fail("unit", "a unit has at most 80 characters", unit)
        call_district = districts.get(get("call_district").casefold())
        if call_district is None:
            fail("call_district", _unknown_district(get("call_district")), get("call_district"))
        raw_ud = get("unit_district")
        unit_district = districts.get(raw_ud.casefold()) if raw_ud else None
        if raw_ud and unit_district is None:
            fail("unit_district", _unknown_district(raw_ud), raw_ud)
        times: dict[str, datetime | None] = {}
        for fld in ("received", "en_route", "on_scene", "cleared"):
            raw = get(fld)
            times[fld] = parse_time(raw, tz)
            if raw and times[fld] is None:
                fail(fld, f"'{raw}' is not a time ({TIME_HELP})", raw)
            elif (when := times[fld]) is not None and (problem := sane_date_problem(when)):
                fail(fld, f"'{raw}' {problem}", raw)
            elif not raw and fld in CALL_REQUIRED:
                fail(fld, f"missing {fld.replace('_', ' ')} time", "")
        received, en_route = times["received"], times["en_route"]
        on_scene, cleared = times["on_scene"], times["cleared"]
        if received and en_route and en_route < received:
            fail("en_route", "en route is before the call was received", get("en_route"))
        if en_route and cleared:
            if cleared < en_route:
                fail("cleared", "cleared is before en route", get("cleared"))
            elif cleared - en_route > timedelta(hours=MAX_BUSY_HOURS):
                fail(
                    "cleared",
                    f"the unit is busy over {MAX_BUSY_HOURS} hours: check the clear time",
                    get("cleared"),
                )
        if on_scene and en_route and cleared and not en_route <= on_scene <= cleared:
            fail("on_scene", "on scene is not between en route and cleared", get("on_scene"))
        flag = get("self_initiated").casefold()
        if flag not in _TRUE and flag not in _FALSE:
            fail("self_initiated", "self-initiated must be yes/no, true/false or 1/0", flag)
        priority = get("priority")
        if len(priority) > 20:
            fail("priority", "a priority has at most 20 characters", priority)
        if bad:
            continue
        assert received and en_route and cleared and call_district
        out.append(
            CallRecord(
                call_id=call_id,
                unit=unit,
                unit_district=unit_district,
                call_district=call_district,
                received_at=received,
                en_route_at=en_route,
                on_scene_at=on_scene,
                cleared_at=cleared,
                priority=priority,
                self_initiated=flag in _TRUE,
            )
        )
    return table.result(out)


def _unknown_district(value: str) -> str:
    if not value:
        return "missing district"
    known = ", ".join(District.objects.values_list("name", flat=True)) or "none yet"
    return f"no district is named '{value}' (districts: {known})"


def _minutes(raw: str) -> int | None:
    if not raw:
        return 0
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0 or value != int(value):
        return None
    return int(value)


def roster_parse(data: bytes) -> ParsedRows:
    """Check every row of a roster; ImportRejected with every problem, else unsaved
    ``RosterShift`` objects."""
    tz = ZoneInfo(settings.TIME_ZONE)
    districts = district_lookup()
    table = _Table(data, ROSTER_COLUMNS, ROSTER_REQUIRED)
    problems = table.problems
    out: list[RosterShift] = []
    for line, get in table:
        unit = get("unit")
        district = districts.get(get("district").casefold())
        start, end = parse_time(get("start"), tz), parse_time(get("end"), tz)
        meal, court = _minutes(get("meal_minutes")), _minutes(get("court_minutes"))
        if not unit or len(unit) > 80:
            problems.add(
                line, "unit", "missing unit" if not unit else "at most 80 characters", unit
            )
        elif district is None:
            problems.add(line, "district", _unknown_district(get("district")), get("district"))
        elif start is None:
            problems.add(
                line, "start", f"'{get('start')}' is not a time ({TIME_HELP})", get("start")
            )
        elif end is None:
            problems.add(line, "end", f"'{get('end')}' is not a time ({TIME_HELP})", get("end"))
        elif problem := sane_date_problem(start):
            problems.add(line, "start", f"'{get('start')}' {problem}", get("start"))
        elif end <= start:
            problems.add(line, "end", "the shift ends at or before it starts", get("end"))
        elif end - start > timedelta(hours=MAX_SHIFT_HOURS):
            problems.add(
                line, "end", f"a shift over {MAX_SHIFT_HOURS} hours: check the end", get("end")
            )
        elif meal is None:
            problems.add(
                line,
                "meal_minutes",
                "meal minutes must be a whole number >= 0",
                get("meal_minutes"),
            )
        elif court is None:
            problems.add(
                line,
                "court_minutes",
                "court minutes must be a whole number >= 0",
                get("court_minutes"),
            )
        elif (meal + court) * 60 > (end - start).total_seconds():
            problems.add(
                line,
                "court_minutes",
                "meal and court minutes are longer than the shift",
                f"{meal}+{court}",
            )
        else:
            out.append(
                RosterShift(
                    unit=unit,
                    district=district,
                    start_at=start,
                    end_at=end,
                    meal_minutes=meal,
                    court_minutes=court,
                )
            )
    return table.result(out)


_WEEKDAY_ALIASES = {
    **{w.casefold(): i for i, w in enumerate(WEEKDAYS)},
    **{
        n.casefold(): i
        for i, n in enumerate(
            ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
        )
    },
    "tues": 1,
    "thur": 3,
    "thurs": 3,
}
_HOUR = re.compile(r"(\d{1,2})(?::?(\d{2}))?(?:\s*-.*)?")


def _hour(text: str) -> int | None:
    """``0900``, ``09:00``, ``9``, ``09:00-09:59`` -> 9; None if not a whole hour 0-23."""
    m = _HOUR.fullmatch(text.strip())
    if m is None:
        return None
    digits, minutes = m.group(1), m.group(2)
    if minutes not in (None, "00"):
        return None
    h = int(digits)
    return h if 0 <= h < HOURS else None


def matrix_parse(data: bytes) -> list[list[float]]:
    """A 24x7 matrix in the study's layout: a header row naming the hour column then the seven
    weekdays (MON..SUN or Monday..Sunday, any order), then one row per hour (``0000``..``2300``,
    each once). Every cell a finite number >= 0. Returns 24 lists of 7 floats (Monday first);
    ImportRejected with every problem."""
    text = _text(data)
    records = list(_records(text))
    problems = _Problems()
    if not records:
        raise ImportRejected(
            [
                {
                    "line": 1,
                    "field": "",
                    "value": "",
                    "reason": "the file is empty: the first line must be "
                    "hour,MON,TUE,WED,THU,FRI,SAT,SUN",
                }
            ]
        )
    header_line, header = records[0]
    day_col: dict[int, int] = {}
    for i, name in enumerate(header[1:], start=1):
        d = _WEEKDAY_ALIASES.get(name.strip().casefold())
        if d is None:
            problems.add(header_line, name, f"'{name}' is not a weekday (MON..SUN)", name)
        elif d in day_col:
            problems.add(header_line, name, f"{WEEKDAYS[d]} appears twice", name)
        else:
            day_col[d] = i
    missing = [WEEKDAYS[d] for d in range(DAYS) if d not in day_col]
    if missing:
        problems.add(
            header_line,
            "",
            f"the header lacks {', '.join(missing)} (expected hour,MON,TUE,WED,THU,FRI,SAT,SUN)",
            ",".join(header),
        )
    problems.raise_if_any()
    values: list[list[float | None]] = [[None] * DAYS for _ in range(HOURS)]
    seen: dict[int, int] = {}
    for line, row in records[1:]:
        h = _hour(row[0]) if row else None
        if len(row) != len(header):
            problems.add(
                line, "", f"expected {len(header)} fields, found {len(row)}", ",".join(row)
            )
            if h is not None:
                seen.setdefault(h, line)  # reported once: not again as a missing hour
            continue
        if h is None:
            problems.add(
                line, header[0] or "hour", f"'{row[0]}' is not an hour (0000 to 2300)", row[0]
            )
            continue
        if h in seen:
            problems.add(
                line, header[0] or "hour", f"hour {h:02d}00 is also on line {seen[h]}", row[0]
            )
            continue
        seen[h] = line
        for d in range(DAYS):
            raw = row[day_col[d]].strip()
            try:
                value = float(raw)
            except ValueError:
                problems.add(
                    line, WEEKDAYS[d], f"'{raw}' is not a number" if raw else "empty cell", raw
                )
                continue
            if not math.isfinite(value) or value < 0:
                problems.add(line, WEEKDAYS[d], f"{raw} is not a number of hours >= 0", raw)
                continue
            values[h][d] = value
    absent = [f"{h:02d}00" for h in range(HOURS) if h not in seen]
    if absent:
        problems.add(
            records[-1][0] + 1,
            "hour",
            f"no row for hour {', '.join(absent)} (24 rows, 0000 to 2300, are needed)",
        )
    problems.raise_if_any()
    return [[float(v) for v in row if v is not None] for row in values]


# --- Writing ----------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _existing(client_uuid: uuid.UUID | None) -> WorkloadImport | None:
    if client_uuid is None:
        return None
    return WorkloadImport.objects.filter(client_uuid=client_uuid).first()


def _insert_unique(model: Any, objects: list[Any], imp: WorkloadImport) -> int:
    """Insert ``objects`` skipping rows already stored; returns how many were new. Counted as
    rows before and after, inside the caller's transaction (which holds SQLite's write lock;
    on PostgreSQL the unique constraints decide and a concurrent import adds only its own)."""
    for obj in objects:
        obj.source_import = imp
    before = model.objects.count()
    for k in range(0, len(objects), INSERT_BATCH):
        model.objects.bulk_create(objects[k : k + INSERT_BATCH], ignore_conflicts=True)
    return int(model.objects.count() - before)


@dataclass(frozen=True)
class ImportResult:
    imp: WorkloadImport
    created: bool


def _rows_import(
    *,
    kind: str,
    parse: Callable[[bytes], ParsedRows],
    model: Any,
    data: bytes,
    file_name: str,
    actor: Any,
    client_uuid: uuid.UUID | None,
) -> ImportResult:
    found = _existing(client_uuid)
    if found is not None:
        return ImportResult(found, False)
    parsed = parse(data)
    with transaction.atomic():
        imp = WorkloadImport.objects.create(
            client_uuid=client_uuid or uuid.uuid4(),
            kind=kind,
            file_name=file_name[:255],
            file_sha256=_sha256(data),
            rows=parsed.rows,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        imported = _insert_unique(model, parsed.objects, imp)
        imp.imported, imp.duplicates = imported, parsed.rows - imported
        imp.save(update_fields=["imported", "duplicates"])
        audit_record(
            actor=actor,
            action=f"workload_import.{kind}",
            obj=imp,
            after={
                "file_name": imp.file_name,
                "rows": parsed.rows,
                "imported": imported,
                "duplicates": imp.duplicates,
            },
        )
    return ImportResult(imp, True)


def calls_import(
    *, data: bytes, file_name: str, actor: Any = None, client_uuid: uuid.UUID | None = None
) -> ImportResult:
    """Import a CAD export of calls for service (all or nothing; see the module docstring)."""
    return _rows_import(
        kind=ImportKind.CALLS,
        parse=calls_parse,
        model=CallRecord,
        data=data,
        file_name=file_name,
        actor=actor,
        client_uuid=client_uuid,
    )


def roster_import(
    *, data: bytes, file_name: str, actor: Any = None, client_uuid: uuid.UUID | None = None
) -> ImportResult:
    """Import a roster (all or nothing; see the module docstring)."""
    return _rows_import(
        kind=ImportKind.ROSTER,
        parse=roster_parse,
        model=RosterShift,
        data=data,
        file_name=file_name,
        actor=actor,
        client_uuid=client_uuid,
    )


def matrix_import(
    *,
    kind: str,
    district: District | None,
    data: bytes,
    file_name: str,
    actor: Any = None,
    client_uuid: uuid.UUID | None = None,
) -> ImportResult:
    """Import a 24x7 matrix (``kind`` cfs or available) for ``district`` (None: citywide),
    replacing the one stored before; all or nothing."""
    if kind not in MatrixKind.values:
        raise ValueError(f"kind must be one of {', '.join(MatrixKind.values)}")
    found = _existing(client_uuid)
    if found is not None:
        return ImportResult(found, False)
    values = matrix_parse(data)
    import_kind = ImportKind.MATRIX_CFS if kind == MatrixKind.CFS else ImportKind.MATRIX_AVAILABLE
    with transaction.atomic():
        imp = WorkloadImport.objects.create(
            client_uuid=client_uuid or uuid.uuid4(),
            kind=import_kind,
            district=district,
            file_name=file_name[:255],
            file_sha256=_sha256(data),
            rows=HOURS,
            imported=HOURS,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
        )
        old = (
            WorkloadMatrix.objects.select_for_update().filter(kind=kind, district=district).first()
        )
        before = {"import": old.source_import_id, "total": _total(old.values)} if old else None
        if old is None:
            WorkloadMatrix.objects.create(
                kind=kind, district=district, values=values, source_import=imp
            )
        else:
            old.values, old.source_import = values, imp
            old.save(update_fields=["values", "source_import", "updated_at"])
        audit_record(
            actor=actor,
            action=f"workload_import.{import_kind}",
            obj=imp,
            before=before,
            after={
                "district": district.name if district else CITYWIDE,
                "total": _total(values),
                "file_name": imp.file_name,
            },
        )
    return ImportResult(imp, True)


def _total(values: list[list[float]]) -> float:
    return round(sum(sum(row) for row in values), 3)


def read_path(path: Path) -> bytes:
    """The bytes of ``path``; ImportRejected if it cannot be read or is too large."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImportRejected(
                [
                    {
                        "line": 0,
                        "field": "",
                        "value": "",
                        "reason": f"the file is over {MAX_FILE_BYTES >> 20} MB",
                    }
                ]
            )
        return path.read_bytes()
    except OSError as exc:
        raise ImportRejected(
            [
                {
                    "line": 0,
                    "field": "",
                    "value": str(path),
                    "reason": f"cannot read the file: {exc.strerror or exc}",
                }
            ]
        ) from exc
