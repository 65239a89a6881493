"""Analysts' pages for district and beat boundaries, drawn on django-leaflet's map widget.

Every save goes through ``district_save`` / ``beat_save``: the shape is checked (a valid polygon
inside the agency area, with a message at the field when it is not) and an audit row written.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from backend.accounts.mapforms import (
    BeatMapForm,
    BeatPrefillForm,
    DistrictMapForm,
    form_save_through,
    map_widgets_nonce,
)
from backend.accounts.models import Beat, District, Role
from backend.accounts.permissions import role_required
from backend.accounts.services import beat_save, district_save

DRAW_ROLES = (Role.ANALYST,)  # admins too (User.has_role)


@role_required(*DRAW_ROLES)
def boundaries(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "accounts/boundaries.html",
        {"districts": District.objects.prefetch_related("beats").order_by("name")},
    )


def _district_page(request: HttpRequest, district: District | None) -> HttpResponse:
    form = DistrictMapForm(request.POST or None, instance=district)
    if request.method == "POST":
        saved = form_save_through(form, lambda d: district_save(district=d, actor=request.user))
        if saved is not None:
            messages.success(request, f"District {saved.name} saved.")
            return redirect("boundaries")
    return render(
        request,
        "accounts/boundary_form.html",
        {"form": map_widgets_nonce(form, request), "kind": "district", "obj": district},
    )


def _beat_page(request: HttpRequest, beat: Beat | None) -> HttpResponse:
    initial = None
    if beat is None:
        prefill = BeatPrefillForm(request.GET)
        if prefill.is_valid() and prefill.cleaned_data["district"] is not None:
            initial = {"district": prefill.cleaned_data["district"].pk}
    form = BeatMapForm(request.POST or None, instance=beat, initial=initial)
    if request.method == "POST":
        saved = form_save_through(form, lambda b: beat_save(beat=b, actor=request.user))
        if saved is not None:
            messages.success(request, f"Beat {saved.name} saved.")
            return redirect("boundaries")
    return render(
        request,
        "accounts/boundary_form.html",
        {"form": map_widgets_nonce(form, request), "kind": "beat", "obj": beat},
    )


@role_required(*DRAW_ROLES)
def district_new(request: HttpRequest) -> HttpResponse:
    return _district_page(request, None)


@role_required(*DRAW_ROLES)
def district_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _district_page(request, get_object_or_404(District, pk=pk))


@role_required(*DRAW_ROLES)
def beat_new(request: HttpRequest) -> HttpResponse:
    return _beat_page(request, None)


@role_required(*DRAW_ROLES)
def beat_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _beat_page(request, get_object_or_404(Beat, pk=pk))
