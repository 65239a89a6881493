"""Exactly-once ingest of location pings (officers' phones and vehicles' AVL).

A batch is validated item by item (vectorized where it matters), then every valid item is
written by ONE ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` inside one transaction: the
database's unique constraint, not a check in Python, decides what is new, so concurrent
retries of the same batch store each ping once. The result lists every item in request order
as ``accepted`` (stored now), ``duplicate`` (stored before; the same id is returned) or
``rejected`` (with the reason), so a phone can drop delivered items and show failed ones.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
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


@dataclass
class _Parsed:
    index: list[int]
    uuids: list[uuid.UUID]
    recorded: list[datetime]
    lat: np.ndarray
    lon: np.ndarray
    accuracy: np.ndarray
    speed: np.ndarray
    heading: np.ndarray
    extra: list[Any]


def _parse(
    items: Sequence[Any], results: list[ItemResult | None], extra_key: str | None
) -> _Parsed:
    """Per-item structural parsing (types, UUID, time); numbers checked vectorized later."""
    idx: list[int] = []
    uuids: list[uuid.UUID] = []
    recorded: list[datetime] = []
    nums: list[tuple[float, float, float, float, float]] = []
    extra: list[Any] = []
    seen: dict[uuid.UUID, int] = {}
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            results[i] = ItemResult(None, REJECTED, reason="each ping must be a JSON object")
            continue
        raw_uuid = item.get("client_uuid")
        try:
            cu = uuid.UUID(str(raw_uuid)) if raw_uuid is not None else None
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
            results[i] = ItemResult(str(cu), REJECTED, reason=str(exc))
            continue
        if cu in seen:  # the same ping twice in one batch: store it once
            results[i] = ItemResult(str(cu), DUPLICATE, reason=f"repeats item {seen[cu]}")
            if extra_key is not None:
                extra.pop()
            continue
        seen[cu] = i
        idx.append(i)
        uuids.append(cu)
        recorded.append(when)
        nums.append(row)
    a = np.array(nums, dtype=np.float64).reshape(-1, 5)
    return _Parsed(idx, uuids, recorded, a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], extra)


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
    ahead = np.array([when > latest for when in p.recorded], dtype=bool)
    checks.append((ahead, f"recorded_at is more than {MAX_AHEAD} after the server's time"))
    # Raw pings older than the retention period are removed (partitions.py): such a fix would
    # be dropped unseen, and could reopen a day whose pings are gone.
    oldest = pings_retained_from(now=now)
    expired = np.array([when < oldest for when in p.recorded], dtype=bool)
    checks.append(
        (
            expired,
            f"recorded_at is before {oldest.isoformat()}: raw pings are kept "
            f"{settings.PRESENCE_PING_RETENTION_DAYS} days, so this fix is too old to store",
        )
    )
    reasons = [""] * len(p.index)
    for bad, reason in reversed(checks):  # the first failing check wins
        for j in np.flatnonzero(bad):
            reasons[j] = reason
    return reasons


PG_TYPES = {
    "officer_id": "bigint",
    "session_id": "bigint",
    "unit_id": "bigint",
    "client_uuid": "uuid",
    "recorded_at": "timestamptz",
    "received_at": "timestamptz",
    "clock_skewed": "boolean",
    "lat": "float8",
    "lon": "float8",
    "accuracy_m": "float8",
    "speed_mps": "float8",
    "heading_deg": "float8",
}
LOOKUP_CHUNK = 500  # ids of already-stored pings, read back in chunks of this many UUIDs


def on_conflict(owner_column: str) -> str:
    """The exactly-once clause: the fix's key is (party, recorded_at, client_uuid), the unique
    index ``ping_officer_time_uuid`` / ``ping_unit_time_uuid`` (models.Ping). Named, not bare:
    a conflict on any other unique index is an error, never a silent drop."""
    return (
        f"ON CONFLICT ({owner_column}, recorded_at, client_uuid) "
        f"WHERE {owner_column} IS NOT NULL DO NOTHING"
    )


def _insert(
    rows: list[tuple[Any, ...]], columns: Sequence[str], owner_column: str, owner_id: int
) -> tuple[dict[str, int], set[str]]:
    """INSERT rows ON CONFLICT DO NOTHING; returns ({client_uuid hex: id}, hexes inserted now).

    New rows come back from RETURNING; the ids of rows that already existed are read in the
    same transaction (they are committed, so they are visible and cannot disappear). A fix is
    (party, recorded_at, client_uuid), the exactly-once key (a unique index of the partitioned
    table must hold its partition key, recorded_at): a retry re-sends the same time, so it
    meets the stored row in the same partition. The batch's UUIDs are distinct (``_parse``).
    """
    if not rows:
        return {}, set()
    table = Ping._meta.db_table
    uuid_at = list(columns).index("client_uuid")
    time_at = list(columns).index("recorded_at")
    conflict = on_conflict(owner_column) + " RETURNING client_uuid, id"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY into a per-connection staging table (psycopg's C copy path), then one
            # INSERT ... SELECT: several times cheaper than binding 11,000 parameters. One
            # table per column set: the temp table outlives the transaction, and a connection
            # that stored phone pings may store AVL pings next.
            cols = ", ".join(columns)
            stage = f"ping_stage_{owner_column.removesuffix('_id')}"
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} ("
                + ", ".join(f"{c} {PG_TYPES[c]}" for c in columns)
                + ") ON COMMIT DELETE ROWS"
            )
            with connection.connection.cursor().copy(f"COPY {stage} ({cols}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            cursor.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} {conflict}")
            returned = cursor.fetchall()
            keys: list[Any] = [(r[uuid_at], r[time_at]) for r in rows]
        else:
            uuid_field = Ping._meta.get_field("client_uuid")
            prepared = [
                tuple(
                    uuid_field.get_db_prep_value(v, connection) if k == uuid_at else v
                    for k, v in enumerate(r)
                )
                for r in rows
            ]
            marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                + ", ".join([marks] * len(prepared))
                + f" {conflict}",
                [v for r in prepared for v in r],
            )
            keys = [(r[uuid_at], r[time_at]) for r in prepared]
            returned = cursor.fetchall()
        new = {_hex(u): i for u, i in returned}
        missing = [k for k in keys if _hex(k[0]) not in new]
        existing: dict[str, int] = {}
        for lo in range(0, len(missing), LOOKUP_CHUNK):
            chunk = missing[lo : lo + LOOKUP_CHUNK]
            # By the whole key: a UUID a client reused at another time is another fix.
            if connection.vendor == "postgresql":
                where = (
                    "(client_uuid, recorded_at) IN (SELECT * FROM unnest(%s::uuid[], "
                    "%s::timestamptz[])) AND recorded_at BETWEEN %s AND %s"  # prunes partitions
                )
                times = [t for _, t in chunk]
                params = [[u for u, _ in chunk], times, min(times), max(times)]
            else:
                where = (
                    "(client_uuid, recorded_at) IN (VALUES "
                    + ", ".join(["(%s, %s)"] * len(chunk))
                    + ")"
                )
                params = [v for pair in chunk for v in pair]
            cursor.execute(
                f"SELECT client_uuid, id FROM {table} WHERE {owner_column} = %s AND {where}",
                [owner_id, *params],
            )
            existing.update({_hex(u): i for u, i in cursor.fetchall()})
    return {**existing, **new}, set(new)


def _hex(value: Any) -> str:
    return value.hex if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).hex


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
    for j, reason in enumerate(_range_reasons(p, now)):
        if reason:
            results[p.index[j]] = ItemResult(str(p.uuids[j]), REJECTED, reason=reason)

    sessions = list(
        PatrolSession.objects.filter(officer=officer)
        .order_by("started_at")
        .values_list("pk", "started_at", "ended_at")
    )
    if session_id is not None and session_id not in {s[0] for s in sessions}:
        for j in range(len(p.index)):
            if results[p.index[j]] is None:
                results[p.index[j]] = ItemResult(
                    str(p.uuids[j]), REJECTED, reason=f"patrol session {session_id} is not yours"
                )
    batch_skewed = sent_at is not None and abs(now - sent_at) > CLOCK_SKEW_LIMIT

    rows: list[tuple[Any, ...]] = []
    row_items: list[int] = []
    for j, i in enumerate(p.index):
        if results[i] is not None:
            continue
        when = p.recorded[j]
        session = next(
            (
                s
                for s in reversed(sessions)
                if s[1] - SESSION_GRACE <= when and (s[2] is None or when <= s[2])
            ),
            None,
        )
        if session is None or (session_id is not None and session[0] != session_id):
            results[i] = ItemResult(
                str(p.uuids[j]),
                REJECTED,
                reason=f"no patrol session of yours covers {when.isoformat()}: "
                "location is recorded only during a patrol session you started",
            )
            continue
        skewed = batch_skewed or when - now > CLOCK_SKEW_LIMIT
        rows.append(
            (
                officer.pk,
                session[0],
                p.uuids[j],
                when,
                now,
                skewed,
                p.lat[j],
                p.lon[j],
                p.accuracy[j],
                _none_if_nan(p.speed[j]),
                _none_if_nan(p.heading[j]),
            )
        )
        row_items.append(j)

    columns = [
        "officer_id",
        "session_id",
        "client_uuid",
        "recorded_at",
        "received_at",
        "clock_skewed",
        "lat",
        "lon",
        "accuracy_m",
        "speed_mps",
        "heading_deg",
    ]
    rows = [_adapt_times(r, (3, 4)) for r in rows]
    with transaction.atomic():
        ids, inserted = _insert(rows, columns, "officer_id", officer.pk)
    for j in row_items:
        key = p.uuids[j].hex
        status = ACCEPTED if key in inserted else DUPLICATE
        results[p.index[j]] = ItemResult(str(p.uuids[j]), status, id=ids[key])
    return BatchResult([r for r in results if r is not None])


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
    for j, reason in enumerate(_range_reasons(p, now)):
        if reason:
            results[p.index[j]] = ItemResult(str(p.uuids[j]), REJECTED, reason=reason)
    batch_skewed = sent_at is not None and abs(now - sent_at) > CLOCK_SKEW_LIMIT
    by_unit: dict[str, list[int]] = {}
    for j, i in enumerate(p.index):
        if results[i] is None:
            by_unit.setdefault(p.extra[j], []).append(j)
    columns = [
        "unit_id",
        "client_uuid",
        "recorded_at",
        "received_at",
        "clock_skewed",
        "lat",
        "lon",
        "accuracy_m",
        "speed_mps",
        "heading_deg",
    ]
    with transaction.atomic():
        for call_sign, js in by_unit.items():
            unit, _ = AvlUnit.objects.get_or_create(call_sign=call_sign)
            rows = [
                _adapt_times(
                    (
                        unit.pk,
                        p.uuids[j],
                        p.recorded[j],
                        now,
                        batch_skewed or p.recorded[j] - now > CLOCK_SKEW_LIMIT,
                        p.lat[j],
                        p.lon[j],
                        p.accuracy[j],
                        _none_if_nan(p.speed[j]),
                        _none_if_nan(p.heading[j]),
                    ),
                    (2, 3),
                )
                for j in js
            ]
            ids, inserted = _insert(rows, columns, "unit_id", unit.pk)
            for j in js:
                key = p.uuids[j].hex
                results[p.index[j]] = ItemResult(
                    str(p.uuids[j]), ACCEPTED if key in inserted else DUPLICATE, id=ids[key]
                )
    return BatchResult([r for r in results if r is not None])


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _adapt_times(row: tuple[Any, ...], at: tuple[int, ...]) -> tuple[Any, ...]:
    if connection.vendor == "postgresql":  # psycopg sends aware datetimes and floats natively
        return row
    adapt = connection.ops.adapt_datetimefield_value
    return tuple(
        adapt(v) if k in at else (float(v) if isinstance(v, np.floating) else v)
        for k, v in enumerate(row)
    )
