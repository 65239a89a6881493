"""Session limits beyond Django's idle timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import translation

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
