"""Rate limits answer 429 with Retry-After, per user (or per address for sign-in), and every
file download is limited as an export."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from backend.config.throttling import scope_for
from tests.factories import DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db


def token_client(user: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")


def test_the_eleventh_sign_in_attempt_in_a_minute_from_one_address_gets_429() -> None:
    UserFactory(username="ana")
    answers = [
        Client(REMOTE_ADDR="198.51.100.7").post(
            reverse("api-token"), {"username": "nobody", "password": "x"}
        )
        for _ in range(11)
    ]
    assert [a.status_code for a in answers] == [400] * 10 + [429]
    # All eleven came within seconds: the oldest leaves the one-minute window in 50-60 s.
    assert 50 <= int(answers[-1]["Retry-After"]) <= 60
    assert "throttled" in answers[-1].json()["detail"].lower()
    # Another address is not slowed by this one.
    other = Client(REMOTE_ADDR="203.0.113.9").post(
        reverse("api-token"), {"username": "ana", "password": "correct-horse-battery"}
    )
    assert other.status_code == 200


def test_draws_are_limited_per_officer() -> None:
    first, second = (
        token_client(UserFactory(role="officer")),
        token_client(UserFactory(role="officer")),
    )

    def draw(client: Client) -> int:
        body = {"lat": 25.8, "lon": -80.21, "client_uuid": str(uuid.uuid4())}
        return client.post(
            reverse("api-mission-draw"), body, content_type="application/json"
        ).status_code

    codes = [draw(first) for _ in range(21)]
    assert codes[-1] == 429 and 429 not in codes[:20]
    assert draw(second) != 429


def test_exports_are_limited_per_user() -> None:
    DistrictFactory()
    analyst = token_client(UserFactory(role="analyst"))
    url = reverse("api-boundaries-file", args=["districts", "csv"])
    codes = [analyst.get(url).status_code for _ in range(31)]
    assert codes == [200] * 30 + [429]


def test_every_api_route_that_serves_a_file_is_limited_as_an_export() -> None:
    file_routes = []

    def walk(resolver: URLResolver, prefix: str) -> None:
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                walk(p, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                path = prefix + str(p.pattern)
                if path.startswith("api/v1/") and re.search(r"csv|geojson|gpkg", path):
                    file_routes.append(p.name)

    walk(get_resolver(), "")
    assert len(file_routes) >= 6
    assert {name: scope_for(name) for name in file_routes} == dict.fromkeys(file_routes, "export")
