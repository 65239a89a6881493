"""Role checks for API views and web views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from backend.accounts.factor import factor_required
from backend.accounts.models import User

SECOND_FACTOR_MISSING = "A second factor code is required: finish signing in first."


def factor_satisfied(request: Any) -> bool:
    """True unless the caller's role needs a second factor it has not passed. A token counts as
    passed (``TokenApi`` issues one to such a role only with a valid code); a session must be
    verified (django-otp's ``is_verified``)."""
    user = request.user
    if not factor_required(user) or isinstance(request.auth, Token):
        return True
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


class SignedInRequest(HttpRequest):
    """The request a view behind ``login_required`` or ``role_required`` receives: its ``user``
    is a signed-in :class:`User`. An annotation only: at run time it is Django's request."""

    user: User


def api_user(request: Request) -> User:
    """The signed-in user of an API request. Every API view's permission classes admit only
    signed-in users (``IsAuthenticated`` by default), so anything else is a configuration error
    that answers 401 rather than acting as an anonymous user."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user


class IsPerson(BasePermission):
    """The API's default: any signed-in person. A service account (an AVL feed's token) is
    admitted only where a view names its role, so a leaked feed token reads nothing."""

    message = "Service accounts may use only their feed's endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.role != "service"):
            return False
        if not factor_satisfied(request):
            self.message = SECOND_FACTOR_MISSING
            return False
        return True


def role_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission class admitting active users with one of ``roles`` (admins always)."""

    class HasRole(BasePermission):
        message = "Your role does not give access to this."

        def has_permission(self, request: Any, view: Any) -> bool:
            user = request.user
            if not (user and user.is_authenticated and user.has_role(*roles)):
                return False
            if not factor_satisfied(request):
                self.message = SECOND_FACTOR_MISSING
                return False
            return True

    HasRole.__name__ = "HasRole_" + "_".join(roles)
    return HasRole


def role_required(*roles: str) -> Callable[[Any], Any]:
    """View decorator: sign-in required, then 403 (not a redirect loop) for other roles."""

    def check(user: Any) -> bool:
        if not user.is_authenticated:
            return False
        if not user.has_role(*roles):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return True

    return user_passes_test(check)
