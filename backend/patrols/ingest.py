"""Exactly-once ingest of location pings (officers' phones and vehicles' AVL).

A batch is validated column by column (one pass per field over the whole batch, numbers and
times checked as numpy arrays); a batch with any malformed item is re-read item by item so
that each item gets its own reason. Every valid item is then written by ONE
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` inside one transaction: the database's unique
constraint, not a check in Python, decides what is new, so concurrent retries of the same batch
store each ping once. The result lists every item in request order as ``accepted`` (stored
now), ``duplicate`` (stored before; the same id is returned) or ``rejected`` (with the reason),
so a phone can drop delivered items and show failed ones.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from backend.patrols.models import PatrolSession, Ping
from backend.patrols.partitions import pings_retained_from

MAX_BATCH = 1000  # pings per request: a phone's backlog of ~80 min at 1 fix / 5 s
CLOCK_SKEW_LIMIT = timedelta(minutes=5)
# A fix stamped further ahead of the server's clock than this is refused, not flagged: no phone
# clock is a day fast, and a year-9999 ping would break every page that reads raw pings.
MAX_AHEAD = timedelta(hours=24)
SESSION_GRACE = timedelta(seconds=30)  # fixes taken just before "start" was tapped
ACCEPTED, DUPLICATE, REJECTED = "accepted", "duplicate", "rejected"
# Canonical UUID text (what the phone app sends): one regex pass checks a whole batch of them.
_CANONICAL_UUIDS = re.compile(
    r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n)*"
)


class BatchTooLarge(ValueError):
    """More than ``MAX_BATCH`` items: the client must split the batch."""


@dataclass(frozen=True)
class ItemResult:
    client_uuid: str | None
    status: str
    id: int | None = None
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client_uuid": self.client_uuid, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult]

    def counts(self) -> dict[str, int]:
        out = {ACCEPTED: 0, DUPLICATE: 0, REJECTED: 0}
        for item in self.items:
            out[item.status] += 1
        return out


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("recorded_at must be an ISO-8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"recorded_at {value!r} is not ISO-8601") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"recorded_at {value!r} has no UTC offset (send e.g. +01:00 or Z)")
    return parsed


def _number(item: Mapping[str, Any], key: str, *, required: bool) -> float:
    value = item.get(key)
    if value is None:
        if required:
            raise ValueError(f"{key} is required")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number")
    try:
        return float(value)
    except OverflowError as exc:  # a 400-digit integer
        raise ValueError(f"{key} must be a finite number") from exc


# Epoch seconds as float64 compare exactly like the datetimes they come from: timestamp() is
# correctly rounded and a float64 near 2e9 s resolves 0.24 us, finer than a microsecond.


@dataclass
class _Parsed:
    """The batch's structurally valid items, as columns; ``index`` maps row j to item i."""

    index: list[int]
    uuids: list[str]  # canonical text (lower case, hyphenated)
    recorded: list[datetime]
    epoch: np.ndarray  # recorded_at as seconds since 1970 (float64)
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray
    speed: np.ndarray  # NaN where absent
    heading: np.ndarray  # NaN where absent
    extra: list[Any]


def _parse(
    items: Sequence[Any], results: list[ItemResult | None], extra_key: str | None
) -> _Parsed:
    """Structural parsing (types, UUID, time); number ranges are checked vectorized later."""
    return _parse_columns(items, extra_key) or _parse_items(items, results, extra_key)


_NUMBER = frozenset((int, float))
_NUMBER_OR_NONE = frozenset((int, float, type(None)))


def _parse_columns(items: Sequence[Any], extra_key: str | None) -> _Parsed | None:
    """The whole batch column by column when every item is well formed, else None.

    Well formed: every item an object with a canonical ``client_uuid`` seen once in the
    batch, ``recorded_at`` ISO-8601 with an offset, JSON numbers (never booleans) where
    numbers go. Ranges are left to ``_range_reasons``, as for ``_parse_items``.
    """
    if not items or not all(type(item) is dict for item in items):
        return None
    try:
        uuids = [item["client_uuid"] for item in items]
        stamps = [item["recorded_at"] for item in items]
        columns = [[item[key] for item in items] for key in ("lat", "lon", "accuracy_m")] + [
            [item.get(key) for item in items] for key in ("speed_mps", "heading_deg")
        ]
        extra = [item[extra_key] for item in items] if extra_key is not None else []
    except KeyError:
        return None
    if set(map(type, uuids)) != {str} or set(map(type, stamps)) != {str}:
        return None
    if set(map(len, uuids)) != {36} or len(set(uuids)) < len(uuids):
        return None
    if not _CANONICAL_UUIDS.fullmatch("\n".join(uuids) + "\n"):
        return None
    for k, column in enumerate(columns):
        if not set(map(type, column)) <= (_NUMBER if k < 3 else _NUMBER_OR_NONE):
            return None
    if extra_key is not None:
        if set(map(type, extra)) != {str}:
            return None
        extra = [value.strip()[:40] for value in extra]
        if not all(extra):
            return None
    try:
        recorded = [datetime.fromisoformat(s) for s in stamps]
        numbers = np.array(columns, dtype=np.float64)  # None becomes NaN
    except (ValueError, OverflowError):
        return None
    if any(when.tzinfo is None for when in recorded):
        return None
    epoch = np.array([when.timestamp() for when in recorded], dtype=np.float64)
    lat, lon, acc, speed, heading = numbers
    return _Parsed(
        list(range(len(items))), uuids, recorded, epoch, lat, lon, acc, speed, heading, extra
    )


