"""Incident import: the command and the service, checked against rows counted independently."""

from __future__ import annotations

import csv
import gzip
import io
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from pyproj import Geod

from backend.config.timeparse import local_to_utc, parse_times
from backend.incidents.mapping import import_spec_build
from backend.incidents.models import ColumnMapping, Incident, IncidentImport, OffenceType
from backend.incidents.services import incident_import_create
from backend.incidents.tasks import import_run_task
from backend.incidents.writing import incident_import_run
from tests.conftest import TEST_DATA
from tests.factories import DistrictFactory

CHICAGO = TEST_DATA / "crime" / "chicago_aggravated_assaults.csv.gz"
CHICAGO_ROWS = 148_636
CHICAGO_ORIGIN = (41.84, -87.68)
# No row of the file lies within 30 m of a 23.05 km circle round the origin (checked below), and
# the import's projection is within 0.1% (23 m) of the geodesic there: the split is exact.
CHICAGO_RADIUS_KM = 23.05
CHICAGO_MAP = "occurred_at=date,lat=latitude,lon=longitude,premise=loc_cat"

BAD_FILE = """id,when,lat,lon,type,place
A1,2024-05-01 21:30,25.80,-80.21,robbery,street
A2,yesterday evening,25.80,-80.21,robbery,street
A3,2024-05-01 21:30,26.90,-80.21,robbery,street
A4,2024-05-01 21:30,NaN,-80.21,robbery,street
A5,2024-05-01 21:30,-80.21,25.80,robbery,street
A6,2024-05-01 21:30,25.80,-80.21,jaywalking,street
,2024-05-01 21:30,25.80,-80.21,robbery,street
A1,2024-05-02 10:00,25.81,-80.20,burglary,street

A7,05/02/2024 10:15 PM,25.79,-80.19,Aggravated Assault,"corner, store"
A8,2024-05-03T08:00:00Z,25.70,-80.19,larceny,street
"""
BAD_MAP = "id=id,occurred_at=when,lat=lat,lon=lon,offence=type,premise=place"


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command("import_incidents", *args, stdout=out)
    return out.getvalue()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def chicago_expected() -> tuple[int, set[int]]:
    """Rows inside the area and the file lines of those outside, by the geodesic (pyproj)."""
    with gzip.open(CHICAGO, "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == CHICAGO_ROWS
    lat = np.array([float(r["latitude"]) for r in rows])
    lon = np.array([float(r["longitude"]) for r in rows])
    _, _, metres = Geod(ellps="WGS84").inv(
        np.full(lat.size, CHICAGO_ORIGIN[1]), np.full(lat.size, CHICAGO_ORIGIN[0]), lon, lat
    )
    radius = CHICAGO_RADIUS_KM * 1000
    assert not (np.abs(metres - radius) < 30).any()  # the premise of an exact split
    outside = metres > radius
    return int((~outside).sum()), {int(i) + 2 for i in np.flatnonzero(outside)}


@pytest.mark.django_db
def test_importing_the_chicago_file_twice_stores_each_row_once(settings: Any) -> None:
    settings.PRESENCE_ORIGIN = CHICAGO_ORIGIN
    settings.PRESENCE_AREA_RADIUS_KM = CHICAGO_RADIUS_KM
    inside, outside_lines = chicago_expected()
    assert len(outside_lines) == CHICAGO_ROWS - inside == 322

    args = [
        str(CHICAGO),
        "--map",
        CHICAGO_MAP,
        "--offence",
        "aggravated-assault",
        "--tz",
        "America/Chicago",
        "--source",
        "chicago",
    ]
    out = run_command(*args)
    first = IncidentImport.objects.get()
    assert (first.status, first.rows_total, first.imported, first.duplicates, first.rejected) == (
        "done",
        CHICAGO_ROWS,
        inside,
        0,
        CHICAGO_ROWS - inside,
    )
    assert first.imported + first.rejected == CHICAGO_ROWS
    assert f"imported {inside:,} · duplicates 0 · rejected {CHICAGO_ROWS - inside:,}" in out
    assert {r["line"] for r in first.rejections} == outside_lines
    assert all(
        "outside the agency area (more than 23.05 km from 41.84,-87.68)" in r["reason"]
        for r in first.rejections
    )
    expected_method = "COPY" if connection.vendor == "postgresql" else "INSERT .. ON CONFLICT"
    assert f"written by {expected_method}." in out
    assert Incident.objects.count() == inside

    spec = import_spec_build(
        columns={"occurred_at": "date", "lat": "latitude", "lon": "longitude"},
        offence="aggravated-assault",
        time_zone="America/Chicago",
    )
    again, _ = incident_import_create(
        path=CHICAGO, file_name=CHICAGO.name, spec=spec, source="chicago"
    )
    outcome = incident_import_run(import_id=again.pk, path=CHICAGO)
    assert outcome.method == ("copy" if connection.vendor == "postgresql" else "executemany")
    assert (outcome.imported, outcome.duplicates, outcome.rejected) == (
        0,
        inside,
        CHICAGO_ROWS - inside,
    )
    assert Incident.objects.count() == inside

    # The first row (line 2): 2010-01-01 00:05 Chicago time (CST, UTC-6), a residence.
    row = Incident.objects.get(
        lat=41.7922, lon=-87.6277, occurred_at__year=2010, occurred_at__month=1, occurred_at__day=1
    )
    assert row.occurred_at == datetime(2010, 1, 1, 6, 5, tzinfo=UTC)
    assert (row.premise, row.offence.code, row.imported_by_id) == (
        "residence",
        "aggravated-assault",
        first.pk,
    )


@pytest.mark.django_db
def test_a_file_with_bad_rows_reports_each_by_line_and_reason_and_keeps_the_good(
    tmp_path: Path,
) -> None:
    district = DistrictFactory(name="Downtown", code="downtown")  # lon -80.24..-80.18, lat 25.75..
    path = write(tmp_path, "rms.csv", BAD_FILE)
    out = run_command(str(path), "--map", BAD_MAP, "--tz", "America/New_York")
    imp = IncidentImport.objects.get()
    assert (imp.rows_total, imp.imported, imp.duplicates, imp.rejected) == (11, 3, 1, 7)
    by_line = {r["line"]: (r["field"], r["reason"]) for r in imp.rejections}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 10]
    assert by_line[3][0] == "occurred_at"
    assert by_line[3][1].startswith("unparseable time 'yesterday evening' (expected ISO-8601")
    assert by_line[4] == (
        "lat",
        "coordinates (26.9, -80.21) are outside the agency area "
        "(more than 40 km from 25.80,-80.21)",
    )
    assert by_line[5] == ("lat", "latitude is NaN (not a finite number)")
    assert by_line[6] == (
        "lat",
        "coordinates (-80.21, 25.8) are outside the agency area (more than 40 km from "
        "25.80,-80.21); latitude and longitude look swapped (25.8, -80.21 would be inside)",
    )
    assert by_line[7] == ("offence", "unknown offence 'jaywalking'")
    assert by_line[8] == ("id", "missing id")
    assert by_line[10] == ("", "empty line")
    assert imp.mapping["unknown_offences"] == {"jaywalking": 1}
    assert "imported 3 · duplicates 1 · rejected 7" in out
    assert "line 7: unknown offence 'jaywalking'" in out

    stored = {i.source_id: i for i in Incident.objects.select_related("offence")}
    assert set(stored) == {"A1", "A7", "A8"}
    a1, a7, a8 = stored["A1"], stored["A7"], stored["A8"]
    # A1: the first of two rows with that id; 21:30 EDT is 01:30Z the next day.
    assert (a1.occurred_at, a1.offence.code, a1.lat) == (
        datetime(2024, 5, 2, 1, 30, tzinfo=UTC),
        "robbery-personal",
        25.80,
    )
    # A7: US date format with PM; the offence by its alias in another case; a quoted comma.
    assert (a7.occurred_at, a7.offence.code, a7.premise, a7.district_id) == (
        datetime(2024, 5, 3, 2, 15, tzinfo=UTC),
        "aggravated-assault",
        "corner, store",
        district.pk,
    )
    # A8: the time carries its offset (Z); 25.70 is inside the area but south of the district.
    assert (a8.occurred_at, a8.district_id) == (datetime(2024, 5, 3, 8, 0, tzinfo=UTC), None)
    assert all(i.source == "rms" for i in stored.values())  # --source defaults to the stem


