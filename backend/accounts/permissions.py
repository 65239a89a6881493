"""Role checks for API views and web views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import user_passes_test
from rest_framework.permissions import BasePermission


class IsPerson(BasePermission):
    """The API's default: any signed-in person. A service account (an AVL feed's token) is
    admitted only where a view names its role, so a leaked feed token reads nothing."""

    message = "Service accounts may use only their feed's endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role != "service")


def role_permission(*roles: str) -> type[BasePermission]:
    """A DRF permission class admitting active users with one of ``roles`` (admins always)."""

    class HasRole(BasePermission):
        message = "Your role does not give access to this."

        def has_permission(self, request: Any, view: Any) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_role(*roles))

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
