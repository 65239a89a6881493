"""The sergeant on a phone (issue 9) in a real Chromium: at 360 x 640 the mission board has no
horizontal scroll and every button is at least 44 px tall; the live squad view refreshes by
itself, names officers with their badge numbers, and each refresh is audited as a track read.
Screenshots at 360 x 640 and 390 x 844 (var/screenshots/)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from backend.accounts.models import User
from backend.audit.models import AuditEvent
from backend.hotspots.models import Hotspot
from backend.missions.models import MissionStatus
from backend.patrols.models import PatrolSession
from tests.e2e.conftest import enter_second_factor, prepare_second_factor, screenshot
from tests.missions.builders import city, mission, running_experiment, squad_with_officers
from tests.reports.test_compliance_api import _ping

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PASSWORD = "correct-horse-battery"
SIZES = [(360, 640), (390, 844)]
ADDRESSES = [
    "0 block of W Madison St",
    "6300 block of S Martin Luther King Jr Dr",
    "N State St & W Washington Blvd",
    "1200 block of NW 62nd St",
]

# What a phone user can press: buttons, submit inputs and links styled as buttons.
TARGETS_JS = """() => [...document.querySelectorAll('button, input[type=submit], a.button')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => ({text: (e.innerText || e.value || '').trim(), h: e.getBoundingClientRect().height,
                w: e.getBoundingClientRect().width}))"""
SCROLL_JS = """() => ({scroll: document.documentElement.scrollWidth,
  client: document.documentElement.clientWidth})"""


def sign_in(page: Any, base: str, username: str, then: str) -> None:
    device = prepare_second_factor(username)
    page.goto(f"{base}/login/?next={quote(then)}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    enter_second_factor(page, device)
    page.wait_for_url(f"{base}{then}")


@pytest.fixture
def squad_on_shift(db: None) -> dict[str, Any]:
    """A district with 4 hot spots (3 treated, 1 control), a squad of 4 officers with long and
    repeated names, today's missions in every state, two officers on patrol."""
    run, spots, districts = city(n=4, districts=1)
    for h, address in zip(spots, ADDRESSES, strict=True):
        Hotspot.objects.filter(pk=h.pk).update(address=address)
        h.address = address
    running_experiment(run, treated=spots[:3], control=spots[3:])
    squad, sergeant, officers = squad_with_officers(district=districts[0], officers=4)
    names = [
        ("Maria Guadalupe", "Fernandez-Castellanos", "40417"),
        ("Ana", "Diaz", "4471"),
        ("Ana", "Diaz", "5102"),
        ("Jo", "Li", "77"),
    ]
    for o, (first, last, badge) in zip(officers, names, strict=True):
        User.objects.filter(pk=o.pk).update(first_name=first, last_name=last, badge_number=badge)
    User.objects.filter(pk=sergeant.pk).update(
        username="sarge", first_name="Sam", last_name="Sarge", badge_number="1000"
    )
    now = timezone.now()
    states = [
        MissionStatus.ASSIGNED,
        MissionStatus.ACCEPTED,
        MissionStatus.ON_SCENE,
        MissionStatus.COMPLETED,
        MissionStatus.DECLINED,
        MissionStatus.CANCELLED,
    ]
    for k, status in enumerate(states):
        start = now - timedelta(minutes=30) + timedelta(minutes=20 * k)
        mission(spots[k % 3], officer=officers[k % 4], status=status, start=start, minutes=15)
    # On patrol: the first officer inside hot spot 1 for the last 9 minutes, the second outside.
    s1 = PatrolSession.objects.create(
        officer=officers[0], client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=45)
    )
    for k in range(9, 0, -1):
        _ping(s1, now - timedelta(minutes=k), 5 * k, 0)  # hot spot 1: the 150 m square at 0, 0
    s2 = PatrolSession.objects.create(
        officer=officers[1], client_uuid=uuid.uuid4(), started_at=now - timedelta(minutes=15)
    )
    _ping(s2, now - timedelta(minutes=1), 2000, 2000)
    return {"squad": squad, "officers": officers, "spots": spots, "sergeant": sergeant}