@pytest.mark.django_db
def test_mapping_an_unknown_offence_and_running_again_adds_only_those_rows(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "rms.csv", BAD_FILE)
    run_command(str(path), "--map", BAD_MAP, "--save-mapping", "city-rms")
    out = run_command(
        str(path), "--mapping", "city-rms", "--offence-map", "jaywalking=disorderly-conduct"
    )
    second = IncidentImport.objects.order_by("-pk").first()
    assert second is not None
    assert (second.imported, second.duplicates, second.rejected) == (1, 4, 6)
    assert "imported 1 · duplicates 4 · rejected 6" in out
    assert Incident.objects.get(source_id="A6").offence.code == "disorderly-conduct"
    assert Incident.objects.count() == 4
    assert ColumnMapping.objects.get(name="city-rms").columns["offence"] == "type"


@pytest.mark.django_db
def test_an_import_that_fails_while_writing_stores_nothing_and_can_be_retried(
    tmp_path: Path,
) -> None:
    # 25,000 good rows, then one the database refuses (a trigger, as a constraint the row
    # checks do not know about): the failure comes in the third batch, mid-write.
    lines = ["id,t,lat,lon"] + [
        f"r{i},2024-01-01 10:{i % 60:02d},25.80,-80.21" for i in range(25_000)
    ]
    path = write(tmp_path, "big.csv", "\n".join([*lines, "poison,2024-01-01 11:00,25.8,-80.2"]))
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.source_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                "RETURN NEW; END $$"
            )
            cur.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON hotspots_incident FOR EACH ROW "
                "EXECUTE FUNCTION refuse_poison()"
            )
        else:
            cur.execute(
                "CREATE TRIGGER poison BEFORE INSERT ON hotspots_incident "
                "WHEN NEW.source_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned row'); "
                "END"
            )
    args = [str(path), "--map", "id=id,occurred_at=t,lat=lat,lon=lon", "--offence", "larceny"]
    with pytest.raises(CommandError, match=r"nothing was imported.*poisoned row"):
        run_command(*args)
    imp = IncidentImport.objects.get()
    assert imp.status == "failed"
    assert "poisoned row" in imp.error
    assert Incident.objects.count() == 0

    with connection.cursor() as cur:
        on_table = " ON hotspots_incident" if connection.vendor == "postgresql" else ""
        cur.execute("DROP TRIGGER poison" + on_table)
    assert incident_import_run(import_id=imp.pk, path=path).imported == 25_001
    imp.refresh_from_db()
    assert (imp.status, imp.error, Incident.objects.count()) == ("done", "", 25_001)


