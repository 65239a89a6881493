"""The workload commands as other tools call them: workload_import_matrix and workload_report."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from backend.audit.models import AuditEvent
from backend.workload.models import WorkloadImport, WorkloadMatrix
from tests.conftest import TEST_DATA
from tests.factories import DistrictFactory

pytestmark = pytest.mark.django_db

STUDY = TEST_DATA / "staffing_2006"
HEADER = ["hour", "weekday", "cfs_hours", "available_hours", "pct_consumed", "spare_hours", "flag"]


def report(tmp_path: Path, district: str) -> list[list[str]]:
    out = tmp_path / "report.csv"
    call_command("workload_report", "--district", district, "--csv", str(out))
    with out.open(newline="") as f:
        return list(csv.reader(f))


def test_the_study_matrices_imported_citywide_give_the_study_figures_in_168_rows(
    tmp_path: Path,
) -> None:
    call_command(
        "workload_import_matrix",
        "--kind",
        "cfs",
        "--district",
        "citywide",
        str(STUDY / "cfs_city.csv"),
    )
    call_command(
        "workload_import_matrix",
        "--kind",
        "available",
        "--district",
        "citywide",
        str(STUDY / "avail_city.csv"),
    )
    rows = report(tmp_path, "citywide")
    assert rows[0] == HEADER
    assert len(rows) == 1 + 168
    cells = {(r[1], int(r[0])): r for r in rows[1:]}
    assert len(cells) == 168
    monday_9, sunday_23 = cells[("MON", 9)], cells[("SUN", 23)]
    assert abs(float(monday_9[4]) - 78.8) <= 0.2  # the study's printed figure
    assert abs(float(sunday_23[4]) - 52.8) <= 0.2
    assert (monday_9[2], monday_9[3], monday_9[5]) == ("15.60", "19.80", "4.20")
    # Sunday 01:00 is 23.7 / 21.3 = 111.3%: over 100, at or above 80, and part of a run above
    # 70% of 6 hours (Sunday 01:00 to 06:59: 111.3, 95.9, 102.7, 96.8, 90.0, 79.9%).
    assert set(cells[("SUN", 1)][6].split(";")) >= {"over_100", "high", "long_run"}
    assert cells[("THU", 7)][6].split(";")[0] == "low"  # 6.2 / 26.4 = 23.5%
    with (STUDY / "cfs_city.csv").open(newline="") as f:
        total = sum(float(x) for r in list(csv.reader(f))[1:] for x in r[1:])
    assert sum(float(r[2]) for r in rows[1:]) == pytest.approx(total, abs=0.01)


def test_a_bad_cell_is_reported_by_line_and_reason_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    district = DistrictFactory(name="North", code="north")
    good = tmp_path / "cfs_good.csv"
    shutil.copyfile(STUDY / "cfs_city.csv", good)
    call_command("workload_import_matrix", "--kind", "cfs", "--district", "North", str(good))
    before = list(WorkloadMatrix.objects.values_list("pk", "values", "source_import"))
    imports, audits = WorkloadImport.objects.count(), AuditEvent.objects.count()

    lines = (STUDY / "cfs_city.csv").read_text().splitlines()
    # Line 5 of the file is hour 0300; its Wednesday cell (8.3) becomes "8.3x".
    assert lines[4].startswith("0300,")
    cells = lines[4].split(",")
    cells[3] = "8.3x"
    lines[4] = ",".join(cells)
    bad = tmp_path / "cfs_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="1 problem; nothing was imported"):
        call_command("workload_import_matrix", "--kind", "cfs", "--district", "north", str(bad))
    # (the reason itself: the next test reads it from stderr)
    assert list(WorkloadMatrix.objects.values_list("pk", "values", "source_import")) == before
    assert WorkloadImport.objects.count() == imports
    assert AuditEvent.objects.count() == audits
    assert WorkloadMatrix.objects.get(district=district).values[3][2] == 8.3


def test_the_bad_cells_reasons_name_the_line_and_the_weekday(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (STUDY / "avail_city.csv").read_text().splitlines()
    lines[1] = lines[1].replace("29.2", "-1", 1)  # line 2, MON: negative
    lines[10] = lines[10].replace(",", ",,", 1)  # line 11: one field too many
    del lines[24]  # the 2300 row is gone
    bad = tmp_path / "avail_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match="3 problems"):
        call_command(
            "workload_import_matrix", "--kind", "available", "--district", "citywide", str(bad)
        )
    err = capsys.readouterr().err
    assert "line 2, MON: -1 is not a number of hours >= 0" in err
    assert "line 11: expected 8 fields, found 9" in err
    assert "no row for hour 2300" in err
    assert not WorkloadMatrix.objects.exists() and not WorkloadImport.objects.exists()


def test_an_unknown_district_is_refused_with_the_known_names() -> None:
    DistrictFactory(name="South", code="south")
    with pytest.raises(CommandError, match=r"no district is named 'Nowhere'.*South"):
        call_command(
            "workload_import_matrix",
            "--kind",
            "cfs",
            "--district",
            "Nowhere",
            str(STUDY / "cfs_city.csv"),
        )


def test_a_report_with_no_figures_still_writes_168_rows_flagged_no_data(tmp_path: Path) -> None:
    DistrictFactory(name="Middle", code="middle")
    rows = report(tmp_path, "Middle")
    assert rows[0] == HEADER and len(rows) == 169
    assert {r[6] for r in rows[1:]} == {"no_data"}
    assert [(r[1], r[0]) for r in rows[1:3]] == [("MON", "0"), ("MON", "1")]


def test_a_custom_target_moves_the_flags(tmp_path: Path) -> None:
    for kind, name in (("cfs", "cfs_city.csv"), ("available", "avail_city.csv")):
        call_command(
            "workload_import_matrix", "--kind", kind, "--district", "citywide", str(STUDY / name)
        )
    custom = {"high_pct": 110.0, "low_pct": 25.0}
    with override_settings(
        PRESENCE_WORKLOAD_TARGET="custom", PRESENCE_WORKLOAD_TARGET_VALUES=custom
    ):
        rows = report(tmp_path, "citywide")
    flagged = {(r[1], r[0]) for r in rows[1:] if "high" in r[6].split(";")}
    low = {(r[1], r[0]) for r in rows[1:] if "low" in r[6].split(";")}
    # From the over-100% cells worked by hand in tests/analytics/test_workload.py, those at or
    # above 110%: SUN 01 (111.3), SUN 14 (111.4), SAT 22 (111.7). At or below 25%: THU 07 (23.5).
    assert flagged == {("SUN", "1"), ("SUN", "14"), ("SAT", "22")}
    assert low == {("THU", "7")}
