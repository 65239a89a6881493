"""Analysts' pages for hand-drawn hot spots: known trouble spots the Gi* run did not find,
drawn on django-leaflet's map widget and saved through ``hotspot_hand_drawn_save`` (the shape
checked, the hot spot joining the active analysis flagged as hand-drawn, an audit row written).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from backend.accounts.mapforms import (
    PolygonField,
    PolygonMapWidget,
    form_save_through,
    map_widgets_nonce,
)
from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import analysis_run_active
from backend.hotspots.services import hotspot_hand_drawn_save

DRAW_ROLES = (Role.ANALYST,)  # admins too (User.has_role)


class HandDrawnForm(forms.ModelForm):
    geometry = PolygonField(
        what="The hot spot", label="Shape", widget=PolygonMapWidget(geom_type="POLYGON")
    )

    class Meta:
        model = Hotspot
        fields = ["note", "geometry"]
        labels = {"note": "Note (why here)"}
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}


def _hand_drawn_active() -> list[Hotspot]:
    run = analysis_run_active()
    if run is None:
        return []
    return list(run.hotspots.filter(hand_drawn=True).select_related("district").order_by("rank"))


@role_required(*DRAW_ROLES)
def hand_drawn_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "hotspots/hand_drawn_list.html",
        {"active": analysis_run_active(), "hotspots": _hand_drawn_active()},
    )


def _page(request: HttpRequest, hotspot: Hotspot | None) -> HttpResponse:
    form = HandDrawnForm(request.POST or None, instance=hotspot)
    if request.method == "POST":
        saved = form_save_through(
            form, lambda h: hotspot_hand_drawn_save(hotspot=h, actor=request.user)
        )
        if saved is not None:
            messages.success(request, f"Hand-drawn hot spot {saved.rank} saved.")
            return redirect("hotspots:hand-drawn")
    return render(
        request,
        "hotspots/hand_drawn_form.html",
        {
            "form": map_widgets_nonce(form, request),
            "obj": hotspot,
            "active": analysis_run_active(),
        },
    )


@role_required(*DRAW_ROLES)
def hand_drawn_new(request: HttpRequest) -> HttpResponse:
    return _page(request, None)


@role_required(*DRAW_ROLES)
def hand_drawn_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the active analysis's hand-drawn hot spots: past analyses stay as they were."""
    return _page(request, get_object_or_404(Hotspot, pk=pk, hand_drawn=True, run__is_active=True))