@pytest.mark.django_db
def test_local_times_follow_dst_as_documented(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dst.csv",
        (
            "id,t,lat,lon\n"
            "fall-first,2021-11-07 01:30,25.8,-80.21\n"  # repeated hour: the first (EDT) occurrence
            "fall-after,2021-11-07 02:30,25.8,-80.21\n"  # EST
            "fall-offset,2021-11-07T01:30:00-05:00,25.8,-80.21\n"  # the second 01:30, by offset
            "spring-gap,2021-03-14 02:30,25.8,-80.21\n"  # skipped hour: offset before the change
            "spring-after,2021-03-14 03:30,25.8,-80.21\n"  # EDT
        ),
    )
    run_command(
        str(path),
        "--map",
        "id=id,occurred_at=t,lat=lat,lon=lon",
        "--offence",
        "larceny",
        "--tz",
        "America/New_York",
    )
    got = dict(Incident.objects.values_list("source_id", "occurred_at"))
    assert got == {
        "fall-first": datetime(2021, 11, 7, 5, 30, tzinfo=UTC),
        "fall-after": datetime(2021, 11, 7, 7, 30, tzinfo=UTC),
        "fall-offset": datetime(2021, 11, 7, 6, 30, tzinfo=UTC),
        "spring-gap": datetime(2021, 3, 14, 7, 30, tzinfo=UTC),
        "spring-after": datetime(2021, 3, 14, 7, 30, tzinfo=UTC),
    }


