"""The move of the incident data from ``hotspots`` to ``incidents`` keeps every row.

The database is taken back to the layout before the move (``hotspots.0006``, no ``incidents``),
rows are written through that state's historical models, the database is migrated forward,
and the same rows are read through today's models. Runs on SQLite and, with DATABASE_URL set
to PostgreSQL, on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from backend.hotspots.models import AnalysisRun
from backend.incidents.models import (
    ColumnMapping,
    HarmWeight,
    HarmWeightVersion,
    Incident,
    IncidentImport,
    OffenceType,
)

BEFORE_THE_MOVE = [("hotspots", "0006_hand_drawn_hotspots"), ("incidents", None)]
OCCURRED = datetime(2025, 3, 9, 7, 30, tzinfo=UTC)


def _migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_rows_written_before_the_move_read_the_same_through_the_incidents_models() -> None:
    executor = _migrate(BEFORE_THE_MOVE)
    applied = list(MigrationLoader(connection).applied_migrations)
    old = executor.loader.project_state(applied, at_end=True).apps
    assert "incidents" not in {m._meta.app_label for m in old.get_models()}
    user = old.get_model("accounts", "User").objects.create(username="analyst-before")
    district = old.get_model("accounts", "District").objects.create(
        name="Old Town",
        code="OT",
        boundary={"type": "Polygon", "coordinates": []},
        min_lat=51.4,
        min_lon=-0.2,
        max_lat=51.6,
        max_lon=0.0,
    )
    offence = old.get_model("hotspots", "OffenceType").objects.create(
        code="old-robbery", name="Old robbery", group="violent", aliases=["ROB"]
    )
    version = old.get_model("hotspots", "HarmWeightVersion").objects.create(
        number=901, note="before the move", created_by=user
    )
    old.get_model("hotspots", "HarmWeight").objects.create(
        version=version, offence=offence, days=365.0
    )
    old.get_model("hotspots", "ColumnMapping").objects.create(
        name="old-rms", source="rms", columns={"occurred_at": "when"}, time_zone="Europe/London"
    )
    imp = old.get_model("hotspots", "IncidentImport").objects.create(
        uploaded_by=user,
        source="rms",
        file_name="old.csv",
        file_sha256="ab" * 32,
        status="done",
        rows_total=1,
        rows_done=1,
        imported=1,
    )
    incident = old.get_model("hotspots", "Incident").objects.create(
        source="rms",
        source_id="R-1",
        occurred_at=OCCURRED,
        lat=51.5,
        lon=-0.12,
        offence=offence,
        premise="street",
        district=district,
        imported_by=imp,
    )
    run = old.get_model("hotspots", "AnalysisRun").objects.create(
        as_of=OCCURRED.date(), weights_version=version, status="done"
    )
    old_type_id = ContentType.objects.get_for_model(
        old.get_model("hotspots", "Incident"), for_concrete_model=False
    ).pk

    _migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()

    moved = Incident.objects.select_related("offence", "district", "imported_by").get(
        pk=incident.pk
    )
    assert (moved.source, moved.source_id, moved.occurred_at, moved.lat, moved.lon) == (
        "rms",
        "R-1",
        OCCURRED,
        51.5,
        -0.12,
    )
    assert (moved.premise, moved.district.code, moved.offence.code) == (
        "street",
        "OT",
        "old-robbery",
    )
    assert moved.imported_by is not None and moved.imported_by.file_name == "old.csv"
    assert OffenceType.objects.get(pk=offence.pk).aliases == ["ROB"]
    assert IncidentImport.objects.get(pk=imp.pk).uploaded_by_id == user.pk
    assert ColumnMapping.objects.get(name="old-rms").columns == {"occurred_at": "when"}
    weight = HarmWeight.objects.get(version__number=901)
    assert (weight.offence_id, weight.days) == (offence.pk, 365.0)
    assert HarmWeightVersion.objects.get(pk=version.pk).created_by_id == user.pk
    # A foreign key from hotspots follows the model to its new app.
    assert AnalysisRun.objects.get(pk=run.pk).weights_version.number == 901
    # The content type moved with the model (same row), so permissions on it still apply.
    assert ContentType.objects.get_for_model(Incident).pk == old_type_id
    # The table's id sequence carries on: a new incident takes the next id.
    later = Incident.objects.create(
        source="rms",
        source_id="R-2",
        occurred_at=OCCURRED,
        lat=51.5,
        lon=-0.12,
        offence=moved.offence,
    )
    assert later.pk > incident.pk
