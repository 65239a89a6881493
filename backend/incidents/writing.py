"""Writing an import's good rows exactly once, and running an import from its file.

* **Idempotent on the source id.** An incident is unique per (source, source id); importing a
  file again stores nothing twice and counts those rows as duplicates.
* **Nothing is half-imported.** Every row is checked first (progress is written as it goes,
  outside any transaction, so a page can poll it); then all good rows are written in one
  transaction. A failure while writing stores no incident and marks the import failed.
* **Exact counts.** PostgreSQL: a source's first import (no stored row, checked under a
  per-source lock) is one binary COPY straight into the table, whose count is the number
  imported; a big one (``DEFER_INDEXES_MIN_ROWS``, and at least as big as the table) drops the
  secondary indexes, the unique key and the foreign keys first and puts each back after the
  COPY, in the same transaction (putting them back checks every row). A later import: COPY
  into a temporary staging table, then one ``INSERT .. SELECT .. ON CONFLICT (source,
  source_id) DO NOTHING`` whose row count is the number imported.
  SQLite: ``executemany`` of ``INSERT .. ON CONFLICT (source, source_id) DO NOTHING``, counting
  the source's rows before and after while holding SQLite's write lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from backend.audit.services import audit_record
from backend.config.timeparse import utc_datetimes
from backend.incidents.mapping import ImportSpec
from backend.incidents.models import ImportStatus, Incident, IncidentImport
from backend.incidents.parsing import ImportFileError, count_lines, stored_file_path
from backend.incidents.validation import ParsedFile, import_file_read

COPY_BLOCK_ROWS = 50_000  # rows converted from numpy to Python objects at a time: bounds memory
EXECUTEMANY_ROWS = 10_000  # rows per executemany (one row bound at a time, so no variable
# limit applies): bounds the parameter tuples held in memory at once


_COLUMNS = (
    "source, source_id, occurred_at, lat, lon, offence_id, premise, district_id, "
    "imported_by_id, block"
)
# occurred_at goes as int8: binary timestamptz is the same 8 bytes (microseconds since
# 2000-01-01 UTC, big-endian), read and range-checked by the server's timestamptz input, and
# numpy makes those integers a hundred times faster than Python makes aware datetimes.
_TYPES = ["text", "text", "int8", "float8", "float8", "int8", "text", "int8", "int8", "text"]
_PG_EPOCH_S = 946_684_800  # 2000-01-01T00:00:00Z in Unix seconds


def _copy_rows(copy: Any, parsed: ParsedFile, *, stamp: Any) -> None:
    """Write ``parsed``'s good rows to ``copy``, each prefixed and laid out by ``stamp``.

    ``stamp(source_ids, times, lat, lon, offence, premise, district, block)`` returns the
    block's rows; times are epoch seconds, district None where there is none.
    """
    n = len(parsed.source_id)
    for lo in range(0, n, COPY_BLOCK_ROWS):
        hi = min(n, lo + COPY_BLOCK_ROWS)
        district = parsed.district_id[lo:hi]
        for row in stamp(
            parsed.source_id[lo:hi],
            parsed.occurred[lo:hi],
            parsed.lat[lo:hi].tolist(),
            parsed.lon[lo:hi].tolist(),
            parsed.offence_id[lo:hi].tolist(),
            parsed.premise[lo:hi],
            [None if d < 0 else d for d in district.tolist()],
            parsed.block[lo:hi],
        ):
            copy.write_row(row)


def _write_copy(import_id: int, source: str, parsed: ParsedFile) -> int:
    """PostgreSQL: a source's first import is one binary COPY straight into the table; a later
    one a binary COPY into a temporary table, then one INSERT .. ON CONFLICT DO NOTHING.

    Binary COPY with declared types lets psycopg's C code encode the rows (no text escaping).
    """
    raw = connection.connection
    n = len(parsed.source_id)
    with raw.cursor() as cur:
        # A source's first import cannot meet a stored row (the file's good ids are unique):
        # then the rows go in by plain COPY, without the stage and the speculative insertion
        # of ON CONFLICT (about a third more than a plain insert). Imports of one source take
        # turns on this lock, so "no row yet" stays true until the commit.
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"incident-source:{source}",)
        )
        cur.execute("SELECT EXISTS (SELECT 1 FROM hotspots_incident WHERE source = %s)", (source,))
        row = cur.fetchone()
        if not (row and row[0]):
            rebuild = _checks_dropped(cur, n)

            def full(sid: Any, when: Any, *rest: Any) -> Any:
                return zip(
                    repeat(source),
                    sid,
                    ((when - _PG_EPOCH_S) * 1_000_000).tolist(),
                    *rest[:5],
                    repeat(import_id),
                    rest[5],
                    strict=False,  # the repeats are endless; the other columns are equal
                )

            with cur.copy(f"COPY hotspots_incident ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(_TYPES)
                _copy_rows(cp, parsed, stamp=full)
            for ddl in rebuild:
                cur.execute(ddl)
            if rebuild:
                cur.execute("SET CONSTRAINTS ALL DEFERRED")
            return n
        stage = f"incident_stage_{import_id}"
        cur.execute(
            f"CREATE TEMP TABLE {stage} (source_id text, occurred bigint, lat float8, "
            "lon float8, offence_id bigint, premise text, district_id bigint, block text) "
            "ON COMMIT DROP"
        )
        with cur.copy(f"COPY {stage} FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["text", "int8", "float8", "float8", "int8", "text", "int8", "text"])
            _copy_rows(
                cp,
                parsed,
                stamp=lambda sid, when, *rest: zip(sid, when.tolist(), *rest, strict=True),
            )
        cur.execute(
            f"INSERT INTO hotspots_incident ({_COLUMNS}) "
            "SELECT %s, source_id, to_timestamp(occurred), lat, lon, offence_id, premise, "
            f"district_id, %s, block FROM {stage} ON CONFLICT (source, source_id) DO NOTHING",
            (source, import_id),
        )
        imported = cur.rowcount
        # Dropped now, not only at commit: inside an outer transaction (tests) the name would
        # still be taken by the next import.
        cur.execute(f"DROP TABLE {stage}")
    return int(imported)


# A first import at least this big, and at least as big as the table already is, builds the
# secondary indexes, the unique key and the foreign keys afresh after the insert instead of
# maintaining them row by row: a sort per index and one join per foreign key beat a random
# index insertion and a queued trigger per row (together about half of a plain COPY's time).
# Below this size the rebuild of an existing table's indexes would cost more than it saves.
DEFER_INDEXES_MIN_ROWS = 100_000


def _checks_dropped(cur: Any, rows: int) -> list[str]:
    """Drop the incident table's secondary indexes, unique key and foreign keys for a big
    insert; return the statements that put each back, same name, same definition.

    The primary key and the CHECK constraints stay (cheap: the key grows at its right edge).
    Putting the unique key and foreign keys back checks every row of the table, so the insert
    is checked as before, only in one pass. Inside the import's transaction: a failure rolls the
    drop back with everything else, and readers of the table wait for the commit (the ACCESS
    EXCLUSIVE lock the drop takes) instead of seeing a half-imported table; writers of the
    referenced tables (offence types, districts, imports) wait while the keys are re-added.
    """
    if rows < DEFER_INDEXES_MIN_ROWS:
        return []
    cur.execute("SELECT reltuples FROM pg_class WHERE oid = 'hotspots_incident'::regclass")
    found = cur.fetchone()
    if found and rows < found[0]:  # -1 (never analysed) counts as empty
        return []
    # ALTER TABLE refuses a table with pending (deferred) foreign key checks: run any an outer
    # transaction queued now, as its commit would have.
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # The locks re-adding the foreign keys needs, taken first and in this order: another
    # import that has claimed its row and waits for the incident table would otherwise
    # deadlock with this one. Writers of these tables wait until the commit.
    cur.execute(
        "LOCK TABLE hotspots_incidentimport, hotspots_offencetype, accounts_district "
        "IN SHARE ROW EXCLUSIVE MODE"
    )
    cur.execute("LOCK TABLE hotspots_incident IN ACCESS EXCLUSIVE MODE")
    cur.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'hotspots_incident'::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname"
    )
    indexes = cur.fetchall()
    cur.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'hotspots_incident'::regclass AND contype IN ('u', 'f') "
        "ORDER BY contype DESC, conname"  # unique keys first: built before the joins
    )
    constraints = cur.fetchall()
    for name, _, _ in constraints:
        cur.execute(f'ALTER TABLE hotspots_incident DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    restore = [
        f'ALTER TABLE hotspots_incident ADD CONSTRAINT "{name}" {ddl}'
        for name, kind, ddl in constraints
        if kind == "u"
    ]
    restore += [ddl for _, ddl in indexes]
    foreign = [f'ADD CONSTRAINT "{name}" {ddl}' for name, kind, ddl in constraints if kind == "f"]
    if foreign:
        restore.append("ALTER TABLE hotspots_incident " + ", ".join(foreign))
    return restore


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
            import_id=import_id,
            status=cur.status,
            rows=cur.rows_total,
            imported=cur.imported,
            duplicates=cur.duplicates,
            rejected=cur.rejected,
            method=method,
            seconds=time.perf_counter() - started,
            error=error or cur.error,
        )

    if imp.status == ImportStatus.DONE:
        return outcome("none")
    spec = ImportSpec.from_json(imp.mapping)
    file = path or stored_file_path(imp.client_uuid)
    try:
        if file is None:
            raise ImportFileError("the uploaded file is no longer stored: upload it again")
        total = max(count_lines(file) - 1, 0)
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
