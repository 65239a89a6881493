"""Session limits beyond Django's idle timeout; the second factor's gate; the sign-in pages'
per-address limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation

from backend.accounts.factor import factor_enrolled, factor_required
from backend.accounts.signin_throttle import signin_retry_after
from backend.audit.services import request_ip

SESSION_STARTED_KEY = "presence_session_started"


class AbsoluteSessionLimitMiddleware:
    """End any session older than ``PRESENCE_SESSION_ABSOLUTE_SECONDS`` (12 h), however active.

    Django's ``SESSION_COOKIE_AGE`` with ``SESSION_SAVE_EVERY_REQUEST`` gives the 30-minute idle
    limit; a session that is kept busy would otherwise live for ever.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            started = request.session.setdefault(SESSION_STARTED_KEY, now)
            if now - int(started) > settings.PRESENCE_SESSION_ABSOLUTE_SECONDS:
                logout(request)
        return self.get_response(request)


class UserLanguageMiddleware:
    """The signed-in user's chosen language (``User.language``) over the browser's.

    Runs after ``LocaleMiddleware`` (which follows Accept-Language) and after authentication;
    a blank choice leaves the browser's language in place. ``Content-Language`` and ``Vary``
    are set by ``LocaleMiddleware`` on the way out from the active language.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = getattr(user, "language", "") if user is not None else ""
        if chosen and chosen in dict(settings.LANGUAGES):
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        return self.get_response(request)


def signin_paths() -> set[str]:
    """The pages that take a password or a code (the per-address limit applies to them)."""
    return {
        reverse("login"),
        reverse("admin:login"),
        reverse("factor-verify"),
        reverse("factor-enrol"),
    }


class SignInAddressThrottleMiddleware:
    """A sign-in POST from an address past its failures answers 429 with ``Retry-After``
    (``backend/accounts/signin_throttle.py``), before the password or code is even checked."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in signin_paths():
            wait = signin_retry_after(ip=request_ip(request))
            if wait:
                response = render(
                    request, "errors/429.html", {"minutes": max(1, round(wait / 60))}, status=429
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)


class SecondFactorRequiredMiddleware:
    """A signed-in user whose role needs a second factor, in a session that has not passed it,
    reaches only the code page, the enrolment page and sign-out: any other page redirects to
    the code page (or enrolment, with no authenticator yet), and the API answers 403 with no
    data. A token-authenticated API call has no session user here: its token was issued only
    after the code (``TokenApi``), and ``IsPerson`` checks the session case again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not factor_required(user) or session_factor_verified(request):
            return self.get_response(request)
        path = request.path
        if path in _open_paths() or path.startswith(f"/{settings.STATIC_URL.strip('/')}/"):
            return self.get_response(request)
        if path.startswith("/api/"):
            return JsonResponse(
                {"detail": "A second factor code is required: finish signing in first."},
                status=403,
            )
        target = "factor-verify" if factor_enrolled(user) else "factor-enrol"
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse(target)}?{query}")


def session_factor_verified(request: HttpRequest) -> bool:
    """True if this request's session passed its second factor (django-otp's OTPMiddleware)."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def _open_paths() -> set[str]:
    """What a session waiting for its second factor may still reach."""
    return {
        reverse("factor-verify"),
        reverse("factor-enrol"),
        reverse("logout"),
        reverse("admin:logout"),
        reverse("api-token"),
        reverse("api-logout"),
        "/healthz",
    }
