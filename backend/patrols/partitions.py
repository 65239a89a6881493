"""Raw pings by day: PostgreSQL partitions made ahead of time, and retention.

On PostgreSQL ``patrols_ping`` is range-partitioned on ``recorded_at``, one partition per
agency-local day (``patrols_ping_pYYYYMMDD``, bounds from local midnight to local midnight, so
23 or 25 hours across DST) and a DEFAULT partition that stores a ping for a day with no
partition yet. ``ping_partitions_ensure`` (beat, hourly; ``ping_partitions`` command) makes the
coming days' partitions and moves any rows the DEFAULT partition holds into their own day's.
``pings_retention_apply`` (beat, nightly) removes raw pings older than
``PRESENCE_PING_RETENTION_DAYS``, one whole day at a time and only once the day is rolled up:
on PostgreSQL by dropping the day's partition (never a mass ``DELETE``), on SQLite (one table)
by deleting the day's rows. Visits, device gaps, reports and the audit log are kept.

A day is rolled up when no patrol session that could hold its pings still owes its rollup
(``PatrolSession.rolled_up_at`` is set by ``rollup.session_rollup``; the every-minute sweep
sends any rollup that is owed). ``docs/data-retention.md`` describes the rules.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from backend.config.localtime import agency_zone, local_day_bounds
from backend.patrols.models import PatrolSession, Ping

logger = logging.getLogger(__name__)

DEFAULT_PARTITION = "patrols_ping_default"
# DDL on the parent waits for running inserts and makes new ones wait behind it: give up after
# this long (the next hourly run tries again) rather than stall the ping ingest.
DDL_LOCK_TIMEOUT = "5s"
# The ingest accepts a fix up to 30 s before its session's start (ingest.SESSION_GRACE): a
# session that starts this soon after a day ends may hold that day's pings.
SESSION_EARLY = timedelta(seconds=30)
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_NAME = re.compile(r"^patrols_ping_p(\d{8})$")


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime
    end: datetime

    @property
    def day(self) -> date | None:
        """The local day in the partition's name (None for a name this module did not make)."""
        m = _NAME.match(self.name)
        return datetime.strptime(m.group(1), "%Y%m%d").date() if m else None


@dataclass
class RetentionResult:
    cutoff: date  # pings of days before this one are expired
    removed: dict[date, int] = field(default_factory=dict)  # day -> raw pings removed
    kept_not_rolled_up: list[date] = field(default_factory=list)


def partitioned() -> bool:
    """True where pings are partitioned (PostgreSQL after migration patrols 0006)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema())",
            [Ping._meta.db_table],
        )
        return cursor.fetchone() is not None


def ping_partitions() -> list[Partition]:
    """The day partitions of the pings table, oldest first (the DEFAULT partition excluded)."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [Ping._meta.db_table],
        )
        rows = cursor.fetchall()
    out = []
    for name, bound in rows:
        m = _BOUND.search(bound or "")
        if m:
            out.append(Partition(name, datetime.fromisoformat(m[1]), datetime.fromisoformat(m[2])))
    return sorted(out, key=lambda p: p.start)


def pings_retention_cutoff(*, today: date | None = None) -> date:
    """The first local day whose raw pings are kept: days before it are expired."""
    today = today or timezone.localdate()
    return today - timedelta(days=settings.PRESENCE_PING_RETENTION_DAYS)


def pings_retained_from(*, now: datetime | None = None) -> datetime:
    """The oldest ``recorded_at`` the ingest accepts: local midnight starting the cutoff day."""
    today = timezone.localdate(now) if now is not None else None
    return local_day_bounds(pings_retention_cutoff(today=today))[0]


def _literal(when: datetime) -> str:
    return "'" + when.isoformat() + "'"


