"""The phone app's files as the server serves them: the service worker's version is a hash of
mobile_web/ (a changed file gives a new version), the precache list names every app file, the
manifest's PNG icons exist at their stated sizes, and the string catalogues are complete."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from backend.accounts import app_views
from tests.conftest import REPO

APP = REPO / "mobile_web"


def served_version(client: Client) -> str:
    sw = client.get("/app/sw.js").content.decode()
    match = re.search(r'const VERSION = "([0-9a-f]{16})";', sw)
    assert match, "the served service worker has no filled-in version"
    return match.group(1)


def test_the_service_worker_version_follows_the_content_of_mobile_web(
    tmp_path: Path, monkeypatch: Any
) -> None:
    copy = tmp_path / "mobile_web"
    shutil.copytree(APP, copy)
    monkeypatch.setattr(app_views, "APP_DIR", copy)
    client = Client()
    first = served_version(client)
    assert served_version(client) == first  # stable while nothing changes
    css = copy / "css" / "app.css"
    css.write_text(css.read_text() + "\n/* one more rule */\n")
    second = served_version(client)
    assert second != first
    (copy / "i18n" / "fr.json").write_text("{}")  # a new file changes it too
    assert served_version(client) not in (first, second)
    # The precache list is every app file (not the pages the views serve), with Leaflet's.
    shell = json.loads(
        re.search(r"const SHELL = (\[.*?\]);", client.get("/app/sw.js").content.decode()).group(1)
    )
    expected = {
        "/static/app/" + p.relative_to(copy).as_posix()
        for p in copy.rglob("*")
        if p.is_file() and p.name not in ("index.html", "sw.js", "manifest.webmanifest")
    }
    assert set(shell) >= expected | {"/static/leaflet/leaflet.js", "/app/manifest.webmanifest"}
    assert "/static/app/i18n/fr.json" in shell


def test_the_manifest_names_png_icons_of_the_stated_sizes_and_a_maskable_one() -> None:
    manifest = json.loads((APP / "manifest.webmanifest").read_text())
    pngs = [i for i in manifest["icons"] if i["type"] == "image/png"]
    sizes = set()
    for icon in pngs:
        path = APP / icon["src"].removeprefix("/static/app/")
        with Image.open(path) as img:
            w, h = img.size
            assert img.format == "PNG"
        assert icon["sizes"] == f"{w}x{h}"
        sizes.add((w, icon["purpose"]))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= sizes
    # The maskable icon fills its square (no transparent corners: launchers crop it).
    with Image.open(APP / "icons" / "icon-maskable-512.png") as img:
        assert img.convert("RGBA").getpixel((0, 0))[3] == 255


def strings_used() -> set[str]:
    """Every catalogue key the app names: data-i18n attributes and t("...") calls, with the
    keys built from known values written out (statuses, compass points, outbox kinds...)."""
    html = (APP / "index.html").read_text()
    keys = set(re.findall(r'data-i18n(?:-label|-ph)?="([^"]+)"', html))
    for js in (APP / "js").glob("*.js"):
        # Every key-shaped literal ("st.on", "scene.moveon"): keys are also picked by ternaries.
        keys |= set(re.findall(r'"([a-z]+(?:\.[\w-]+)+)"', js.read_text()))
    keys |= {
        f"status.{s}"
        for s in (
            "assigned",
            "accepted",
            "on_scene",
            "completed",
            "declined",
            "interrupted",
            "cancelled",
        )
    }
    keys |= {f"dir.{d}" for d in ("N", "NE", "E", "SE", "S", "SW", "W", "NW")}
    keys |= {
        f"kind.{k}"
        for k in ("ping", "session-start", "session-end", "activity", "activity-undo", "mission")
    }
    keys |= {f"near.{k}" for k in ("due", "done")}
    keys |= {f"dose.day.{k}" for k in ("met", "missed", "today", "none")}
    return keys


# Strings that are the same in both languages on purpose (a unit).
SAME_IN_BOTH = {"st.min"}


def test_every_string_the_app_uses_is_in_english_and_spanish_and_spanish_is_translated() -> None:
    en = json.loads((APP / "i18n" / "en.json").read_text())
    es = json.loads((APP / "i18n" / "es.json").read_text())
    used = strings_used()
    assert len(used) > 80  # the walk found the app's strings, not an empty set
    assert sorted(used - set(en)) == []
    assert set(es) == set(en)
    assert [k for k in en if es[k] == en[k] and k not in SAME_IN_BOTH] == []
    # Placeholders survive translation: "{n} unsent" needs its {n} in Spanish too.
    for key, text in en.items():
        assert set(re.findall(r"\{\w+\}", text)) == set(re.findall(r"\{\w+\}", es[key])), key


@pytest.mark.django_db
def test_the_page_carries_the_username_and_no_profile_language_when_the_profile_has_none(
    client: Client,
) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="o'brien", role="officer"))
    page = client.get("/app/").content.decode()
    assert 'data-user="o&#x27;brien"' in page
    assert 'data-profile-lang=""' in page  # the app then follows the phone's language
    assert "__" not in page.split("<body>")[0].replace("__PRESENCE", "")