@pytest.mark.django_db
def test_tz_reads_local_times_but_a_time_with_an_offset_keeps_it(
    tmp_path: Path, settings: Any
) -> None:
    settings.PRESENCE_ORIGIN = (51.5, -0.12)
    path = write(
        tmp_path,
        "met.csv",
        (
            "id,t,lat,lon\n"
            "summer,2021-07-01 12:00,51.5,-0.12\n"  # BST: 11:00Z
            "winter,2021-01-01 12:00,51.5,-0.12\n"  # GMT: 12:00Z
            "paris,2021-07-01T12:00:00+02:00,51.5,-0.12\n"  # 10:00Z whatever --tz says
            "seconds,2021-07-01T12:00:59,51.5,-0.12\n"
        ),
    )
    out = run_command(
        str(path),
        "--map",
        "id=id,occurred_at=t,lat=lat,lon=lon",
        "--offence",
        "larceny",
        "--tz",
        "Europe/London",
    )
    assert "agency's time zone" not in out
    got = dict(Incident.objects.values_list("source_id", "occurred_at"))
    assert got == {
        "summer": datetime(2021, 7, 1, 11, 0, tzinfo=UTC),
        "winter": datetime(2021, 1, 1, 12, 0, tzinfo=UTC),
        "paris": datetime(2021, 7, 1, 10, 0, tzinfo=UTC),
        "seconds": datetime(2021, 7, 1, 11, 0, 59, tzinfo=UTC),
    }


