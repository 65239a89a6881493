"""Reads of users, squads and districts, scoped by the caller's role."""

from __future__ import annotations

from django.db.models import QuerySet
from shapely.geometry import shape

from backend.accounts.models import Beat, District, Role, Squad, User
from backend.gis.layers import Layer


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


DISTRICT_FIELDS = ["district_id", "name", "code"]
BEAT_FIELDS = ["beat_id", "name", "code", "district"]


def districts_layer() -> Layer:
    """Every district's boundary as a GIS layer (``backend.gis``)."""
    return Layer(
        name="districts",
        fields=DISTRICT_FIELDS,
        features=[
            (shape(d.boundary), {"district_id": d.pk, "name": d.name, "code": d.code})
            for d in District.objects.order_by("name")
        ],
    )


def beats_layer() -> Layer:
    """Every beat's boundary as a GIS layer, with its district's name."""
    return Layer(
        name="beats",
        fields=BEAT_FIELDS,
        features=[
            (
                shape(b.boundary),
                {"beat_id": b.pk, "name": b.name, "code": b.code, "district": b.district.name},
            )
            for b in Beat.objects.select_related("district").order_by("district__name", "name")
        ],
    )