def _parse_items(
    items: Sequence[Any], results: list[ItemResult | None], extra_key: str | None
) -> _Parsed:
    """Item by item: each malformed item gets its reason in ``results``."""
    idx: list[int] = []
    uuids: list[str] = []
    recorded: list[datetime] = []
    nums: list[tuple[float, float, float, float, float]] = []
    extra: list[Any] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            results[i] = ItemResult(None, REJECTED, reason="each ping must be a JSON object")
            continue
        raw_uuid = item.get("client_uuid")
        try:
            cu = str(uuid.UUID(str(raw_uuid))) if raw_uuid is not None else None
        except ValueError:
            cu = None
        if cu is None:
            results[i] = ItemResult(
                str(raw_uuid) if raw_uuid is not None else None,
                REJECTED,
                reason="client_uuid is missing or not a UUID",
            )
            continue
        try:
            when = _parse_time(item.get("recorded_at"))
            row = (
                _number(item, "lat", required=True),
                _number(item, "lon", required=True),
                _number(item, "accuracy_m", required=True),
                _number(item, "speed_mps", required=False),
                _number(item, "heading_deg", required=False),
            )
            if extra_key is not None:
                value = item.get(extra_key)
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"{extra_key} is required (a non-empty string)")
                extra.append(value.strip()[:40])
        except ValueError as exc:
            results[i] = ItemResult(cu, REJECTED, reason=str(exc))
            continue
        if cu in seen:  # the same ping twice in one batch: store it once
            results[i] = ItemResult(cu, DUPLICATE, reason=f"repeats item {seen[cu]}")
            if extra_key is not None:
                extra.pop()
            continue
        seen[cu] = i
        idx.append(i)
        uuids.append(cu)
        recorded.append(when)
        nums.append(row)
    a = np.array(nums, dtype=np.float64).reshape(-1, 5)
    epoch = np.array([when.timestamp() for when in recorded], dtype=np.float64)
    return _Parsed(idx, uuids, recorded, epoch, a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], extra)


def _range_reasons(p: _Parsed, now: datetime) -> list[str]:
    """Vectorized range checks; '' where the item is fine."""
    lat, lon, acc, speed, heading = p.lat, p.lon, p.accuracy, p.speed, p.heading
    with np.errstate(invalid="ignore"):
        checks = [
            (~np.isfinite(lat) | (np.abs(lat) > 90), "lat must be a finite number in [-90, 90]"),
            (~np.isfinite(lon) | (np.abs(lon) > 180), "lon must be a finite number in [-180, 180]"),
            (~np.isfinite(acc) | (acc < 0), "accuracy_m must be a number >= 0"),
            (~np.isnan(speed) & (~np.isfinite(speed) | (speed < 0)), "speed_mps must be >= 0"),
            (
                ~np.isnan(heading) & (~np.isfinite(heading) | (heading < 0) | (heading >= 360)),
                "heading_deg must be in [0, 360)",
            ),
        ]
    latest = now + MAX_AHEAD
    ahead = p.epoch > latest.timestamp()
    checks.append((ahead, f"recorded_at is more than {MAX_AHEAD} after the server's time"))
    # Raw pings older than the retention period are removed (partitions.py): such a fix would
    # be dropped unseen, and could reopen a day whose pings are gone.
    oldest = pings_retained_from(now=now)
    checks.append(
        (
            p.epoch < oldest.timestamp(),
            f"recorded_at is before {oldest.isoformat()}: raw pings are kept "
            f"{settings.PRESENCE_PING_RETENTION_DAYS} days, so this fix is too old to store",
        )
    )
    reasons = [""] * len(p.index)
    for bad, reason in reversed(checks):  # the first failing check wins
        for j in np.flatnonzero(bad):
            reasons[j] = reason
    return reasons