@pytest.mark.django_db
def test_without_tz_local_times_are_read_in_the_agency_zone_and_the_output_says_so(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "x.csv", "id,t,lat,lon\na,2024-01-15 09:00,25.8,-80.21\n")
    out = run_command(
        str(path),
        "--map",
        "id=id,occurred_at=t,lat=lat,lon=lon",
        "--offence",
        "Theft / larceny (other)",
    )
    assert "Local times are read in America/New_York, the agency's time zone" in out
    assert Incident.objects.get().occurred_at == datetime(2024, 1, 15, 14, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_hash_ids_keep_identical_rows_apart_and_map_the_same_file_to_the_same_ids(
    tmp_path: Path,
) -> None:
    text = "t,lat,lon\n2024-01-01 10:00,25.8,-80.21\n2024-01-01 10:00,25.8,-80.21\n"
    path = write(tmp_path, "same.csv", text)
    run_command(str(path), "--map", "occurred_at=t,lat=lat,lon=lon", "--offence", "larceny")
    ids = sorted(Incident.objects.values_list("source_id", flat=True))
    assert len(ids) == 2 and ids[0].endswith("#1") and ids[1].endswith("#2")
    assert ids[0][:-2] == ids[1][:-2]
    out = run_command(
        str(path), "--map", "id=@hash,occurred_at=t,lat=lat,lon=lon", "--offence", "larceny"
    )
    assert "imported 0 · duplicates 2 · rejected 0" in out
    assert sorted(Incident.objects.values_list("source_id", flat=True)) == ids


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--map", "occurred_at=date,lat=latitude,lon=lng"], "column 'lng' (for lon) is not"),
        (["--map", "occurred_at=date,lat=latitude"], "map a column to lon"),
        (["--map", "when=date,lat=latitude,lon=longitude"], "unknown field 'when'"),
        (["--map", "occurred_at"], "'occurred_at' is not FIELD=COLUMN"),
        (["--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["--offence", "littering"], "unknown offence 'littering'"),
        (["--mapping", "nope"], "no saved mapping is named 'nope'"),
    ],
)
def test_a_bad_mapping_is_a_clear_error_and_writes_nothing(args: list[str], message: str) -> None:
    defaults = {"--map": "occurred_at=date,lat=latitude,lon=longitude", "--offence": "larceny"}
    for flag, value in defaults.items():
        if flag not in args:
            args = [*args, flag, value]
    with pytest.raises(CommandError, match=re.escape(message)):
        run_command(str(CHICAGO), *args)
    assert IncidentImport.objects.count() == 0
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"id,t,lat,lon\n" + b"a,2024-01-01 10:00,25.8,-80.2\n")[:30])
    args = ["--map", "id=id,occurred_at=t,lat=lat,lon=lon", "--offence", "larceny"]
    with pytest.raises(CommandError, match="cannot be read"):
        run_command(str(broken), *args)
    with pytest.raises(CommandError, match="no such file"):
        run_command(str(tmp_path / "missing.csv"), *args)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,t,lat,lon\nCaf\xe9,2024-01-01 10:00,25.8,-80.2\n".encode("latin-1"))
    with pytest.raises(CommandError, match="not UTF-8"):
        run_command(str(latin), *args)
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_async_keeps_a_copy_of_the_file_and_runs_the_task_once_committed(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    path = write(tmp_path, "rms.csv", BAD_FILE)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        out = run_command(str(path), "--map", BAD_MAP, "--async")
    assert len(callbacks) == 1
    imp = IncidentImport.objects.get()
    assert (tmp_path / "media" / "imports" / f"{imp.client_uuid}.csv").read_text() == BAD_FILE
    assert (imp.status, imp.imported, imp.rejected) == ("done", 3, 7)
    assert "Queued as a Celery task" in out


@pytest.mark.django_db
def test_the_import_task_is_idempotent(tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    path = write(tmp_path, "rms.csv", BAD_FILE)
    spec = import_spec_build(
        columns={"id": "id", "occurred_at": "when", "lat": "lat", "lon": "lon", "offence": "type"}
    )
    imp, created = incident_import_create(
        path=path, file_name="rms.csv", spec=spec, client_uuid=uuid.uuid4(), store="copy"
    )
    assert created
    assert import_run_task.delay(imp.pk).get() == "done"
    assert import_run_task.delay(imp.pk).get() == "done"  # a no-op: nothing counted twice
    imp.refresh_from_db()
    assert (imp.imported, imp.duplicates, imp.rejected) == (3, 1, 7)
    assert Incident.objects.count() == 3


def test_local_to_utc_matches_zoneinfo_around_every_change() -> None:
    for zone in ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu"]:
        tz = ZoneInfo(zone)
        # Every 5 minutes through 2021 (both changes), and through a 30-minute DST zone.
        local = np.arange(1_609_459_200, 1_640_995_200, 300, dtype=np.int64)
        expected = [
            int(datetime.fromtimestamp(s, tz=UTC).replace(tzinfo=tz).timestamp())
            for s in local[::7].tolist()
        ]
        assert local_to_utc(local, tz)[::7].tolist() == expected, zone


def test_parse_times_reports_each_bad_value_and_keeps_the_good() -> None:
    parsed = parse_times(
        [
            "2024-05-01 21:30",
            "",
            "now",
            "2024-02-30 10:00",
            "13/01/2024 10:00",
            "01/13/2024 12:05 AM",
            "2024-05-01T21:30:15.9-04:00",
        ],
        ZoneInfo("America/New_York"),
    )
    assert parsed.ok.tolist() == [True, False, False, False, False, True, True]
    assert parsed.missing.tolist() == [False, True, False, False, False, False, False]
    assert parsed.naive.tolist() == [True, False, False, False, False, True, False]
    assert parsed.utc[[0, 5, 6]].tolist() == [
        int(datetime(2024, 5, 2, 1, 30, tzinfo=UTC).timestamp()),
        int(datetime(2024, 1, 13, 5, 5, tzinfo=UTC).timestamp()),
        int(datetime(2024, 5, 2, 1, 30, 15, tzinfo=UTC).timestamp()),
    ]


@pytest.mark.django_db
def test_offence_values_match_codes_names_and_aliases_in_any_case(tmp_path: Path) -> None:
    OffenceType.objects.filter(code="larceny").update(aliases=["larceny", "THEFT OTHER"])
    path = write(
        tmp_path,
        "o.csv",
        (
            "id,t,lat,lon,o\n"
            "1,2024-01-01 10:00,25.8,-80.21,LARCENY\n"
            "2,2024-01-01 10:00,25.8,-80.21,Theft / Larceny (other)\n"
            "3,2024-01-01 10:00,25.8,-80.21,  theft   other \n"
            "4,2024-01-01 10:00,25.8,-80.21,\n"
        ),
    )
    run_command(str(path), "--map", "id=id,occurred_at=t,lat=lat,lon=lon,offence=o")
    assert set(Incident.objects.values_list("offence__code", flat=True)) == {"larceny"}
    assert Incident.objects.count() == 3
    assert IncidentImport.objects.get().rejections == [
        {"line": 5, "field": "offence", "reason": "missing offence", "value": ""}
    ]


@pytest.mark.django_db
def test_line_numbers_count_line_breaks_inside_quoted_fields(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "q.csv",
        (
            "id,t,lat,lon,place\n"
            'a,2024-01-01 10:00,25.8,-80.21,"a place\non two lines"\n'
            "b,not a time,25.8,-80.21,x\n"
            'c,2024-01-01 10:00,25.8,-80.21,"three\n\nlines"\n'
            "d,2024-01-01 10:00,95,-80.21,x\n"
        ),
    )
    run_command(
        str(path),
        "--map",
        "id=id,occurred_at=t,lat=lat,lon=lon,premise=place",
        "--offence",
        "larceny",
    )
    imp = IncidentImport.objects.get()
    assert [(r["line"], r["field"]) for r in imp.rejections] == [(4, "occurred_at"), (8, "lat")]
    assert imp.rejections[1]["reason"] == "latitude 95 is outside -90..90"
    assert Incident.objects.get(source_id="a").premise == "a place\non two lines"


def _table_counted_empty() -> None:
    """Statistics that see the table empty: an index build in an earlier test's rolled-back
    transaction leaves its row count in pg_class (written in place), and a big first import
    only rebuilds when it is at least as big as the table is counted."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE hotspots_incident")


def _incident_indexes() -> set[tuple[str, str]]:
    """The incident table's indexes and constraints: (name, definition)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'hotspots_incident' "
            "UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'hotspots_incident'::regclass"
        )
        return set(cur.fetchall())


@pytest.mark.django_db
def test_a_big_first_import_builds_indexes_and_keys_again_and_a_failed_one_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: None
) -> None:
    from backend.incidents import writing

    monkeypatch.setattr(writing, "DEFER_INDEXES_MIN_ROWS", 100)
    _table_counted_empty()  # "big" for a 300-row file
    before = _incident_indexes()
    assert any("UNIQUE" not in ddl for _, ddl in before)  # there are secondary indexes
    assert sum("FOREIGN KEY" in ddl for _, ddl in before) == 3  # and the keys dropped too
    lines = ["id,t,lat,lon"] + [f"r{i},2024-01-01 10:{i % 60:02d},25.80,-80.21" for i in range(300)]
    poisoned = write(
        tmp_path, "poisoned.csv", "\n".join([*lines, "poison,2024-01-01 11:00,25.8,-80.2"])
    )
    with connection.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.source_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
            "RETURN NEW; END $$"
        )
        cur.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON hotspots_incident FOR EACH ROW "
            "EXECUTE FUNCTION refuse_poison()"
        )
    args = ["--map", "id=id,occurred_at=t,lat=lat,lon=lon", "--offence", "larceny"]
    with pytest.raises(CommandError, match=r"nothing was imported.*poisoned row"):
        run_command(str(poisoned), *args)
    assert Incident.objects.count() == 0
    assert _incident_indexes() == before  # the drop was rolled back with the rest

    with connection.cursor() as cur:
        cur.execute("DROP TRIGGER poison ON hotspots_incident")
    good = write(tmp_path, "good.csv", "\n".join(lines))
    out = run_command(str(good), *args, "--source", "big")
    assert "imported 300 · duplicates 0 · rejected 0" in out
    assert Incident.objects.filter(source="big").count() == 300
    assert _incident_indexes() == before  # every index back, same name, same definition
    again = run_command(str(good), *args, "--source", "big")  # not a first import any more
    assert "imported 0 · duplicates 300 · rejected 0" in again


