"""smoke_production: the walk stays inside the hot spot; --prepare makes only what is missing;
the whole smoke passes against a live server and stops with a clear message when it cannot.

The real thing (gunicorn, a Celery worker and beat, production settings) runs in
``.ci/production-smoke.sh``; here the server is pytest-django's live server with Celery eager,
which exercises every HTTP step and the command's reporting."""

from __future__ import annotations

from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from geopy.distance import geodesic
from shapely.geometry import Point, box, mapping, shape

from backend.accounts.models import Role, User
from backend.analytics.projection import LocalProjection
from backend.hotspots.models import Hotspot
from backend.reports.smoke import SmokeFailure, walk_inside
from backend.reports.smoke_fixture import smoke_fixture_ensure
from tests.factories import UserFactory
from tests.patrols.test_rollup import make_hotspot

PASSWORD = "smoke-test-password-42"
PROJ = LocalProjection(25.80, -80.21)


def square(half_m: float, width_m: float | None = None) -> dict[str, Any]:
    w = half_m if width_m is None else width_m / 2
    return dict(mapping(PROJ.geometry_to_lonlat(box(-half_m, -w, half_m, w))))


def test_the_walk_circles_inside_the_hot_spot_at_walking_pace() -> None:
    walk = walk_inside(square(75.0), points=79)
    polygon = shape(square(75.0))
    assert len(walk) == 79
    assert all(polygon.contains(Point(lon, lat)) for lat, lon in walk)
    # A 20 m circle walked 12 m (1.2 m/s x 10 s) of arc per fix: chords of 2 x 20 x sin(0.3)
    # = 11.82 m between fixes, measured here on the ellipsoid (geopy), not with the code's maths.
    steps = [geodesic(a, b).meters for a, b in pairwise(walk)]
    assert min(steps) == pytest.approx(11.82, rel=0.02)
    assert max(steps) == pytest.approx(11.82, rel=0.02)


def test_a_thin_hot_spot_gets_a_smaller_circle_and_a_line_gets_none() -> None:
    strip = square(75.0, width_m=3.0)  # 150 m x 3 m: the 20, 10, 5 and 2.5 m circles stick out
    walk = walk_inside(strip, points=79)
    assert all(shape(strip).contains(Point(lon, lat)) for lat, lon in walk)
    with pytest.raises(SmokeFailure, match="too thin"):
        walk_inside(square(75.0, width_m=1.0), points=79)


@pytest.mark.django_db
def test_prepare_makes_an_officer_and_a_hot_spot_only_when_none_is_published() -> None:
    fixture = smoke_fixture_ensure(username="smoke-officer", password=PASSWORD)
    assert fixture.officer_created and fixture.officer.role == Role.OFFICER
    assert fixture.officer.check_password(PASSWORD)
    assert fixture.hotspot is not None and fixture.hotspot.hand_drawn
    assert fixture.active_hotspots == 1
    # Run again: the officer is reset, nothing else is added.
    again = smoke_fixture_ensure(username="smoke-officer", password=PASSWORD + "x")
    assert not again.officer_created and again.hotspot is None
    assert Hotspot.objects.count() == 1
    assert User.objects.get(username="smoke-officer").check_password(PASSWORD + "x")


@pytest.mark.django_db
def test_prepare_leaves_published_hot_spots_alone_and_refuses_a_sergeant() -> None:
    make_hotspot()
    fixture = smoke_fixture_ensure(username="smoke-officer", password=PASSWORD)
    assert fixture.hotspot is None and Hotspot.objects.count() == 1
    UserFactory(username="sarge", role=Role.SERGEANT)
    with pytest.raises(ValueError, match="not an officer"):
        smoke_fixture_ensure(username="sarge", password=PASSWORD)
    with pytest.raises(CommandError, match="too short"):
        call_command("smoke_production", "--prepare", username="smoke-2", password="short")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_smoke_passes_against_a_live_server_and_names_each_step(live_server: Any) -> None:
    call_command("smoke_production", "--prepare", username="smoke-officer", password=PASSWORD)
    out = StringIO()
    call_command(
        "smoke_production",
        base_url=live_server.url,
        username="smoke-officer",
        password=PASSWORD,
        stdout=out,
    )
    text = out.getvalue()
    for step in ("healthz", "login", "draw", "ping batch", "rollup", "report", "logout"):
        assert f"ok  {step} " in text, text
    assert "79 pings accepted; the same batch again: 79 duplicates" in text
    assert "+1 visit, +13.0 min (walked 13.0), +1 Koper visit" in text
    assert "Smoke test passed" in text


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_smoke_fails_with_the_step_and_the_answer(live_server: Any) -> None:
    call_command("smoke_production", "--prepare", username="smoke-officer", password=PASSWORD)
    with pytest.raises(CommandError, match=r"FAILED at login: .* expected HTTP 200, got 400"):
        call_command(
            "smoke_production",
            base_url=live_server.url,
            username="smoke-officer",
            password="not-the-password",
            stdout=StringIO(),
        )
    with pytest.raises(CommandError, match=r"FAILED at healthz: .*no answer"):
        call_command(
            "smoke_production",
            base_url="http://127.0.0.1:9",  # discard port: nothing listens
            username="smoke-officer",
            password=PASSWORD,
            stdout=StringIO(),
        )
