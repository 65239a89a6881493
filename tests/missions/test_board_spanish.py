"""Spanish (issue 9): the board follows the officer's profile, else the browser; the catalogue
is complete (every entry translated, none fuzzy) and no English text of it is left on the board
rendered in Spanish."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from backend.accounts.models import Role, User
from tests.factories import DistrictFactory, SquadFactory, UserFactory
from tests.missions.builders import analysis_run, hotspot, mission, running_experiment

pytestmark = pytest.mark.django_db
PO = Path(settings.BASE_DIR) / "backend" / "locale" / "es" / "LC_MESSAGES" / "django.po"


def catalogue() -> list[dict[str, Any]]:
    """The .po's entries: msgid, msgid_plural, msgstr (list), flags; the header left out."""
    entries, entry, key = [], None, None

    def unq(text: str) -> str:
        return text[1:-1].replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")

    for line in [*PO.read_text(encoding="utf-8").splitlines(), ""]:
        if not line.strip():
            if entry is not None and entry["msgid"]:
                entries.append(entry)
            entry, key = None, None
            continue
        if entry is None:
            entry = {"msgid": "", "msgid_plural": "", "msgstr": {}, "flags": []}
        if line.startswith("#,"):
            entry["flags"] += [f.strip() for f in line[2:].split(",")]
        elif line.startswith("#"):
            continue
        elif m := re.match(r'^(msgid|msgid_plural|msgstr(?:\[(\d)\])?) (".*")$', line):
            key = m[1]
            if key.startswith("msgstr"):
                entry["msgstr"][key] = unq(m[3])
            else:
                entry[key] = unq(m[3])
        elif line.startswith('"') and key is not None:
            if key.startswith("msgstr"):
                entry["msgstr"][key] += unq(line)
            else:
                entry[key] += unq(line)
    return entries


def test_the_catalogue_is_complete_and_compiled() -> None:
    entries = catalogue()
    assert len(entries) > 80
    for e in entries:
        assert "fuzzy" not in e["flags"], e["msgid"]
        assert e["msgstr"] and all(v.strip() for v in e["msgstr"].values()), e["msgid"]
        for ph in re.findall(r"%\(\w+\)[sd]", e["msgid"]):  # placeholders kept
            assert all(ph in v for v in e["msgstr"].values()), (e["msgid"], ph)
    # The committed .mo says what the .po says (it was compiled after the last edit).
    with translation.override("es"):
        for e in entries:
            if e["msgid_plural"]:
                got = translation.ngettext(e["msgid"], e["msgid_plural"], 2)
                assert got == e["msgstr"]["msgstr[2]"], e["msgid"]
            else:
                assert translation.gettext(e["msgid"]) == e["msgstr"]["msgstr"], e["msgid"]


def _visible(page: str) -> tuple[str, set[str]]:
    """The page's text (tags out, spaces collapsed) and its text nodes and labels, one by one."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    attrs = {
        htmllib.unescape(v).strip()
        for v in re.findall(r'(?:aria-label|data-label|title)="([^"]*)"', page)
    }
    nodes = {htmllib.unescape(t).strip() for t in re.split(r"<[^>]+>", page)}
    text = " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return text, {n for n in nodes | attrs if n}


def _board_world() -> tuple[User, Any]:
    district = DistrictFactory(name="Norte")
    sergeant = UserFactory(role=Role.SERGEANT)
    squad = SquadFactory(name="Escuadra 1", district=district, sergeant=sergeant)
    User.objects.filter(pk=sergeant.pk).update(squad=squad)
    officer = UserFactory(first_name="Ana", last_name="Diaz", badge_number="4471", squad=squad)
    run = analysis_run()
    treated, control = (
        hotspot(run, rank=1, district=district),
        hotspot(run, rank=2, district=district),
    )
    running_experiment(run, treated=[treated], control=[control])
    mission(treated, officer=officer, start=timezone.now())
    sergeant.refresh_from_db()
    return sergeant, squad


def test_the_board_in_spanish_leaves_no_english_text_of_the_catalogue() -> None:
    sergeant, squad = _board_world()
    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    client.force_login(sergeant)
    response = client.get(reverse("missions:board"), {"squad": squad.pk})
    page = response.content.decode()
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in page and "Tablero de misiones" in page
    text, nodes = _visible(page)
    left = []
    for e in catalogue():
        for english in filter(None, (e["msgid"], e["msgid_plural"])):
            if english in e["msgstr"].values():
                continue  # the same word in both languages ("Control", "Supervisor")
            literal = re.split(r"%\(\w+\)[sd]", english)
            if len(literal) > 1:  # with placeholders: the text around them, in order
                pattern = r".{1,200}?".join(re.escape(" ".join(p.split())) for p in literal)
                if re.search(pattern, text) and len(" ".join(literal).split()) >= 3:
                    left.append(english)
            elif english in nodes or (len(english.split()) >= 4 and english in text):
                left.append(english)
    assert left == []
    # The Spanish is there: the headings, the form and the statuses.
    for spanish in (
        "Asignar una misión a mano",
        "Asignar a",
        "Elija un agente",
        "Asignada",
        "Puntos calientes de Norte hoy",
        "Cerrar sesión",
    ):
        assert spanish in text, spanish


@pytest.mark.parametrize(
    ("profile", "browser", "expected"),
    [("es", "en", "es"), ("", "es", "es"), ("en", "es", "en"), ("", "en", "en")],
)
def test_the_profile_language_wins_over_the_browsers(
    profile: str, browser: str, expected: str
) -> None:
    sergeant, _ = _board_world()
    User.objects.filter(pk=sergeant.pk).update(language=profile)
    client = Client(HTTP_ACCEPT_LANGUAGE=browser)
    client.force_login(sergeant)
    page = client.get(reverse("missions:board")).content.decode()
    assert f'<html lang="{expected}">' in page
    assert ("Tablero de misiones" in page) == (expected == "es")
    # The phone app's shell says the same language, for its own catalogue.
    officer = User.objects.get(badge_number="4471")
    User.objects.filter(pk=officer.pk).update(language=profile)
    client.force_login(officer)
    assert f'<html lang="{expected}"' in client.get("/app/").content.decode()
