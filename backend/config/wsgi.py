"""The WSGI application: Django with two middleware stacks, chosen per request.

The phones' hot calls (a ping batch every 10 s, nearby every 30 s, the sergeants' board every
10 s) are token-authenticated API calls with no session cookie. For those, the page middleware
(sessions, CSRF, the session user, django-otp's session flag, the session limits, messages,
axes, WhiteNoise) can only do nothing, but each still runs on every call: about a quarter of a
ping batch's CPU. :func:`token_api_call` picks those requests out and sends them through
``PRESENCE_TOKEN_API_MIDDLEWARE`` (settings), the middleware whose work they still need
(security headers and the TLS redirect, GZip, CSP, the request's language, common,
X-Frame-Options); every other request (pages, the phone app's session calls, sign-in and
sign-out, anything carrying a session cookie) takes the full ``MIDDLEWARE`` stack as before.

Why it is safe: DRF authenticates the token in the view; a token is issued only after the
second factor (``TokenApi``), and the permission classes check it again (``factor_satisfied``);
CSRF guards cookie sessions, and the lean stack takes no request that carries one; the sign-in
and sign-out endpoints (``/api/v1/auth/``), which use the session and axes, always take the full
stack. ``tests/config/test_token_api_stack.py`` checks both routes give the same answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")

_full = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after django.setup() in get_wsgi_application
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

TOKEN_API_PREFIX = "/api/"
SESSION_API_PREFIX = "/api/v1/auth/"  # sign-in and sign-out: sessions, axes, audit of logins


def token_api_call(environ: dict[str, Any]) -> bool:
    """True for an API call authenticated by a token alone: ``Authorization: Token ...``, no
    session cookie, and not the sign-in or sign-out endpoint."""
    path = environ.get("PATH_INFO", "")
    if not path.startswith(TOKEN_API_PREFIX) or path.startswith(SESSION_API_PREFIX):
        return False
    if not environ.get("HTTP_AUTHORIZATION", "").startswith("Token "):
        return False
    cookies = environ.get("HTTP_COOKIE", "")
    if cookies and settings.SESSION_COOKIE_NAME in cookies:
        try:
            return settings.SESSION_COOKIE_NAME not in SimpleCookie(cookies)
        except Exception:  # an unparsable Cookie header: the full stack decides, as before
            return False
    return True


class TokenApiHandler(WSGIHandler):
    """Django's WSGI handler with ``PRESENCE_TOKEN_API_MIDDLEWARE`` as its middleware."""

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.PRESENCE_TOKEN_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


_token_api = TokenApiHandler()

StartResponse = Callable[..., Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Token-only API calls to the lean stack, everything else to Django's full stack."""
    handler = _token_api if token_api_call(environ) else _full
    return handler(environ, start_response)