def _ddl_prologue(cursor: Any) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'")
    # PostgreSQL refuses to alter a table with deferred foreign-key checks pending: when called
    # inside a transaction that inserted pings (a test, a shell), run those checks now.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _create_day(cursor: Any, day: date, existing: list[Partition]) -> Partition | None:
    """Create (and attach) the partition of local ``day``, moving the DEFAULT partition's rows
    of that day into it first; None when existing partitions already cover the day."""
    start, end = local_day_bounds(day)
    # A changed TIME_ZONE must not make ranges overlap: clip to what the others leave free.
    for p in existing:
        if p.start <= start < p.end:
            start = p.end
        if start < p.start < end:
            end = p.start
    if start >= end:
        return None
    table = Ping._meta.db_table
    name = f"{table}_p{day:%Y%m%d}"
    lo, hi = _literal(start), _literal(end)
    execute = cursor.execute
    _ddl_prologue(cursor)
    # No insert may reach the DEFAULT partition between the move below and the ATTACH (which
    # would then fail): inserts there wait these few statements; others go on.
    execute(f"LOCK TABLE {DEFAULT_PARTITION} IN SHARE MODE")
    execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    execute(
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE recorded_at >= {lo} "
        f"AND recorded_at < {hi} RETURNING *) INSERT INTO {name} SELECT * FROM moved"
    )
    # The CHECK lets ATTACH skip scanning the new table; it is redundant once attached.
    execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_bounds "
        f"CHECK (recorded_at >= {lo} AND recorded_at < {hi})"
    )
    execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
    execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_bounds")
    return Partition(name, start, end)


def ping_partitions_ensure(
    *, days_ahead: int | None = None, today: date | None = None
) -> list[str]:
    """Create the partitions of yesterday, today and the next ``days_ahead`` local days
    (``PRESENCE_PING_PARTITIONS_AHEAD`` by default) and of every day the DEFAULT partition
    holds rows for; returns the names created. Each day is its own short transaction; a no-op
    off PostgreSQL. Idempotent: a day that has its partition is skipped."""
    if not partitioned():
        return []
    ahead = settings.PRESENCE_PING_PARTITIONS_AHEAD if days_ahead is None else days_ahead
    today = today or timezone.localdate()
    days = {today + timedelta(days=k) for k in range(-1, ahead + 1)}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT (recorded_at AT TIME ZONE %s)::date FROM {DEFAULT_PARTITION}",
            [str(agency_zone())],
        )
        days.update(row[0] for row in cursor.fetchall())
    created: list[str] = []
    for day in sorted(days):
        existing = ping_partitions()
        start, end = local_day_bounds(day)
        if any(p.start <= start and end <= p.end for p in existing):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            made = _create_day(cursor, day, existing)
        if made is not None:
            created.append(made.name)
            logger.info("pings partition %s created", made.name)
    return created


def day_rolled_up(*, start: datetime, end: datetime) -> bool:
    """True when no patrol session that may hold pings in ``[start, end)`` still owes its
    rollup (an open session always does)."""
    owing = PatrolSession.objects.filter(
        started_at__lt=end + SESSION_EARLY, rolled_up_at__isnull=True
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
    return not owing.exists()


def pings_retention_apply(*, today: date | None = None) -> RetentionResult:
    """Remove the raw pings (phone and AVL) of every expired local day that is rolled up.

    PostgreSQL: first ``ping_partitions_ensure`` (so rows stranded in the DEFAULT partition sit
    in their day's partition), then each expired day's partition is dropped in its own
    transaction. SQLite: each expired day's rows are deleted. An expired day that is not rolled
    up is kept and listed; the next run tries again.
    """
    cutoff = pings_retention_cutoff(today=today)
    result = RetentionResult(cutoff=cutoff)
    cutoff_at = local_day_bounds(cutoff)[0]
    if partitioned():
        ping_partitions_ensure(today=today)
        for p in ping_partitions():
            if p.end > cutoff_at:
                break
            day = p.day or timezone.localdate(p.start)
            if not day_rolled_up(start=p.start, end=p.end):
                result.kept_not_rolled_up.append(day)
                continue
            with transaction.atomic(), connection.cursor() as cursor:
                _ddl_prologue(cursor)
                cursor.execute(f"SELECT count(*) FROM {p.name}")
                (count,) = cursor.fetchone()
                cursor.execute(f"DROP TABLE {p.name}")
            result.removed[day] = int(count)
            logger.info("pings of %s dropped (%s rows, partition %s)", day, count, p.name)
        return result
    resume: datetime | None = None  # past the last day kept
    while True:
        expired = Ping.objects.filter(recorded_at__lt=cutoff_at)
        if resume is not None:
            expired = expired.filter(recorded_at__gte=resume)
        first = expired.order_by("recorded_at").values_list("recorded_at", flat=True).first()
        if first is None:
            return result
        day = timezone.localdate(first)
        start, end = local_day_bounds(day)
        if not day_rolled_up(start=start, end=end):
            result.kept_not_rolled_up.append(day)
            resume = end
            continue
        with transaction.atomic():
            count, _ = Ping.objects.filter(recorded_at__gte=start, recorded_at__lt=end).delete()
        result.removed[day] = count
        logger.info("pings of %s deleted (%s rows)", day, count)
