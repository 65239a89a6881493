"""The officer phone app (a PWA in ``mobile_web/``): its page, service worker and manifest.

The page is served by Django, not as a static file, so that it requires a signed-in user and the
session cookie and CSRF cookie apply to its API calls, and so that the maps' configuration
(LEAFLET_CONFIG) is filled in. Its scripts and styles are static files (``/static/app/``;
Leaflet from django-leaflet, ``/static/leaflet/``). The service worker is served from
``/app/sw.js`` so that its scope covers ``/app/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import translation
from django.utils.html import escape
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from backend.accounts.maps import map_config

APP_DIR: Path = Path(settings.BASE_DIR) / "mobile_web"


# Served by the views below, not as static files; every other file is a static file under
# /static/app/ and part of the service worker's precached shell.
PAGES = ("index.html", "sw.js", "manifest.webmanifest")
SHELL_SUFFIXES = (".js", ".css", ".json", ".png", ".svg")
# Static files the app needs from outside mobile_web/ (django-leaflet's Leaflet, the map base).
SHELL_EXTRA = (
    "/static/leaflet/leaflet.js",
    "/static/leaflet/leaflet.css",
    "/static/js/map-base.js",
)


def _file(name: str) -> str:
    return (APP_DIR / name).read_text(encoding="utf-8")


def app_files(directory: Path | None = None) -> list[Path]:
    """The app's files (sorted): pages, scripts, styles, catalogues and icons."""
    root = directory or APP_DIR
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def app_version(directory: Path | None = None) -> str:
    """The service worker's cache version: a hash of the names and contents of every file of
    the app, so any change to ``mobile_web/`` makes phones fetch the new shell (no hand-bumped
    number). Recomputed per request: the directory is ~100 KB."""
    root = directory or APP_DIR
    digest = hashlib.sha256()
    for f in app_files(root):
        digest.update(str(f.relative_to(root)).encode() + b"\0")
        digest.update(f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def shell_urls(directory: Path | None = None) -> list[str]:
    root = directory or APP_DIR
    urls = [
        f"/static/app/{p.relative_to(root).as_posix()}"
        for p in app_files(root)
        if p.suffix in SHELL_SUFFIXES and p.name not in PAGES
    ]
    return [*urls, *SHELL_EXTRA, "/app/manifest.webmanifest"]


@never_cache
@ensure_csrf_cookie
@login_required
def app_index(request: HttpRequest) -> HttpResponse:
    """The app shell, with the maps' configuration (LEAFLET_CONFIG) filled in; the scripts do
    the rest through the API."""
    config = json.dumps(map_config()).replace("<", "\\u003c").replace(">", "\\u003e")
    # The officer's profile language when the profile has one; else the app follows the phone.
    lang = str(getattr(request.user, "language", "") or "")
    page = (
        _file("index.html")
        .replace("__PRESENCE_MAP_CONFIG__", config)
        .replace("__USERNAME__", escape(request.user.get_username()))
        .replace("__PROFILE_LANG__", "".join(c for c in lang if c.isalnum() or c == "-")[:16])
    )
    # The active language (the profile's, else the phone's Accept-Language): the app reads it.
    page = page.replace('<html lang="en"', f'<html lang="{translation.get_language() or "en"}"', 1)
    return HttpResponse(page, content_type="text/html; charset=utf-8")


@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker (no login: the browser fetches it for updates on its own), with its
    cache version (``app_version``) and the list of files to precache filled in."""
    body = (
        _file("sw.js")
        .replace("__APP_VERSION__", app_version())
        .replace('"__APP_SHELL__"', json.dumps(shell_urls()))
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/app/"
    return response


def manifest(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_file("manifest.webmanifest"), content_type="application/manifest+json")


app_name = "app"
urlpatterns = [
    path("", app_index, name="index"),
    path("sw.js", service_worker, name="sw"),
    path("manifest.webmanifest", manifest, name="manifest"),
]