def _check_phone_layout(page: Any, what: str) -> None:
    size = page.evaluate(SCROLL_JS)
    assert size["scroll"] <= size["client"], f"{what}: {size['scroll']} px wide in {size['client']}"
    small = [t for t in page.evaluate(TARGETS_JS) if t["h"] < 44]
    assert small == [], f"{what}: targets under 44 px: {small}"


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_board_fits_a_phone_with_44_px_targets(
    live_server: Any, browser: Any, squad_on_shift: dict, width: int, height: int
) -> None:
    viewport = {"width": width, "height": height}
    context = browser.new_context(
        viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    squad = squad_on_shift["squad"]
    sign_in(page, live_server.url, "sarge", f"/missions/board/?squad={squad.pk}")
    expect(page.get_by_role("heading", name="Mission board")).to_be_visible()
    # Badge numbers tell the two Ana Diaz apart, on the missions and in "assign to".
    expect(page.locator("#board-missions")).to_contain_text("Ana Diaz #4471")
    expect(page.locator("#board-missions")).to_contain_text("Ana Diaz #5102")
    assign = page.get_by_label("Assign to")
    expect(assign).to_have_value("")  # none chosen
    expect(assign.locator("option")).to_have_count(5)  # the prompt and the 4 officers
    _check_phone_layout(page, f"board at {width}x{height}")
    screenshot(page, f"board-{width}x{height}")
    # The live squad view from the board, one tap away.
    page.get_by_role("link", name="Live squad view").click()
    page.wait_for_url(f"{live_server.url}/reports/squad/?squad={squad.pk}")
    first = squad_on_shift["officers"][0]
    row = page.locator(f'#presence-list li[data-officer="{first.pk}"]')
    expect(row).to_contain_text(
        "Maria Guadalupe Fernandez-Castellanos #40417: in hot spot 1 (0 block of W Madison St) "
        "for 8 min"  # fixes from 9 minutes ago to 1 minute ago: 8 minutes inside
    )
    expect(page.locator("#presence-status")).to_contain_text("2 officers on patrol")
    _check_phone_layout(page, f"live squad view at {width}x{height}")
    screenshot(page, f"squad-live-{width}x{height}")
    # In Spanish (the sergeant's profile): longer words, the same fit.
    User.objects.filter(username="sarge").update(language="es")
    page.goto(f"{live_server.url}/missions/board/?squad={squad.pk}")
    expect(page.get_by_role("heading", name="Tablero de misiones")).to_be_visible()
    _check_phone_layout(page, f"board in Spanish at {width}x{height}")
    screenshot(page, f"board-es-{width}x{height}")
    assert errors == []
    context.close()


def test_the_live_squad_view_refreshes_itself_and_audits_each_read(
    live_server: Any, browser: Any, squad_on_shift: dict
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.clock.install()
    squad, officers = squad_on_shift["squad"], squad_on_shift["officers"]
    sign_in(page, live_server.url, "sarge", f"/reports/squad/?squad={squad.pk}")
    expect(page.locator("#presence-status")).to_contain_text("2 officers on patrol")
    reads = AuditEvent.objects.filter(action="track.read", actor=squad_on_shift["sergeant"])
    assert reads.count() == 2  # one per officer shown
    assert set(reads.values_list("subject_id", flat=True)) == {officers[0].pk, officers[1].pk}
    # A third officer starts a patrol; 15 s later the page shows them without a reload.
    PatrolSession.objects.create(
        officer=officers[3], client_uuid=uuid.uuid4(), started_at=timezone.now()
    )
    page.clock.run_for(16_000)
    expect(page.locator("#presence-status")).to_contain_text("3 officers on patrol")
    expect(page.locator(f'#presence-list li[data-officer="{officers[3].pk}"]')).to_contain_text(
        "Jo Li #77: on patrol since"
    )
    assert reads.count() == 2 + 3
    assert all(e.after.get("via") == "presence.live" for e in reads)
    context.close()
