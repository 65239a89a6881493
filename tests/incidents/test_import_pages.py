"""Incident import pages and API: upload, progress, rejected rows, offence mapping, roles."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from backend.accounts.models import Role
from backend.incidents.models import ColumnMapping, Incident, IncidentImport, OffenceType
from tests.factories import UserFactory
from tests.incidents.test_imports import BAD_FILE


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def analyst_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.ANALYST))
    return client


def upload_form(client: Client, **fields: Any) -> dict[str, Any]:
    """The form's fields as rendered (the hidden client UUID included), then ``fields``."""
    page = client.get(reverse("incidents:imports")).content.decode()
    client_uuid = re.search(r'name="client_uuid" value="([0-9a-f-]+)"', page)
    assert client_uuid is not None
    return {
        "client_uuid": client_uuid.group(1),
        "file": SimpleUploadedFile("rms.csv", BAD_FILE.encode(), content_type="text/csv"),
        "col_id": "id",
        "col_occurred_at": "when",
        "col_lat": "lat",
        "col_lon": "lon",
        "col_offence": "type",
        "col_premise": "place",
        "tz": "America/New_York",
        **fields,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["offence", "mapping"])
def test_upload_shows_counts_and_rejections_and_mapping_an_offence_imports_those_rows(
    media: Path, django_capture_on_commit_callbacks: Any, target: str
) -> None:
    client = analyst_client()
    save_as = "city-rms" if target == "mapping" else ""
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("incidents:imports"), upload_form(client, save_as=save_as))
    assert len(callbacks) == 1  # the task is queued once the import row is committed
    imp = IncidentImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("incidents:import-detail", args=[imp.pk])
    assert (imp.status, imp.imported, imp.duplicates, imp.rejected) == ("done", 3, 1, 7)
    assert (media / "imports" / f"{imp.client_uuid}.csv").exists()

    page = client.get(response["Location"]).content.decode()
    assert "11 rows: 3 imported, 1 duplicates, 7 rejected." in page
    assert "unknown offence &#x27;jaywalking&#x27;" in page
    assert "latitude and longitude look swapped" in page
    assert "<progress" not in page  # finished: no progress bar, no polling script
    assert 'name="offence-0"' in page  # the unknown-offences form

    status = client.get(reverse("incidents:import-status", args=[imp.pk])).json()
    assert (status["status"], status["rows_done"], status["rows_total"]) == ("done", 11, 11)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("incidents:import-rejections-csv", args=[imp.pk])
                ).content.decode()
            )
        )
    )
    assert rows[0] == ["line", "field", "reason", "value"]
    assert [r[0] for r in rows[1:]] == ["3", "4", "5", "6", "7", "8", "10"]
    assert rows[5] == ["7", "offence", "unknown offence 'jaywalking'", "jaywalking"]

    with django_capture_on_commit_callbacks(execute=True):
        mapped = client.post(
            reverse("incidents:import-map-offence", args=[imp.pk]),
            {"offence-0": "disorderly-conduct", "target": target},
        )
    again = IncidentImport.objects.order_by("-pk").first()
    assert again is not None and again.pk != imp.pk
    assert mapped["Location"] == reverse("incidents:import-detail", args=[again.pk])
    assert (again.imported, again.duplicates, again.rejected) == (1, 4, 6)
    aliases = OffenceType.objects.get(code="disorderly-conduct").aliases
    if target == "offence":
        assert "jaywalking" in aliases
    else:
        assert "jaywalking" not in aliases
        saved = ColumnMapping.objects.get(name="city-rms")
        assert saved.offence_aliases == {"jaywalking": "disorderly-conduct"}
        assert saved.columns["offence"] == "type"
    assert Incident.objects.get(source_id="A6").offence.code == "disorderly-conduct"
    assert Incident.objects.count() == 4
    assert "Saved 1 offence mapping" in client.get(mapped["Location"]).content.decode()


