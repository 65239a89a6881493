"""The workload pages as analysts and supervisors use them: heatmaps with their numbers, empty
states, CSV exports, and uploads that report bad rows and store a retry once."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from backend.accounts.models import Role
from backend.workload.imports import matrix_import
from backend.workload.models import WorkloadImport, WorkloadMatrix
from tests.conftest import TEST_DATA
from tests.factories import DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db

STUDY = TEST_DATA / "staffing_2006"
RANGE = {"district": "citywide", "from": "2026-02-02", "to": "2026-02-15"}


def signed_in(client: Client, role: str) -> Client:
    client.force_login(UserFactory(role=role))
    return client


def study_citywide() -> None:
    for kind, name in (("cfs", "cfs_city.csv"), ("available", "avail_city.csv")):
        matrix_import(kind=kind, district=None, data=(STUDY / name).read_bytes(), file_name=name)


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SERGEANT])
def test_officers_and_sergeants_cannot_open_the_workload_pages(client: Client, role: str) -> None:
    signed_in(client, role)
    assert client.get(reverse("workload:index")).status_code == 403
    assert client.get(reverse("workload:imports")).status_code == 403


def test_with_no_figures_the_page_says_what_to_import(client: Client) -> None:
    signed_in(client, Role.ANALYST)
    page = client.get(reverse("workload:index"), RANGE)
    assert page.status_code == 200
    text = page.content.decode()
    assert "No workload figures yet" in text
    assert reverse("workload:imports") in text
    assert 'id="heatmap-pct"' not in text


def test_the_heatmaps_show_every_number_with_its_status_and_the_runs(client: Client) -> None:
    study_citywide()
    signed_in(client, Role.SUPERVISOR)
    text = client.get(reverse("workload:index"), RANGE).content.decode()
    for key in ("cfs", "available", "pct", "spare"):
        assert f'id="heatmap-{key}"' in text
    # Monday 09:00: 15.6 / 19.8 = 78.8%; the cell shows the number, its title the status.
    cell = re.search(
        r'<td class="num wl-(\w+)" title="Monday 09:00 — 78.8% consumed[^"]*"[^>]*>'
        r"78.8%",
        text,
    )
    assert cell is not None
    # Sunday 01:00 is 111% (over 100, marked !) and in the Sunday 01:00-07:00 run (marked ▲).
    sunday_1 = re.search(r'title="Sunday 01:00 — 111.3% consumed[^"]*"[^>]*>111.3%(.*?)</td>', text)
    assert sunday_1 is not None and "▲" in sunday_1.group(1) and "!" in sunday_1.group(1)
    assert "Sunday 01:00 to Sunday 07:00 (6 h)" in text
    assert "50 hour blocks at or above 80% and 3 at or below 30% are out of target" in text
    assert "9 are over 100%" in text
    assert "a typical week" in text  # the dates do not apply to imported matrices
    assert reverse("workload:imports") not in text  # supervisors read; analysts import


def test_every_matrix_exports_as_csv_in_the_study_layout(client: Client) -> None:
    study_citywide()
    signed_in(client, Role.ANALYST)
    body = client.get(reverse("workload:export", args=["pct"]), RANGE).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["hour", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"] and len(rows) == 25
    assert rows[10][:2] == ["0900", "78.8"]
    spare = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("workload:export", args=["spare"]), RANGE).content.decode()
            )
        )
    )
    assert spare[10][1] == "4.20"  # 19.8 - 15.6
    report = client.get(reverse("workload:export", args=["report"]), RANGE).content.decode()
    assert len(report.strip().splitlines()) == 169
    assert client.get(reverse("workload:export", args=["nope"]), RANGE).status_code == 404
    assert client.get(reverse("workload:export", args=["pct"])).status_code == 400


def test_an_upload_with_a_bad_cell_lists_its_line_and_writes_nothing(client: Client) -> None:
    signed_in(client, Role.ANALYST)
    text = (STUDY / "cfs_city.csv").read_text().replace("15.6", "n/a", 1)
    page = client.post(
        reverse("workload:imports"),
        {
            "client_uuid": str(uuid.uuid4()),
            "kind": "matrix_cfs",
            "district": "citywide",
            "file": SimpleUploadedFile("cfs.csv", text.encode(), "text/csv"),
        },
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "was not imported: 1 problem" in html
    assert re.search(
        r'<td class="num">11</td><td>MON</td><td>&#x27;n/a&#x27; is not a number', html
    )
    assert not WorkloadImport.objects.exists() and not WorkloadMatrix.objects.exists()


def test_a_retried_upload_is_stored_once(client: Client) -> None:
    district = DistrictFactory(name="North", code="north")
    signed_in(client, Role.ANALYST)
    key = str(uuid.uuid4())
    data = (STUDY / "avail_city.csv").read_bytes()
    for _ in range(2):
        page = client.post(
            reverse("workload:imports"),
            {
                "client_uuid": key,
                "kind": "matrix_available",
                "district": "north",
                "file": SimpleUploadedFile("avail.csv", data, "text/csv"),
            },
            follow=True,
        )
        assert page.status_code == 200
    assert "was already imported" in page.content.decode()
    assert WorkloadImport.objects.count() == 1
    assert WorkloadMatrix.objects.get(kind="available", district=district).values[0][0] == 29.2
