"""An analyst uploads an incident file in a real browser and reads what was rejected and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend.incidents.models import Incident
from tests.e2e.conftest import screenshot
from tests.e2e.test_web_shell import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

CSV = """report_no,when,lat,lon,crime
A-1,2026-11-20 21:15,25.7801,-80.2102,robbery
A-2,2026-11-20 22:40,25.7805,-80.2110,aggravated assault
A-3,yesterday evening,25.7810,-80.2100,robbery
A-4,2026-11-21 01:05,41.8800,-87.6300,robbery
A-5,2026-11-21 02:30,25.7790,-80.2090,jaywalking
"""


def test_an_analyst_uploads_a_file_and_sees_each_rejected_line_and_reason(
    live_server: Any, desktop: Any, tmp_path: Path
) -> None:
    UserFactory(username="ana", role="analyst")
    path = tmp_path / "export.csv"
    path.write_text(CSV)
    sign_in(desktop, live_server.url, "ana", "correct-horse-battery")
    desktop.goto(f"{live_server.url}/hotspots/imports/")
    desktop.get_by_label("Incident file (CSV or CSV.gz):").set_input_files(str(path))
    desktop.get_by_label("Id column:").fill("report_no")
    desktop.get_by_label("Time column:").fill("when")
    desktop.get_by_label("Latitude column:").fill("lat")
    desktop.get_by_label("Longitude column:").fill("lon")
    desktop.get_by_label("Offence column:").fill("crime")
    desktop.get_by_role("button", name="Upload and import").click()
    summary = desktop.locator('[data-field="summary"]')
    summary.filter(has_text="5 rows").wait_for()
    assert summary.inner_text() == "5 rows: 2 imported, 0 duplicates, 3 rejected."
    table = desktop.get_by_role("table", name="Rejected rows (line 1 is the header)")
    text = table.inner_text()
    assert "4" in text and "5" in text and "6" in text  # file lines of
    assert "yesterday evening" in text and "jaywalking" in text
    screenshot(desktop, "import-detail")
    assert sorted(Incident.objects.values_list("source_id", flat=True)) == ["A-1", "A-2"]