@pytest.mark.django_db
def test_a_double_submitted_upload_form_makes_one_import(
    media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = analyst_client()
    form = upload_form(client)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(reverse("incidents:imports"), form)
    form["file"] = SimpleUploadedFile("rms.csv", BAD_FILE.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = client.post(reverse("incidents:imports"), form)
    assert callbacks == []
    assert first["Location"] == second["Location"]
    assert IncidentImport.objects.count() == 1
    assert list((media / "imports").iterdir()) == [
        media / "imports" / f"{IncidentImport.objects.get().client_uuid}.csv"
    ]  # the second copy of the file was not kept


@pytest.mark.django_db
def test_an_upload_naming_a_missing_column_says_which_and_imports_nothing(media: Path) -> None:
    client = analyst_client()
    response = client.post(reverse("incidents:imports"), upload_form(client, col_lat="latitude"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "column &#x27;latitude&#x27; (for lat) is not in the file" in page
    assert 'role="alert"' in page
    assert IncidentImport.objects.count() == 0
    assert not any((media / "imports").iterdir())  # the upload was not left behind


@pytest.mark.django_db
def test_an_import_in_progress_polls_its_status(media: Path) -> None:
    client = analyst_client()
    imp = IncidentImport.objects.create(
        source="rms",
        file_name="rms.csv",
        file_sha256="0" * 64,
        status="running",
        rows_total=200,
        rows_done=50,
    )
    page = client.get(reverse("incidents:import-detail", args=[imp.pk])).content.decode()
    assert '<progress id="import-bar" max="200" value="50">50 of 200</progress>' in page
    assert 'data-status-url="' + reverse("incidents:import-status", args=[imp.pk]) in page
    assert "js/import-progress.js" in page
    assert "<script>" not in page  # CSP: no inline script


@pytest.mark.django_db
def test_api_upload_is_accepted_once_per_client_uuid(
    media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = analyst_client()
    client_uuid = str(uuid.uuid4())

    def post() -> Any:
        return client.post(
            reverse("api-imports"),
            {
                "file": SimpleUploadedFile("rms.csv", BAD_FILE.encode(), content_type="text/csv"),
                "client_uuid": client_uuid,
                "columns": '{"id": "id", "occurred_at": "when", "lat": "lat", "lon": "lon"}',
                "column_offence": "type",
                "tz": "America/New_York",
                "source": "city-rms",
            },
        )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        first = post()
    assert first.status_code == 202, first.content
    assert len(callbacks) == 1
    body = first.json()
    assert body["status_url"].endswith(reverse("api-import", args=[body["id"]]))
    assert first["Location"] == body["status_url"]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        retry = post()
    assert retry.status_code == 200
    assert callbacks == []
    assert retry.json()["id"] == body["id"]
    assert IncidentImport.objects.count() == 1
    assert Incident.objects.filter(source="city-rms").count() == 3

    status = client.get(reverse("api-import", args=[body["id"]])).json()
    assert (status["status"], status["imported"], status["duplicates"], status["rejected"]) == (
        "done",
        3,
        1,
        7,
    )
    assert status["rejections"][0] == {
        "line": 3,
        "field": "occurred_at",
        "value": "yesterday evening",
        "reason": status["rejections"][0]["reason"],
    }
    assert status["unknown_offences"] == {"jaywalking": 1}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"columns": '{"occurred_at": "when", "lat": "lat"}'}, "map", "map a column to lon"),
        ({"columns": "[1, 2]"}, "columns", "must be a JSON object"),
        (
            {"columns": '{"occurred_at": "when", "lat": "lat", "lon": "lon"}', "tz": "Nowhere"},
            "tz",
            "unknown time zone",
        ),
        ({"client_uuid": "not-a-uuid"}, "client_uuid", "valid UUID"),
    ],
)
def test_api_validation_errors_name_the_field(
    media: Path, fields: dict[str, str], key: str, message: str
) -> None:
    client = analyst_client()
    data = {
        "file": SimpleUploadedFile("rms.csv", BAD_FILE.encode(), content_type="text/csv"),
        "client_uuid": str(uuid.uuid4()),
        "offence": "larceny",
        **fields,
    }
    response = client.post(reverse("api-imports"), data)
    assert response.status_code == 400
    assert message in " ".join(response.json()[key])
    assert IncidentImport.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OFFICER, Role.SERGEANT, Role.SUPERVISOR])
def test_only_analysts_and_admins_use_imports(media: Path, role: str) -> None:
    imp = IncidentImport.objects.create(source="rms", file_name="rms.csv", file_sha256="0" * 64)
    client = Client()
    client.force_login(UserFactory(role=role))
    for name, args in [
        ("incidents:imports", []),
        ("incidents:import-detail", [imp.pk]),
        ("incidents:import-status", [imp.pk]),
        ("incidents:import-rejections-csv", [imp.pk]),
        ("api-import", [imp.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 403, name
    upload = client.post(reverse("api-imports"), {"client_uuid": str(uuid.uuid4())})
    assert upload.status_code == 403
    assert client.post(reverse("incidents:import-map-offence", args=[imp.pk])).status_code == 403

    admin = Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    assert admin.get(reverse("incidents:import-detail", args=[imp.pk])).status_code == 200
    assert admin.get(reverse("api-import", args=[imp.pk])).status_code == 200


@pytest.mark.django_db
def test_the_landing_page_links_analysts_to_imports() -> None:
    client = analyst_client()
    html = client.get(reverse("home")).content.decode()
    card = html.split('data-area="imports"')[1].split("</li>")[0]
    assert f'href="{reverse("incidents:imports")}"' in card
    assert "Not built yet" not in card


@pytest.mark.django_db
def test_the_rejections_csv_cannot_run_as_a_spreadsheet_formula(
    media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client = analyst_client()
    text = 'id,when,lat,lon,type\nx1,2024-01-01 10:00,25.8,-80.21,=HYPERLINK("http://x")\n'
    form = upload_form(client, col_premise="")
    form["file"] = SimpleUploadedFile("evil.csv", text.encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("incidents:imports"), form)
    imp = IncidentImport.objects.get()
    body = client.get(reverse("incidents:import-rejections-csv", args=[imp.pk])).content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][3] == '\'=HYPERLINK("http://x")'
