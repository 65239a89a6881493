"""Reads of users, squads and districts, scoped by the caller's role."""

from __future__ import annotations

from django.db.models import QuerySet

from backend.accounts.models import District, Role, Squad, User


def district_list() -> QuerySet[District]:
    return District.objects.order_by("name")


def squad_list_for(*, user: User) -> QuerySet[Squad]:
    """Squads ``user`` may see: an officer or sergeant their own, everyone else all of them."""
    squads = Squad.objects.select_related("district", "sergeant").order_by("name")
    if user.role == Role.OFFICER:
        return squads.filter(pk=user.squad_id) if user.squad_id else squads.none()
    if user.role == Role.SERGEANT:
        return squads.filter(sergeant=user)
    return squads


def user_list_for(*, user: User) -> QuerySet[User]:
    """Users ``user`` may see: an officer only themself; a sergeant their squads' members."""
    users = User.objects.select_related("squad").filter(is_active=True).order_by("username")
    if user.role == Role.OFFICER:
        return users.filter(pk=user.pk)
    if user.role == Role.SERGEANT:
        return users.filter(squad__sergeant=user) | users.filter(pk=user.pk)
    return users