def _reject_out_of_range(p: _Parsed, now: datetime, results: list[ItemResult | None]) -> None:
    for j, reason in enumerate(_range_reasons(p, now)):
        if reason:
            results[p.index[j]] = ItemResult(p.uuids[j], REJECTED, reason=reason)


@dataclass
class _Rows:
    """Rows to store for one owner (an officer or an AVL unit), as columns."""

    owner_column: str  # "officer_id" or "unit_id"
    owner_id: int
    session_ids: list[int] | None  # officers' pings only
    uuids: list[str]
    recorded: list[datetime]
    received_at: datetime
    skewed: list[bool]
    lat: list[float]
    lon: list[float]
    accuracy: list[float]
    speed: list[float]  # NaN stores NULL
    heading: list[float]  # NaN stores NULL


def _rows(p: _Parsed, js: Sequence[int], **fields: Any) -> _Rows:
    take = np.asarray(js, dtype=np.intp)
    return _Rows(
        uuids=[p.uuids[j] for j in js],
        recorded=[p.recorded[j] for j in js],
        lat=p.lat[take].tolist(),
        lon=p.lon[take].tolist(),
        accuracy=p.accuracy[take].tolist(),
        speed=p.speed[take].tolist(),
        heading=p.heading[take].tolist(),
        **fields,
    )


LOOKUP_CHUNK = 500  # ids of already-stored pings, read back in chunks of this many UUIDs (SQLite)


def on_conflict(owner_column: str) -> str:
    """The exactly-once clause: the fix's key is (party, recorded_at, client_uuid), the unique
    index ``ping_officer_time_uuid`` / ``ping_unit_time_uuid`` (models.Ping). Named, not bare:
    a conflict on any other unique index is an error, never a silent drop."""
    return (
        f"ON CONFLICT ({owner_column}, recorded_at, client_uuid) "
        f"WHERE {owner_column} IS NOT NULL DO NOTHING"
    )


def _store(rows: _Rows) -> tuple[dict[str, int], set[str]]:
    """INSERT rows ON CONFLICT DO NOTHING; returns ({client_uuid: id}, client_uuids inserted now).

    Call inside a transaction. New rows come back from RETURNING; the ids of rows that already
    existed are read in the same transaction (they are committed, so they are visible and
    cannot disappear). This is the only place that writes pings. A fix is (party,
    recorded_at, client_uuid), the exactly-once key (a unique index of the partitioned table
    must hold its partition key, recorded_at): a retry re-sends the same time, so it meets the
    stored row in the same partition. The batch's UUIDs are distinct (``_parse``).
    """
    if not rows.uuids:
        return {}, set()
    table = Ping._meta.db_table
    owner = rows.owner_column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement over arrays (unnest): one round trip, no per-row SQL. Each array
            # goes as one text literal: Django's client-side binding would quote a Python list
            # element by element, which cost more than everything else in a batch together.
            session_col, session_val, session_src, session_arg = "", "", "", []
            if rows.session_ids:
                session_col, session_val, session_src = "session_id, ", "s, ", "%s::bigint[], "
                session_arg = [_array(map(str, rows.session_ids))]
            cursor.execute(
                f"INSERT INTO {table} ({owner}, {session_col}client_uuid, recorded_at, "
                "received_at, clock_skewed, lat, lon, accuracy_m, speed_mps, heading_deg) "
                f"SELECT %s, {session_val}u, r, %s, k, la, lo, a, "
                "NULLIF(sp, 'NaN'::float8), NULLIF(h, 'NaN'::float8) "
                f"FROM unnest({session_src}%s::uuid[], %s::timestamptz[], %s::bool[], "
                "%s::float8[], %s::float8[], %s::float8[], %s::float8[], %s::float8[]) "
                f"AS x({session_val}u, r, k, la, lo, a, sp, h) "
                f"{on_conflict(owner)} RETURNING client_uuid::text, id",
                [
                    rows.owner_id,
                    rows.received_at,
                    *session_arg,
                    _array(rows.uuids),
                    _array(when.isoformat() for when in rows.recorded),
                    _array("t" if k else "f" for k in rows.skewed),
                    *(
                        _array(map(repr, column))  # repr: the shortest exact decimal, or nan
                        for column in (rows.lat, rows.lon, rows.accuracy, rows.speed, rows.heading)
                    ),
                ],
            )
            new: dict[str, int] = dict(cursor.fetchall())
            missing = [k for k, u in enumerate(rows.uuids) if u not in new]
            existing: dict[str, int] = {}
            if missing:
                # By the whole key: a UUID a client reused at another time is another fix.
                times = [rows.recorded[k] for k in missing]
                cursor.execute(
                    f"SELECT client_uuid::text, id FROM {table} WHERE {owner} = %s "
                    "AND (client_uuid, recorded_at) IN "
                    "(SELECT * FROM unnest(%s::uuid[], %s::timestamptz[])) "
                    "AND recorded_at BETWEEN %s AND %s",  # prunes partitions
                    [
                        rows.owner_id,
                        _array(rows.uuids[k] for k in missing),
                        _array(when.isoformat() for when in times),
                        min(times),
                        max(times),
                    ],
                )
                existing = dict(cursor.fetchall())
            return {**existing, **new}, set(new)
        return _store_portable(cursor, table, rows)


