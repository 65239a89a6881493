"""The analysts' page input (backend/hotspots/forms.py): a new analysis; the harm index page's
input is tested with its app (tests/incidents/test_harm_page.py).

Refused input names the field and writes nothing; valid input behaves as it always has.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from backend.hotspots.models import AnalysisRun
from backend.incidents.selectors import harm_version_current
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def analyst() -> Client:
    client = Client()
    client.force_login(UserFactory(role="analyst"))
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"as_of": "yesterday"}, "As of: Enter a valid date."),
        ({}, "As of: This field is required."),
        ({"as_of": "2026-03-01", "top_k": "ten"}, "Top cells per district: Enter a whole number."),
        ({"as_of": "2026-03-01", "cell_size_m": "wide"}, "Cell size (metres): Enter a number."),
        ({"as_of": "2026-03-01", "district": "north"}, "District: Enter a whole number."),
    ],
)
def test_a_malformed_analysis_is_refused_naming_the_field_and_nothing_is_stored(
    body: dict[str, str], message: str
) -> None:
    response = analyst().post(reverse("hotspots:analysis-new"), body)
    assert response.status_code == 302 and response["Location"] == reverse("hotspots:index")
    assert message in messages_of(response)
    assert AnalysisRun.objects.count() == 0


def test_an_out_of_range_analysis_gets_the_services_words() -> None:
    response = analyst().post(
        reverse("hotspots:analysis-new"), {"as_of": "2026-03-01", "cell_size_m": "5"}
    )
    assert "Cell size m: must be between 10 and 2000 metres" in messages_of(response)
    assert AnalysisRun.objects.count() == 0


def test_an_analysis_with_empty_numbers_takes_the_usual_defaults(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst().post(
            reverse("hotspots:analysis-new"),
            {
                "as_of": "2026-03-01",
                "lookback_days": "",
                "cell_size_m": "",
                "top_k": "",
                "window": "",
                "district": "",
                "publish": "1",
            },
        )
    run = AnalysisRun.objects.get()
    assert response["Location"] == reverse("hotspots:run", args=[run.pk])
    # The page's documented defaults: a year's look-back, 150 m cells, the top 20 per district.
    assert (run.lookback_days, run.cell_size_m, run.top_k, run.window) == (365, 150, 20, "")
    assert run.district_id is None and run.publish_requested is True
    assert len(callbacks) == 1  # the computation is queued once the run is committed


def test_a_sergeant_cannot_post_the_harm_index() -> None:
    sergeant = Client()
    sergeant.force_login(UserFactory(role="sergeant"))
    response = sergeant.post(reverse("incidents:harm"), {"w-larceny": "1"})
    assert response.status_code == 403


@pytest.mark.parametrize("min_z", ["high", "1,5"])
def test_the_cells_api_refuses_a_threshold_that_is_not_a_number(min_z: str) -> None:
    run = AnalysisRun.objects.create(
        as_of="2026-03-01",
        lookback_days=60,
        cell_size_m=150,
        top_k=3,
        weights_version=harm_version_current(),
    )
    url = reverse("api-analysis-cells-geojson", args=[run.pk])
    response = analyst().get(url, {"min_z": min_z})
    assert response.status_code == 400
    assert response.json() == {"min_z": ["must be a number"]}
    assert analyst().get(url, {"min_z": ""}).status_code == 200  # empty: no threshold