@pytest.mark.django_db
def test_a_big_first_import_whose_row_breaks_a_foreign_key_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres: None
) -> None:
    """The keys dropped for a big first import are checked when put back: a row naming a
    district deleted between the check and the write fails the whole import."""
    import psycopg

    from backend.accounts.models import District
    from backend.incidents import writing
    from backend.incidents.validation import import_file_read

    monkeypatch.setattr(writing, "DEFER_INDEXES_MIN_ROWS", 100)
    _table_counted_empty()
    district = DistrictFactory(name="Gone", code="gone")  # holds 25.80,-80.21
    before = _incident_indexes()
    lines = ["id,t,lat,lon"] + [f"r{i},2024-01-01 10:{i % 60:02d},25.80,-80.21" for i in range(300)]
    path = write(tmp_path, "big.csv", "\n".join(lines))
    spec = import_spec_build(
        columns={"id": "id", "occurred_at": "t", "lat": "lat", "lon": "lon"}, offence="larceny"
    )
    imp, _ = incident_import_create(path=path, file_name=path.name, spec=spec, source="big")
    parsed = import_file_read(path=path, spec=spec)
    assert set(parsed.district_id.tolist()) == {district.pk}
    District.objects.filter(pk=district.pk).delete()
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="district"):
        writing.import_rows_write(import_id=imp.pk, parsed=parsed)
    assert Incident.objects.count() == 0
    assert _incident_indexes() == before
    assert IncidentImport.objects.get(pk=imp.pk).status != "done"
