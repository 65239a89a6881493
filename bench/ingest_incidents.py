"""Incident import of the Chicago file (148,636 rows) through ``import_incidents`` on PostgreSQL.

Run: ``DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presence_bench
python bench/ingest_incidents.py [--repeat 3]``. Migrates the database if needed, deletes the
incidents and imports of its own source (``bench-chicago``) and vacuums the table before each
first import, then times the command on the file (first import: every row new; re-import:
every row a duplicate), the first import again with the index and key rebuild turned off
(``writing.DEFER_INDEXES_MIN_ROWS`` out of reach: every index and foreign key maintained row by
row, as when the table already holds more rows than the file), and the read + check phase
alone. Peers on the same server, with the rows built in Python beforehand: psycopg's binary
COPY into a temporary table; the server's share of a later import (that COPY plus the import's
``INSERT .. ON CONFLICT DO NOTHING`` into a scratch copy of the incident table with the same
indexes, unique key, CHECK constraints and foreign keys, committed); and one plain binary COPY
of the same rows straight into such a copy (``LIKE .. INCLUDING ALL`` plus the three deferred
foreign keys), the commit and its key checks included. Prints the best of ``--repeat`` runs.

``--big-rows 1000000`` also imports a file of at least that many rows, synthesized from the
Chicago file repeated (its ids are row hashes, so each repeat is a distinct incident), as the
first import of its own source: the size where the import builds the secondary indexes after
the insert (``writing.DEFER_INDEXES_MIN_ROWS``); its peer is one plain binary COPY of as many
rows into a copy of the table with the same indexes and foreign keys.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
# The agency area must hold Chicago, or every row is rejected as outside it.
os.environ["PRESENCE_ORIGIN"] = "41.84,-87.68"
os.environ["DEBUG"] = "false"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from backend.incidents import writing  # noqa: E402
from backend.incidents.mapping import import_spec_build  # noqa: E402
from backend.incidents.models import Incident, IncidentImport, OffenceType  # noqa: E402
from backend.incidents.validation import import_file_read  # noqa: E402

DATA = ROOT / "tests" / "data"
FILE = DATA / "crime" / "chicago_aggravated_assaults.csv.gz"
ROWS = 148_636
SOURCE = "bench-chicago"
ARGS = [
    str(FILE),
    "--map",
    "occurred_at=date,lat=latitude,lon=longitude,premise=loc_cat",
    "--offence",
    "aggravated-assault",
    "--tz",
    "America/Chicago",
    "--source",
    SOURCE,
]
STAGE_DDL = (
    "CREATE TEMP TABLE bench_stage (source_id text, occurred bigint, lat float8, lon float8, "
    "offence_id bigint, premise text, district_id bigint, block text) ON COMMIT DROP"
)
Row = tuple[Any, ...]


def reset() -> None:
    Incident.objects.filter(source=SOURCE).delete()
    IncidentImport.objects.filter(source=SOURCE).delete()
    with connection.cursor() as cur:  # autocommit: VACUUM cannot run in a transaction
        cur.execute("VACUUM ANALYZE hotspots_incident")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def command() -> None:
    call_command("import_incidents", *ARGS, stdout=io.StringIO())


def file_rows() -> list[Row]:
    """The file's rows as the import stages them (times as UTC epoch seconds)."""
    offence = OffenceType.objects.get(code="aggravated-assault").pk
    rows = []
    seen: dict[str, int] = {}
    with gzip.open(FILE, "rt", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for r in reader:
            digest = hashlib.sha1("\x1f".join(r).encode()).hexdigest()
            seen[digest] = k = seen.get(digest, 0) + 1
            when = int(datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp())
            rows.append((f"{digest}#{k}", when, float(r[3]), float(r[2]), offence, r[1], None, ""))
    return rows


def copy_into_stage(cur: Any, rows: list[Row]) -> None:
    cur.execute(STAGE_DDL)
    with cur.copy("COPY bench_stage FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "int8", "float8", "float8", "int8", "text", "int8", "text"])
        for row in rows:
            copy.write_row(row)


def peer_copy(rows: list[Row]) -> float:
    """psycopg binary COPY into a temporary table (rolled back)."""
    with transaction.atomic(), connection.connection.cursor() as cur:
        started = time.perf_counter()
        copy_into_stage(cur, rows)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


def peer_table(rows: list[Row], import_id: int, *, direct: bool) -> float:
    """Into a scratch copy of the incident table (same indexes and foreign keys), committed:
    the import's COPY to a stage + INSERT .. ON CONFLICT, or (``direct``) one plain COPY."""
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_incident")
        cur.execute("CREATE TABLE bench_incident (LIKE hotspots_incident INCLUDING ALL)")
        cur.execute(
            "ALTER TABLE bench_incident "
            "ADD FOREIGN KEY (offence_id) REFERENCES hotspots_offencetype(id) "
            "DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (imported_by_id) REFERENCES hotspots_incidentimport(id) "
            "DEFERRABLE INITIALLY DEFERRED, "
            "ADD FOREIGN KEY (district_id) REFERENCES accounts_district(id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
    full = [
        (SOURCE, sid, datetime.fromtimestamp(t, tz=UTC), la, lo, off, prem, dist, import_id, blk)
        for sid, t, la, lo, off, prem, dist, blk in rows
    ]
    columns = (
        "source, source_id, occurred_at, lat, lon, offence_id, premise, district_id, "
        "imported_by_id, block"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.connection.cursor() as cur:
        if direct:
            with cur.copy(f"COPY bench_incident ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(
                    [
                        "text",
                        "text",
                        "timestamptz",
                        "float8",
                        "float8",
                        "int8",
                        "text",
                        "int8",
                        "int8",
                        "text",
                    ]
                )
                for row in full:
                    copy.write_row(row)
        else:
            copy_into_stage(cur, rows)
            cur.execute(
                f"INSERT INTO bench_incident ({columns}) SELECT %s, source_id, "
                "to_timestamp(occurred), lat, lon, offence_id, premise, district_id, %s, block "
                "FROM bench_stage ON CONFLICT (source, source_id) DO NOTHING",
                (SOURCE, import_id),
            )
    elapsed = time.perf_counter() - started  # the commit (and its foreign key checks) included
    with connection.cursor() as cur:
        cur.execute("DROP TABLE bench_incident")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-rows", type=int, default=0, help="also a file this big (0: no)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("This benchmark needs PostgreSQL: set DATABASE_URL=postgresql://...")
    call_command("migrate", verbosity=0)
    spec = import_spec_build(
        columns={
            "occurred_at": "date",
            "lat": "latitude",
            "lon": "longitude",
            "premise": "loc_cat",
        },
        offence="aggravated-assault",
        time_zone="America/Chicago",
    )
    first, again, maintained, read = [], [], [], []
    for _ in range(args.repeat):
        reset()
        first.append(timed(command))
        again.append(timed(command))
        reset()
        threshold = writing.DEFER_INDEXES_MIN_ROWS
        writing.DEFER_INDEXES_MIN_ROWS = 1 << 62
        try:
            maintained.append(timed(command))
        finally:
            writing.DEFER_INDEXES_MIN_ROWS = threshold
        read.append(timed(lambda: import_file_read(path=FILE, spec=spec)))
    imports = list(IncidentImport.objects.filter(source=SOURCE).order_by("pk"))
    stored = Incident.objects.filter(source=SOURCE).count()
    assert stored == ROWS, f"{stored} incidents stored, expected {ROWS}"
    assert [(i.imported, i.duplicates) for i in imports] == [(ROWS, 0)]
    rows = file_rows()
    copy = [peer_copy(rows) for _ in range(args.repeat)]
    server = [peer_table(rows, imports[0].pk, direct=False) for _ in range(args.repeat)]
    direct = [peer_table(rows, imports[0].pk, direct=True) for _ in range(args.repeat)]

    def line(workload: str, seconds: list[float], peer: str) -> str:
        best = min(seconds)
        return (
            f"| {workload} | {best:.2f} s (median {statistics.median(seconds):.2f}) | "
            f"{ROWS / best:,.0f} | {peer} |"
        )

    print(
        f"Chicago file, {ROWS:,} rows, PostgreSQL {connection.pg_version // 10000}, "
        f"best of {args.repeat}\n"
    )
    print("| workload | time | rows/s | peer figure |")
    print("|---|---|---|---|")
    peer = f"psycopg binary COPY of the same rows into a temp table: {ROWS / min(copy):,.0f} rows/s"
    print(line("`import_incidents`, first import (all new)", first, peer))
    print(line("`import_incidents`, re-import (all duplicates)", again, peer))
    print(line("`import_incidents`, first import, indexes and keys kept", maintained, peer))
    print(line("of which read + check only (no database)", read, "-"))
    share = "the server's share of a later import (4 indexes, 3 deferred FKs)"
    print(line("peer: COPY + INSERT .. ON CONFLICT into a copy of the table", server, share))
    plain = "no staging, no ON CONFLICT: one COPY into a table with these indexes and FKs"
    print(line("peer: plain binary COPY into a copy of the table", direct, plain))
    print(
        f"\nfirst import / plain COPY into a copy of the table: {min(direct) / min(first):.0%}"
        f" (best of each), {statistics.median(direct) / statistics.median(first):.0%} (medians);"
        f" with indexes and keys kept: {min(direct) / min(maintained):.0%} (best of each)"
    )
    if args.big_rows:
        big(args.big_rows, rows, imports[0].pk)


def big(target: int, rows: list[Row], import_id: int) -> None:
    """First import of a file of ``target`` rows or more, beside a plain COPY of as many."""
    import tempfile

    repeats = -(-target // ROWS)
    source = f"{SOURCE}-big"
    Incident.objects.filter(source=source).delete()
    IncidentImport.objects.filter(source=source).delete()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE hotspots_incident")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chicago_big.csv.gz"
        with gzip.open(FILE, "rb") as src:
            header, body = src.read().split(b"\n", 1)
        body = body if body.endswith(b"\n") else body + b"\n"
        with gzip.open(path, "wb", compresslevel=1) as out:
            out.write(header + b"\n" + body * repeats)
        args = [str(path), *ARGS[1:-1], source]
        seconds = timed(lambda: call_command("import_incidents", *args, stdout=io.StringIO()))
    n = ROWS * repeats
    stored = Incident.objects.filter(source=source).count()
    assert stored == n, f"{stored} incidents stored, expected {n}"
    many = [(f"{r[0]}-{k}", *r[1:]) for k in range(repeats) for r in rows]
    peer = peer_table(many, import_id, direct=True)
    print(f"\nA {n:,}-row file (the Chicago file {repeats} times), first import of its source\n")
    print("| workload | time | rows/s |")
    print("|---|---|---|")
    print(f"| `import_incidents`, first import | {seconds:.2f} s | {n / seconds:,.0f} |")
    print(f"| peer: plain binary COPY into a copy of the table | {peer:.2f} s | {n / peer:,.0f} |")
    print(f"\nfirst import / plain COPY: {peer / seconds:.0%}")
    Incident.objects.filter(source=source).delete()


if __name__ == "__main__":
    main()
