"""Pings: partitioned by agency-local day on PostgreSQL, and only the indexes queries use.

On both databases the model state changes the same way: the exactly-once keys become
(party, recorded_at, client_uuid) and also serve (party, time range) reads, so the two
(party, recorded_at) indexes and the three single-column foreign-key indexes go.

On SQLite the table keeps its shape and Django's own operations apply. On PostgreSQL one
transaction (this migration's) renames the table, creates the partitioned table with the
final constraints, a partition per agency-local day that holds pings (and for yesterday,
today and the next 7 days) plus a DEFAULT partition, copies the rows across, builds the
indexes once, and drops the old table. The days' boundaries use the agency's TIME_ZONE
setting; later partitions are made by ``backend/patrols/partitions.py`` (beat and the
``ping_partitions`` command). Migrations import no app code, so the DDL is written out here.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.migrations.exceptions import IrreversibleError
from django.db.migrations.operations.base import Operation

TABLE = "patrols_ping"
OLD = "patrols_ping_unpartitioned"
COLUMNS = (
    "id, client_uuid, recorded_at, received_at, clock_skewed, lat, lon, accuracy_m, "
    "speed_mps, heading_deg, officer_id, session_id, unit_id"
)
DAYS_AHEAD = 7


class NotOnPostgres(Operation):
    """Apply ``operation`` to the model state everywhere, to the database only off PostgreSQL
    (where ``pings_partition`` below builds the table in its final shape)."""

    reversible = True

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    def state_forwards(self, app_label, state):
        self.operation.state_forwards(app_label, state)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{self.operation.describe()} (not on PostgreSQL)"

    def deconstruct(self):
        return (self.__class__.__name__, [self.operation], {})


def _bounds(day: date, zone: ZoneInfo) -> tuple[str, str]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start.isoformat(), end.isoformat()


def pings_partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    zone = ZoneInfo(settings.TIME_ZONE)
    with connection.cursor() as c:
        c.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
        c.execute(f"ALTER INDEX {TABLE}_pkey RENAME TO {OLD}_pkey")
        c.execute(f"SELECT COALESCE(MAX(id), 0) FROM {OLD}")
        last_id = c.fetchone()[0]
        # The identity's sequence is named patrols_ping_id_seq: free the name for the new one.
        c.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        c.execute(f"CREATE SEQUENCE {TABLE}_id_seq AS bigint")
        c.execute(
            f"""
            CREATE TABLE {TABLE} (
                id bigint NOT NULL DEFAULT nextval('{TABLE}_id_seq'),
                client_uuid uuid NOT NULL,
                recorded_at timestamp with time zone NOT NULL,
                received_at timestamp with time zone NOT NULL,
                clock_skewed boolean NOT NULL,
                lat double precision NOT NULL,
                lon double precision NOT NULL,
                accuracy_m double precision NOT NULL,
                speed_mps double precision NULL,
                heading_deg double precision NULL,
                officer_id bigint NULL,
                session_id bigint NULL,
                unit_id bigint NULL,
                CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, recorded_at),
                CONSTRAINT ping_officer_in_session_or_unit CHECK (
                    (officer_id IS NOT NULL AND session_id IS NOT NULL AND unit_id IS NULL)
                    OR (officer_id IS NULL AND session_id IS NULL AND unit_id IS NOT NULL)),
                CONSTRAINT ping_lat CHECK (lat >= -90 AND lat <= 90),
                CONSTRAINT ping_lon CHECK (lon >= -180 AND lon <= 180),
                CONSTRAINT ping_accuracy CHECK (accuracy_m >= 0),
                CONSTRAINT ping_speed CHECK (speed_mps IS NULL OR speed_mps >= 0),
                CONSTRAINT ping_heading CHECK (
                    heading_deg IS NULL OR (heading_deg >= 0 AND heading_deg < 360))
            ) PARTITION BY RANGE (recorded_at)
            """
        )
        c.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
        if last_id:
            c.execute(f"SELECT setval('{TABLE}_id_seq', %s)", [last_id])
        c.execute(
            f"SELECT DISTINCT (recorded_at AT TIME ZONE %s)::date FROM {OLD}", [settings.TIME_ZONE]
        )
        days = {row[0] for row in c.fetchall()}
        today = datetime.now(zone).date()
        days.update(today + timedelta(days=k) for k in range(-1, DAYS_AHEAD + 1))
        for day in sorted(days):
            start, end = _bounds(day, zone)
            c.execute(
                f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
        c.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        c.execute(f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD}")
        c.execute(f"DROP TABLE {OLD}")
        # Built once, after the copy: cheaper than maintaining them row by row.
        for party in ("officer", "unit"):
            c.execute(
                f"CREATE UNIQUE INDEX ping_{party}_time_uuid ON {TABLE} "
                f"({party}_id, recorded_at, client_uuid) WHERE {party}_id IS NOT NULL"
            )
        # Foreign keys after the copy: one validating query each instead of a deferred check
        # per row (which would also block the index builds in this transaction).
        for column, target in (
            ("officer_id", "accounts_user"),
            ("session_id", "patrols_patrolsession"),
            ("unit_id", "patrols_avlunit"),
        ):
            c.execute(
                f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_{column}_fk_{target}_id "
                f"FOREIGN KEY ({column}) REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
            )
        c.execute(f"ANALYZE {TABLE}")


def pings_unpartition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        raise IrreversibleError(
            "pings stay partitioned: restore a backup taken before 0006 to go back"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("patrols", "0005_session_rollup_due"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        NotOnPostgres(migrations.RemoveConstraint(model_name="ping", name="ping_officer_uuid")),
        NotOnPostgres(migrations.RemoveConstraint(model_name="ping", name="ping_unit_uuid")),
        NotOnPostgres(migrations.RemoveIndex(model_name="ping", name="ping_officer_time_idx")),
        NotOnPostgres(migrations.RemoveIndex(model_name="ping", name="ping_unit_time_idx")),
        NotOnPostgres(
            migrations.AlterField(
                model_name="ping",
                name="officer",
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL),
            )
        ),
        NotOnPostgres(
            migrations.AlterField(
                model_name="ping",
                name="session",
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="pings", to="patrols.patrolsession"),
            )
        ),
        NotOnPostgres(
            migrations.AlterField(
                model_name="ping",
                name="unit",
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, to="patrols.avlunit"),
            )
        ),
        NotOnPostgres(
            migrations.AddConstraint(
                model_name="ping",
                constraint=models.UniqueConstraint(condition=models.Q(("officer__isnull", False)), fields=("officer", "recorded_at", "client_uuid"), name="ping_officer_time_uuid"),
            )
        ),
        NotOnPostgres(
            migrations.AddConstraint(
                model_name="ping",
                constraint=models.UniqueConstraint(condition=models.Q(("unit__isnull", False)), fields=("unit", "recorded_at", "client_uuid"), name="ping_unit_time_uuid"),
            )
        ),
        migrations.RunPython(pings_partition, pings_unpartition),
    ]
