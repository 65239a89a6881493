"""The harm index page: analysts save a new version through its form; bad weights save none."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from backend.accounts.models import Role
from backend.incidents.models import HarmWeight, HarmWeightVersion
from tests.factories import UserFactory


def client_as(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.mark.django_db
def test_an_analyst_saves_a_new_version_changing_only_the_weights_given() -> None:
    before = HarmWeightVersion.objects.order_by("-number").first()
    assert before is not None
    old = dict(HarmWeight.objects.filter(version=before).values_list("offence__code", "days"))
    response = client_as(Role.ANALYST).post(
        reverse("incidents:harm"),
        {"w-robbery-personal": "400", "w-burglary-residential": "", "note": "review"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("incidents:harm")
    after = HarmWeightVersion.objects.order_by("-number").first()
    assert after is not None and after.number == before.number + 1 and after.note == "review"
    new = dict(HarmWeight.objects.filter(version=after).values_list("offence__code", "days"))
    # Only personal robbery changes; a blank field (residential burglary) keeps its weight.
    assert new == {**old, "robbery-personal": 400.0}


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["-1", "many"])
def test_a_negative_or_non_numeric_weight_saves_no_version_and_says_which(value: str) -> None:
    count = HarmWeightVersion.objects.count()
    client = client_as(Role.ANALYST)
    response = client.post(reverse("incidents:harm"), {"w-robbery-personal": value}, follow=True)
    assert HarmWeightVersion.objects.count() == count
    page = response.content.decode()
    assert "Robbery of personal property:" in page


@pytest.mark.django_db
def test_a_sergeant_reads_the_index_but_cannot_save_a_version() -> None:
    client = client_as(Role.SERGEANT)
    assert client.get(reverse("incidents:harm")).status_code == 200
    count = HarmWeightVersion.objects.count()
    assert client.post(reverse("incidents:harm"), {"w-robbery-personal": "1"}).status_code == 403
    assert HarmWeightVersion.objects.count() == count
