"""Bad request bodies get a JSON 4xx with the reason, never a 500; a batch keeps its valid items.

Each case is one of the reproductions in the security review (issue 11): before these bounds
they answered 500 (or an HTML 400 page that a phone cannot read, and retries forever).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.patrols.models import Ping
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def officer_client() -> Client:
    token = Token.objects.create(user=UserFactory(role="officer"))
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token.key}")


def post_raw(client: Client, path: str, body: str | bytes) -> Any:
    return client.post(path, body, content_type="application/json")


def start_session(client: Client) -> int:
    started = (timezone.now() - timedelta(minutes=10)).isoformat()
    body = {"client_uuid": str(uuid.uuid4()), "started_at": started}
    response = client.post("/api/v1/patrols/sessions", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return int(response.json()["id"])


def ping_json(lat: str = "25.8") -> str:
    when = (timezone.now() - timedelta(minutes=1)).isoformat()
    return (
        f'{{"client_uuid": "{uuid.uuid4()}", "recorded_at": "{when}", "lat": {lat}, '
        f'"lon": -80.21, "accuracy_m": 8}}'
    )


def test_json_nested_100000_deep_is_a_400_naming_the_depth_even_without_login() -> None:
    response = post_raw(
        Client(raise_request_exception=False), "/api/v1/auth/token", "[" * 100_000 + "]" * 100_000
    )
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]
    # Under the interpreter's recursion limit but over the bound: refused the same way.
    response = post_raw(Client(), "/api/v1/auth/token", '{"username": ' + "[" * 40 + "]" * 40 + "}")
    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_a_session_of_infinity_or_a_float_is_a_400_naming_the_field() -> None:
    client = officer_client()
    for session in ["Infinity", "1e400", "3.5", "true", "99999999999999999999999"]:
        response = post_raw(client, "/api/v1/pings/batch", f'{{"session": {session}, "pings": []}}')
        assert response.status_code == 400, (session, response.content)
        assert "session" in response.json(), session


def test_a_400_digit_latitude_rejects_its_item_and_keeps_the_valid_one() -> None:
    client = officer_client()
    start_session(client)
    body = f"[{ping_json('1' * 400)}, {ping_json()}, {ping_json('NaN')}]"
    response = post_raw(client, "/api/v1/pings/batch", body)
    assert response.status_code == 200, response.content
    items = response.json()["items"]
    assert [i["status"] for i in items] == ["rejected", "accepted", "rejected"]
    assert items[0]["reason"] == "lat must be a finite number"
    assert Ping.objects.count() == 1


def test_non_finite_numbers_outside_the_ping_batch_are_a_400() -> None:
    client = officer_client()
    body = f'{{"lat": NaN, "lon": 0, "client_uuid": "{uuid.uuid4()}"}}'
    response = post_raw(client, "/api/v1/missions/draw", body)
    assert response.status_code == 400
    assert "NaN is not a JSON number" in response.json()["detail"]


@pytest.mark.parametrize("lat", [89.5, 90, -90])
def test_positions_nearer_a_pole_than_the_projection_allows_are_a_400_naming_lat(
    lat: float,
) -> None:
    client = officer_client()
    nearby = client.get("/api/v1/hotspots/nearby", {"lat": lat, "lon": 0})
    assert nearby.status_code == 400 and "lat" in nearby.json()
    draw = client.post(
        "/api/v1/missions/draw",
        {"lat": lat, "lon": 0, "client_uuid": str(uuid.uuid4())},
        content_type="application/json",
    )
    assert draw.status_code == 400 and "lat" in draw.json()


@pytest.mark.parametrize("megabytes", [3, 60])
def test_bodies_over_the_size_limit_get_a_json_413(megabytes: int, settings: Any) -> None:
    client = officer_client()
    body = b"[" + b"0," * (megabytes * 2**19) + b"0]"
    response = post_raw(client, "/api/v1/pings/batch", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert response.json() == {
        "detail": f"request body larger than {limit} bytes: send smaller batches"
    }
