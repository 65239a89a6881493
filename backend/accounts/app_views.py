"""The officer phone app (a PWA in ``mobile_web/``): its page, service worker and manifest.

The page is served by Django, not as a static file, so that it requires a signed-in user and the
session cookie and CSRF cookie apply to its API calls. Its scripts and styles are static files
(``/static/app/``, ``/static/vendor/``). The service worker is served from ``/app/sw.js`` so that
its scope covers ``/app/``.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

APP_DIR: Path = Path(settings.BASE_DIR) / "mobile_web"


def _file(name: str) -> str:
    return (APP_DIR / name).read_text(encoding="utf-8")


@never_cache
@ensure_csrf_cookie
@login_required
def app_index(request: HttpRequest) -> HttpResponse:
    """The app shell; the scripts do the rest through the API."""
    return HttpResponse(_file("index.html"), content_type="text/html; charset=utf-8")


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
