"""Report pages in a real Chromium: a supervisor reads compliance (table, charts, recompute with
its progress bar), a sergeant watches the live presence map, an officer sees their dose card in
the phone app at two phone sizes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from backend.accounts.models import Role
from backend.patrols.models import PatrolSession
from backend.reports.models import ComplianceRecompute
from backend.reports.views import _current_shift
from tests.e2e.conftest import enter_second_factor, prepare_second_factor, screenshot
from tests.factories import UserFactory
from tests.missions.builders import mission, visit
from tests.reports.conftest import DAY, at, hand_built_day, make_visit
from tests.reports.test_compliance_api import _ping

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "correct-horse-battery"
FIXTURES = (hand_built_day,)  # the hand-built day of test_compliance.py, shared as a fixture


def sign_in(page: Any, base: str, username: str, then: str) -> None:
    device = prepare_second_factor(username)
    page.goto(f"{base}/login/?next={quote(then)}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_second_factor(page, device)
    page.wait_for_url(f"{base}{then}")


def console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def test_a_supervisor_reads_compliance_and_recomputes(
    live_server: Any, desktop: Any, hand_built_day: dict
) -> None:
    h1 = hand_built_day["h"][0]
    make_visit(h1, at(9, 0, DAY + timedelta(days=1)), 12, officer=hand_built_day["o1"], koper=True)
    UserFactory(username="sup", role=Role.SUPERVISOR, first_name="Rosa")
    errors = console_errors(desktop)
    first, last = DAY - timedelta(days=1), DAY + timedelta(days=1)
    query = f"/reports/compliance/?from={first.isoformat()}&to={last.isoformat()}&by=hotspot"
    sign_in(desktop, live_server.url, "sup", query)

    expect(desktop.locator("#compliance-sentence")).to_contain_text(
        "In the 3 days to 11 Nov 2026, officers delivered 4 of 18 prescribed visits (22%)"
    )
    table = desktop.get_by_role("table", name="Compliance by hot spot")
    expect(table).to_be_visible()
    expect(table.locator("tfoot")).to_contain_text("All 3 rows")
    assert desktop.get_by_role("img", name="Dose by hour of day").count() == 1
    expect(desktop.get_by_text("No daily rows are stored for these days yet")).to_be_visible()
    screenshot(desktop, "compliance-supervisor-before-recompute")

    desktop.get_by_role("button", name="Recompute these 3 days").click()
    # The job ran (eagerly here); the page polls it, shows 100% and reloads without ?job=.
    desktop.wait_for_url(lambda url: "job=" not in url and "compliance" in url, timeout=15000)
    job = ComplianceRecompute.objects.get()
    assert (job.status, job.percent) == ("done", 100)
    expect(desktop.locator("#computed-ago")).to_have_text("less than a minute ago")
    expect(desktop.get_by_role("img", name="Compliance by squad")).to_be_visible()
    expect(desktop.get_by_role("img", name="Treatment against control")).to_be_visible()
    screenshot(desktop, "compliance-supervisor")

    desktop.get_by_label("Group by").select_option("officer")
    desktop.get_by_role("button", name="Show").click()
    expect(desktop.get_by_role("columnheader", name="Streak (days)")).to_be_visible()
    expect(desktop.get_by_text("GeoJSON is offered for the hot spot grouping only")).to_be_visible()
    screenshot(desktop, "compliance-supervisor-by-officer")
    assert errors == []  # no CSP violation, no script error


def test_a_sergeant_watches_the_live_presence_map(
    live_server: Any, desktop: Any, hand_built_day: dict
) -> None:
    from django.utils import timezone

    squad, o1, o2 = hand_built_day["squad"], hand_built_day["o1"], hand_built_day["o2"]
    o1.first_name, o1.last_name = "Ana", "Lopez"
    o1.save()
    now = timezone.now()
    session = PatrolSession.objects.create(
        officer=o1, client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=40)
    )
    for k in range(12, 0, -1):
        _ping(session, now - timedelta(minutes=k), 4.0 * k, 0)
    s2 = PatrolSession.objects.create(
        officer=o2, client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=20)
    )
    _ping(s2, now - timedelta(minutes=1), 250, 180)
    visit(hand_built_day["h"][0], officer=o1)
    shift_start, _ = _current_shift(squad)  # the shift the page shows (maybe yesterday's)
    make_visit(hand_built_day["h"][0], shift_start + timedelta(hours=2), 14, officer=o1, koper=True)
    User = type(squad.sergeant)
    User.objects.filter(pk=squad.sergeant_id).update(username="sarge", first_name="Sam")
    errors = console_errors(desktop)
    sign_in(desktop, live_server.url, "sarge", "/missions/board/")
    desktop.get_by_role("link", name="Live squad view").click()
    desktop.wait_for_url(f"{live_server.url}/reports/squad/?squad={squad.pk}")

    expect(desktop.locator("#presence-status")).to_contain_text("2 officers on patrol")
    h1 = hand_built_day["h"][0]
    expect(desktop.locator(f'#presence-list li[data-officer="{o1.pk}"]')).to_contain_text(
        f"Ana Lopez: in hot spot 1 ({h1.place}) for 11 min"
    )
    expect(desktop.locator(f'#presence-list li[data-officer="{o2.pk}"]')).to_contain_text(
        "not in a hot spot"
    )
    # Hot spots drawn as coloured polygons, officers as labelled markers.
    # Two hot spots of the district and two officers (circle markers are paths too).
    expect(desktop.locator("#presence-map path.leaflet-interactive")).to_have_count(4)
    shift_row = desktop.locator(f'tr[data-officer="{o1.pk}"]')
    expect(shift_row).to_contain_text("Hot spot 1, 09:00, 14 min, Koper: yes")
    expect(desktop.locator("#presence-map .officer-label").first).to_be_visible()
    screenshot(desktop, "squad-presence-sergeant")
    assert errors == []


@pytest.mark.parametrize(("width", "height"), [(390, 844), (360, 640)])
def test_an_officer_sees_their_dose_and_streak_in_the_app(
    live_server: Any, browser: Any, hand_built_day: dict, width: int, height: int
) -> None:
    from backend.reports.services import compliance_day_rebuild

    o1, h1 = hand_built_day["o1"], hand_built_day["h"][0]
    o1.username = "off"
    o1.save()
    compliance_day_rebuild(day=DAY)  # a met day: a streak of one
    mission(h1, officer=o1, target_minutes=15)
    mission(h1, officer=o1, target_minutes=15)
    visit(h1, officer=o1)  # one of today's two visits
    context = browser.new_context(
        viewport={"width": width, "height": height}, device_scale_factor=2
    )
    page = context.new_page()
    errors = console_errors(page)
    sign_in(page, live_server.url, "off", "/app/")
    page.wait_for_selector("body[data-ready='1']")
    card = page.get_by_role("region", name="Your dose today")
    expect(card).to_be_visible()
    expect(page.locator("#dose-visits")).to_have_text("1 of 2")
    expect(page.locator("#dose-minutes")).to_have_text("12 of 30")
    expect(page.locator("#dose-koper")).to_have_text("1")
    expect(page.locator("#dose-streak")).to_have_text("1 day in a row with your dose delivered")
    expect(page.locator("#dose-days li")).to_have_count(14)
    # The card fits the phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"patrol-app-dose-{width}x{height}")
    page.emulate_media(color_scheme="dark")
    screenshot(page, f"patrol-app-dose-{width}x{height}-dark")
    context.close()
    assert [e for e in errors if "status of 404" not in e] == []
