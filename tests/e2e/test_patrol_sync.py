"""The phone's outbox and session on a real shift: five minutes without signal and a reload,
a server that fails, a sign-out, an expired sign-in, an IndexedDB schema upgrade, Spanish."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from backend.accounts.models import Role
from backend.missions.models import Mission
from backend.patrols.models import Activity, Ping
from tests.conftest import REPO
from tests.e2e.test_patrol_app import make_hotspots, open_app, unexpected, wait_until
from tests.e2e.test_patrol_shift import ANDROID, START_XY, advance, latlon, phone
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

OUTBOX = """async () => (await (await import("/static/app/js/db.js")).getAll("outbox"))
    .sort((a, b) => a.seq - b.seq)"""


def queued_pings(page: Any) -> list[str]:
    return [i["body"]["client_uuid"] for i in page.evaluate(OUTBOX) if i["kind"] == "ping"]


def unsent(page: Any) -> int:
    return int(page.locator("#st-unsent").get_attribute("data-count"))


def start(page: Any, officer: Any) -> None:
    page.get_by_role("button", name="Start patrol").click()
    wait_until(page, lambda: Ping.objects.filter(officer=officer).exists(), "the first ping")
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0")


def test_five_minutes_offline_with_a_reload_delivers_every_ping_once_and_in_order(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    context, page, errors = phone(browser, ANDROID)
    open_app(page, live_server.url)
    start(page, officer)
    before = Ping.objects.filter(officer=officer).count()
    wait_until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"), "SW")

    context.set_offline(True)
    x, y = START_XY
    for stride in range(10):  # 10 x 30 s = 5 minutes of page time, 12 m further each stride
        if stride == 5:  # reopened without signal: shell from the worker, queue from IndexedDB
            t_before = page.evaluate("Date.now()")
            page.reload()
            page.wait_for_selector("body[data-ready='1']")
            assert page.locator("#st-patrol").inner_text() == "On patrol"
            assert page.evaluate("Date.now()") >= t_before  # the page clock carried on
        context.set_geolocation(latlon(x, y + 12.0 * (stride + 1)))
        page.wait_for_timeout(100)
        advance(page, 30)
    queued = queued_pings(page)
    assert len(queued) >= 10  # a ping per stride at least (each moved 12 m)
    assert Ping.objects.filter(officer=officer).count() == before  # nothing got through

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0", timeout=15000)
    arrived = list(
        Ping.objects.filter(officer=officer, client_uuid__in=queued)
        .order_by("id")
        .values_list("client_uuid", "recorded_at")
    )
    # Exactly once: every queued ping, no duplicate; in order: stored in the order queued,
    # which is the order of their times.
    assert [str(u) for u, _ in arrived] == queued
    times = [t for _, t in arrived]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert Ping.objects.filter(officer=officer).count() == before + len(queued)
    assert unexpected(errors, "status of 503") == []  # 503: the worker's "you are offline"


def test_two_failed_flushes_then_a_bad_item_retried_items_stored_once_bad_one_listed(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    context, page, errors = phone(browser, ANDROID)
    open_app(page, live_server.url)
    start(page, officer)
    before = Ping.objects.filter(officer=officer).count()
    calls = {"n": 0}

    def flaky(route: Any) -> None:  # the first two ping deliveries meet a 503
        calls["n"] += 1
        if calls["n"] <= 2:
            route.fulfill(status=503, content_type="application/json", body='{"detail": "busy"}')
        else:
            route.continue_()

    page.route("**/api/v1/pings/batch", flaky)
    for step in range(1, 4):
        context.set_geolocation(latlon(START_XY[0] + 20.0 * step, START_XY[1]))
        page.wait_for_timeout(150)
    # An activity the server refuses (400: unknown kind), queued between the pings.
    page.evaluate(
        """async () => {
            const outbox = await import("/static/app/js/outbox.js");
            await outbox.enqueue("activity", {client_uuid: crypto.randomUUID(),
                kind: "no-such-kind", recorded_at: new Date().toISOString()});
        }"""
    )
    queued = queued_pings(page)
    assert len(queued) >= 3
    for _ in range(12):  # page time for the backoff (1 s, 2 s, ...) to run out, twice
        advance(page, 5, 5)
        page.evaluate("async () => (await import('/static/app/js/outbox.js')).flush()")
    expect(page.locator("#failed")).to_be_visible(timeout=10000)
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0", timeout=10000)
    assert calls["n"] >= 3
    stored = Ping.objects.filter(officer=officer)
    assert stored.count() == before + len(queued)
    assert stored.values("client_uuid").distinct().count() == stored.count()
    assert page.locator("#failed-list li").count() == 1
    assert "unknown activity" in page.locator("#failed-list").inner_text()
    assert Activity.objects.count() == 0
    assert unexpected(errors, "status of 503", "status of 400") == []


def test_sign_out_clears_cached_missions_and_briefings_and_lands_on_sign_in(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    _, page, _ = phone(browser, ANDROID)
    open_app(page, live_server.url)
    wait_until(page, lambda: page.evaluate("navigator.serviceWorker.controller !== null"), "SW")
    start(page, officer)
    page.get_by_role("button", name="Next hot spot").click()
    page.wait_for_selector("#card:not([hidden])")
    mission = wait_until(page, lambda: Mission.objects.filter(officer=officer).first(), "draw")
    page.reload()  # through the worker: the mission list and briefing answers get cached
    page.wait_for_selector("body[data-ready='1']")
    cached = """async () => {
        const db = await import("/static/app/js/db.js");
        const urls = [];
        for (const key of await caches.keys()) {
            const cache = await caches.open(key);
            for (const r of await cache.keys()) urls.push(new URL(r.url).pathname);
        }
        return {mission: await db.getState("mission"), briefings: await db.getAll("briefings"),
                api: urls.filter((u) => u.startsWith("/api/") || u === "/app/")};
    }"""
    there = page.evaluate(cached)
    assert there["mission"]["id"] == mission.pk
    assert [b["id"] for b in there["briefings"]] == [mission.hotspot_id]
    assert f"/api/v1/hotspots/{mission.hotspot_id}" in there["api"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(lambda url: "/login/" in url)
    gone = page.evaluate(cached)  # same origin: the sign-in page sees the app's storage
    assert gone == {"mission": None, "briefings": [], "api": []}
    page.goto(f"{live_server.url}/app/")
    assert "/login/" in page.url  # signed out for real


def test_an_expired_sign_in_keeps_the_queue_and_delivers_it_after_signing_in_again(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    context, page, errors = phone(browser, ANDROID)
    open_app(page, live_server.url)
    start(page, officer)
    context.clear_cookies()  # the session expired on the server's side
    page.get_by_role("button", name="Community contact").click()
    expect(page.locator("#relogin")).to_be_visible(timeout=10000)
    assert unsent(page) >= 1
    assert page.locator("#failed").is_hidden()  # kept in the queue, not failed
    assert Activity.objects.count() == 0
    page.get_by_role("link", name="Sign in again").click()
    page.get_by_label("Username").fill("off")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready='1']")
    wait_until(page, lambda: Activity.objects.filter(officer=officer).exists(), "the activity")
    expect(page.locator("#st-unsent")).to_have_attribute("data-count", "0", timeout=10000)
    assert page.locator("#failed").is_hidden()
    assert unexpected(errors, "status of 403") == []


def test_an_indexeddb_upgrade_from_version_1_keeps_the_queued_items(
    live_server: Any, browser: Any
) -> None:
    """A phone that queued an activity under the first app version (IndexedDB schema 1), then
    loads the version-2 app: the item survives the upgrade and is delivered."""
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    _, page, _ = phone(browser, ANDROID)
    page.goto(f"{live_server.url}/login/")
    key = "6f1c2d3e-0000-4000-8000-00000000a001"
    page.evaluate(
        """(key) => new Promise((resolve, reject) => {
            const req = indexedDB.open("presence-app", 1);
            req.onupgradeneeded = () => {  // the version-1 schema, as the first app made it
                const db = req.result;
                db.createObjectStore("outbox", {keyPath: "seq", autoIncrement: true});
                db.createObjectStore("failed", {keyPath: "seq"});
                db.createObjectStore("state");
            };
            req.onsuccess = () => {
                const db = req.result;
                const tx = db.transaction("outbox", "readwrite");
                const now = new Date().toISOString();
                tx.objectStore("outbox").add({kind: "activity", created: now,
                    body: {client_uuid: key, kind: "foot-patrol", recorded_at: now}});
                tx.oncomplete = () => { db.close(); resolve(); };
                tx.onerror = () => reject(tx.error);
            };
        })""",
        key,
    )
    page.get_by_label("Username").fill("off")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("body[data-ready='1']")
    version = page.evaluate(
        """() => new Promise((r) => {
            const q = indexedDB.open("presence-app");
            q.onsuccess = () => {
                const db = q.result;
                r([db.version, [...db.objectStoreNames].sort()]);
                db.close();
            };
        })"""
    )
    assert version == [2, ["briefings", "failed", "outbox", "state"]]
    activity = wait_until(
        page, lambda: Activity.objects.filter(officer=officer, client_uuid=key).first(), "delivery"
    )
    assert activity.kind.code == "foot-patrol"


def test_the_app_in_spanish_shows_no_english_string_of_its_catalogue(
    live_server: Any, browser: Any
) -> None:
    make_hotspots()
    officer = UserFactory(username="off", role=Role.OFFICER)
    context = browser.new_context(
        viewport={"width": 360, "height": 640},
        locale="es-ES",
        geolocation=latlon(*START_XY),
        permissions=["geolocation"],
    )
    page = context.new_page()
    open_app(page, live_server.url)
    assert page.evaluate("document.documentElement.lang") == "es"
    page.get_by_role("button", name="Empezar patrulla").click()
    wait_until(page, lambda: Ping.objects.filter(officer=officer).exists(), "the first ping")
    page.get_by_role("button", name="Siguiente zona").click()
    page.wait_for_selector("#card:not([hidden])")
    page.get_by_role("button", name="Rechazar").click()
    expect(page.get_by_text("¿Por qué ahora no?")).to_be_visible()
    page.get_by_role("button", name="Otro motivo").click()  # "other" asks why first
    expect(page.get_by_label("Diga por qué")).to_be_visible()
    page.locator("#nearby-title").scroll_into_view_if_needed()
    page.screenshot(path=str(REPO / "var" / "screenshots" / "app-es-360x640.png"))
    en = json.loads((REPO / "mobile_web" / "i18n" / "en.json").read_text())
    es = json.loads((REPO / "mobile_web" / "i18n" / "es.json").read_text())
    text = page.evaluate("document.body.textContent") + " ".join(
        page.evaluate(
            "[...document.querySelectorAll('[aria-label],[placeholder]')]"
            ".map(e => (e.getAttribute('aria-label') || '') + ' ' + (e.placeholder || ''))"
        )
    )
    # Each English string's literal parts (around its {placeholders}) of 4+ characters, as
    # whole words ("Cancel" is not a leak inside "Cancelar").
    leaks = sorted(
        (k, part.strip())
        for k, v in en.items()
        if v != es[k]
        for part in re.split(r"\{\w+\}", v)
        if len(part.strip()) >= 4 and re.search(rf"(?<!\w){re.escape(part.strip())}(?!\w)", text)
    )
    assert leaks == []
    page.get_by_role("button", name="Enviado a un aviso").click()
    mission = Mission.objects.get(officer=officer)
    wait_until(page, lambda: Mission.objects.get(pk=mission.pk).status == "declined", "decline")
    assert Mission.objects.get(pk=mission.pk).decline_reason == "dispatched"
    context.close()