def _array(texts: Iterable[str]) -> str:
    """A PostgreSQL array literal of elements that need no quoting (UUIDs, numbers, ISO times)."""
    return "{" + ",".join(texts) + "}"


def _store_portable(cursor: Any, table: str, rows: _Rows) -> tuple[dict[str, int], set[str]]:
    """``_store`` for SQLite: a multi-row INSERT with bound values."""
    owner = rows.owner_column
    columns = [owner, *(["session_id"] if rows.session_ids else []), "client_uuid"]
    columns += ["recorded_at", "received_at", "clock_skewed", "lat", "lon", "accuracy_m"]
    columns += ["speed_mps", "heading_deg"]
    uuid_field = Ping._meta.get_field("client_uuid")
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(rows.received_at)
    prepared = []
    for k, u in enumerate(rows.uuids):
        prepared.append(
            (
                rows.owner_id,
                *([rows.session_ids[k]] if rows.session_ids else []),
                uuid_field.get_db_prep_value(u, connection),
                adapt(rows.recorded[k]),
                received,
                rows.skewed[k],
                rows.lat[k],
                rows.lon[k],
                rows.accuracy[k],
                _none_if_nan(rows.speed[k]),
                _none_if_nan(rows.heading[k]),
            )
        )
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    cursor.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        + ", ".join([marks] * len(prepared))
        + f" {on_conflict(owner)} RETURNING client_uuid, id",
        [v for r in prepared for v in r],
    )
    new = {str(uuid.UUID(str(u))): i for u, i in cursor.fetchall()}
    at = 2 if rows.session_ids else 1  # client_uuid's place; recorded_at follows it
    missing = [
        (r[at], r[at + 1]) for r, u in zip(prepared, rows.uuids, strict=True) if u not in new
    ]
    existing: dict[str, int] = {}
    for lo in range(0, len(missing), LOOKUP_CHUNK):
        chunk = missing[lo : lo + LOOKUP_CHUNK]
        # By the whole key: a UUID a client reused at another time is another fix.
        cursor.execute(
            f"SELECT client_uuid, id FROM {table} WHERE {owner} = %s "
            "AND (client_uuid, recorded_at) IN (VALUES "
            + ", ".join(["(%s, %s)"] * len(chunk))
            + ")",
            [rows.owner_id, *(v for pair in chunk for v in pair)],
        )
        existing.update({str(uuid.UUID(str(u))): i for u, i in cursor.fetchall()})
    return {**existing, **new}, set(new)


def _skewed(p: _Parsed, js: Sequence[int], now: datetime, batch_skewed: bool) -> list[bool]:
    if batch_skewed:
        return [True] * len(js)
    skewed = p.epoch[np.asarray(js, dtype=np.intp)] > (now + CLOCK_SKEW_LIMIT).timestamp()
    return [bool(k) for k in skewed.tolist()]


