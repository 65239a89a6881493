"""The officer phone app (a PWA in ``mobile_web/``): its page, service worker and manifest.

The page is served by Django, not as a static file, so that it requires a signed-in user and the
session cookie and CSRF cookie apply to its API calls, and so that the maps' configuration
(LEAFLET_CONFIG) is filled in. Its scripts and styles are static files (``/static/app/``;
Leaflet from django-leaflet, ``/static/leaflet/``). The service worker is served from
``/app/sw.js`` so that its scope covers ``/app/``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from backend.accounts.maps import map_config

APP_DIR: Path = Path(settings.BASE_DIR) / "mobile_web"


def _file(name: str) -> str:
    return (APP_DIR / name).read_text(encoding="utf-8")


@never_cache
@ensure_csrf_cookie
@login_required
def app_index(request: HttpRequest) -> HttpResponse:
    """The app shell, with the maps' configuration (LEAFLET_CONFIG) filled in; the scripts do
    the rest through the API."""
    config = json.dumps(map_config()).replace("<", "\\u003c").replace(">", "\\u003e")
    page = _file("index.html").replace("__PRESENCE_MAP_CONFIG__", config)
    # The active language (the profile's, else the phone's Accept-Language): the app reads it.
    page = page.replace('<html lang="en"', f'<html lang="{translation.get_language() or "en"}"', 1)
    return HttpResponse(page, content_type="text/html; charset=utf-8")


@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker (no login: the browser fetches it for updates on its own)."""
    response = HttpResponse(_file("sw.js"), content_type="application/javascript; charset=utf-8")
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