def pings_ingest(
    *,
    officer: Any,
    items: Sequence[Any],
    sent_at: datetime | None = None,
    session_id: int | None = None,
) -> BatchResult:
    """Store an officer's batch of pings exactly once (see the module docstring).

    Each ping must fall inside one of the officer's own patrol sessions (by its device time,
    with ``SESSION_GRACE`` before the start); ``session_id``, when given, must be the
    officer's. Device clocks more than 5 minutes off the server's (judged from ``sent_at``,
    the device time at sending, or from a ping stamped in the future) are flagged, not dropped.
    """
    if len(items) > MAX_BATCH:
        raise BatchTooLarge(f"at most {MAX_BATCH} pings per batch, got {len(items)}")
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    p = _parse(items, results, None)
    _reject_out_of_range(p, now, results)
    pending = [j for j, i in enumerate(p.index) if results[i] is None]

    sessions = _sessions_covering(officer, p, pending) if pending else []
    if (
        session_id is not None
        and session_id not in {s[0] for s in sessions}
        and not PatrolSession.objects.filter(officer=officer, pk=session_id).exists()
    ):
        for j in pending:
            results[p.index[j]] = ItemResult(
                p.uuids[j], REJECTED, reason=f"patrol session {session_id} is not yours"
            )
        pending = []
    batch_skewed = sent_at is not None and abs(now - sent_at) > CLOCK_SKEW_LIMIT

    # The covering session of each ping: the latest-started one whose span (with the grace
    # before its start) holds the ping's device time.
    t = p.epoch[np.asarray(pending, dtype=np.intp)]
    chosen = np.full(len(pending), -1, dtype=np.int64)
    for pk, started, ended in reversed(sessions):
        inside = (chosen < 0) & (t >= (started - SESSION_GRACE).timestamp())
        if ended is not None:
            inside &= t <= ended.timestamp()
        chosen[inside] = pk
    keep: list[int] = []
    session_ids: list[int] = []
    for j, pk in zip(pending, chosen.tolist(), strict=True):
        if pk < 0 or (session_id is not None and pk != session_id):
            results[p.index[j]] = ItemResult(
                p.uuids[j],
                REJECTED,
                reason=f"no patrol session of yours covers {p.recorded[j].isoformat()}: "
                "location is recorded only during a patrol session you started",
            )
            continue
        keep.append(j)
        session_ids.append(pk)

    rows = _rows(
        p,
        keep,
        owner_column="officer_id",
        owner_id=officer.pk,
        session_ids=session_ids,
        received_at=now,
        skewed=_skewed(p, keep, now, batch_skewed),
    )
    with transaction.atomic():
        ids, inserted = _store(rows)
    for j in keep:
        key = p.uuids[j]
        results[p.index[j]] = ItemResult(
            key, ACCEPTED if key in inserted else DUPLICATE, id=ids[key]
        )
    return BatchResult([r for r in results if r is not None])


def _sessions_covering(
    officer: Any, p: _Parsed, js: Sequence[int]
) -> list[tuple[int, datetime, datetime | None]]:
    """The officer's sessions that may hold one of rows ``js``, by start (bounded by the
    batch's time span, so an officer's years of sessions are not all read)."""
    t = p.epoch[np.asarray(js, dtype=np.intp)]
    first = p.recorded[js[int(np.argmin(t))]]
    last = p.recorded[js[int(np.argmax(t))]] + SESSION_GRACE
    if connection.vendor == "postgresql":  # every phone, every few seconds: SQL written once
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, started_at, ended_at FROM {PatrolSession._meta.db_table} "
                "WHERE officer_id = %s AND started_at <= %s "
                "AND (ended_at IS NULL OR ended_at >= %s) ORDER BY started_at",
                [officer.pk, last, first],
            )
            return list(cursor.fetchall())
    return list(
        PatrolSession.objects.filter(officer=officer, started_at__lte=last)
        .exclude(ended_at__lt=first)
        .order_by("started_at")
        .values_list("pk", "started_at", "ended_at")
    )


def avl_ingest(*, items: Sequence[Any], sent_at: datetime | None = None) -> BatchResult:
    """Store a vehicle feed's batch exactly once; each item names its ``unit`` (call sign).

    Units are registered on first sight. Same validation and result shape as
    ``pings_ingest``; AVL pings belong to no patrol session.
    """
    from backend.patrols.models import AvlUnit

    if len(items) > MAX_BATCH:
        raise BatchTooLarge(f"at most {MAX_BATCH} pings per batch, got {len(items)}")
    now = timezone.now()
    results: list[ItemResult | None] = [None] * len(items)
    p = _parse(items, results, "unit")
    _reject_out_of_range(p, now, results)
    batch_skewed = sent_at is not None and abs(now - sent_at) > CLOCK_SKEW_LIMIT
    by_unit: dict[str, list[int]] = {}
    for j, i in enumerate(p.index):
        if results[i] is None:
            by_unit.setdefault(p.extra[j], []).append(j)
    with transaction.atomic():
        for call_sign, js in by_unit.items():
            unit, _ = AvlUnit.objects.get_or_create(call_sign=call_sign)
            rows = _rows(
                p,
                js,
                owner_column="unit_id",
                owner_id=unit.pk,
                session_ids=None,
                received_at=now,
                skewed=_skewed(p, js, now, batch_skewed),
            )
            ids, inserted = _store(rows)
            for j in js:
                key = p.uuids[j]
                results[p.index[j]] = ItemResult(
                    key, ACCEPTED if key in inserted else DUPLICATE, id=ids[key]
                )
    return BatchResult([r for r in results if r is not None])


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
