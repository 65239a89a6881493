"""django-leaflet's map widgets for GeoJSON polygons kept in JSONFields (no spatial database).

Importing this module loads GeoDjango's GDAL and GEOS bindings (django-leaflet's widget is a
GeoDjango widget); settings point them at a system or wheel-bundled library.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from leaflet.admin import LeafletAdminWidget
from leaflet.forms.widgets import LeafletWidget

from backend.accounts.maps import polygon_check
from backend.accounts.models import Beat, District

M = TypeVar("M")


class _PolygonMap(forms.Widget):
    """Tiles, centre and extent of a polygon map widget, read from ``settings.LEAFLET_CONFIG``
    when it renders; a GeoJSON dict (a JSONField's value) serialized for the widget."""

    def __init__(self, geom_type: str = "POLYGON", attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"geom_type": geom_type, **(attrs or {})})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        cfg = settings.LEAFLET_CONFIG
        self.settings_overrides = {
            "TILES": cfg.get("TILES", []),
            "DEFAULT_CENTER": cfg.get("DEFAULT_CENTER"),
            "DEFAULT_ZOOM": cfg.get("DEFAULT_ZOOM"),
            "SPATIAL_EXTENT": cfg.get("SPATIAL_EXTENT"),
        }
        if isinstance(value, dict):
            value = json.dumps(value)
        return super().get_context(name, value, attrs)


# django-leaflet ships no type hints, so its widgets are Any to mypy (the two ignores below).
class PolygonWidget(_PolygonMap, LeafletAdminWidget):  # type: ignore[misc]
    """django-leaflet's admin map widget for a GeoJSON JSONField (the admin's change forms)."""

    @property
    def media(self) -> forms.Media:
        base: forms.Media = super().media
        return base + forms.Media(js=["js/map-admin.js"])


class PolygonMapWidget(_PolygonMap, LeafletWidget):  # type: ignore[misc]
    """django-leaflet's (non-admin) map widget for the analysts' pages: it brings Leaflet,
    Leaflet.draw and django-leaflet's form script itself, so a page using it must not include
    ``maps/leaflet_js.html`` too. Its inline script needs the request's CSP nonce:
    :func:`map_widgets_nonce`."""

    include_media = True

    @property
    def media(self) -> forms.Media:
        base: forms.Media = super().media
        return base + forms.Media(js=["js/map-admin.js"])


def map_widgets_nonce(form: forms.BaseForm, request: HttpRequest) -> forms.BaseForm:
    """Give ``form``'s map widgets the request's CSP nonce (django-leaflet's widget emits an
    inline script, refused by the CSP without it); returns the form."""
    nonce = getattr(request, "csp_nonce", None)
    for field in form.fields.values():
        if isinstance(field.widget, LeafletWidget):
            field.widget.csp_nonce = nonce
    return form


class PolygonField(forms.Field):
    """A drawn polygon, stored as a GeoJSON dict; refused unless :func:`polygon_check` passes."""

    def __init__(self, *, what: str = "The shape", geom_type: str = "POLYGON", **kwargs: Any):
        self.what = what
        kwargs.setdefault("widget", PolygonWidget(geom_type=geom_type))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value

    def to_python(self, value: Any) -> dict[str, Any] | None:
        if value in (None, "", {}):
            return None
        geojson, _geom = polygon_check(value, what=self.what)
        return geojson


# The mixin goes before ModelAdmin in an admin's bases; mypy sees it as the ModelAdmin it extends.
if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class MapAdminMixin(_AdminBase):
    """Gives the map widgets of the change form the request's CSP nonce (their inline script)."""

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        adminform = context.get("adminform")
        if adminform is not None:
            map_widgets_nonce(adminform.form, request)
        return super().render_change_form(request, context, *args, **kwargs)


class DistrictMapForm(forms.ModelForm):
    """An analyst's page: a district's name, code and boundary drawn on the map."""

    boundary = PolygonField(
        what="The district boundary", widget=PolygonMapWidget(geom_type="MULTIPOLYGON")
    )

    class Meta:
        model = District
        fields = ["name", "code", "boundary"]


class BeatMapForm(forms.ModelForm):
    """An analyst's page: a beat's district, name, code and boundary drawn on the map."""

    boundary = PolygonField(
        what="The beat boundary", widget=PolygonMapWidget(geom_type="MULTIPOLYGON")
    )

    class Meta:
        model = Beat
        fields = ["district", "name", "code", "boundary"]


class BeatPrefillForm(forms.Form):
    """``?district=`` on "New beat": the district the new beat's form starts with (a stale or
    unknown id starts it empty)."""

    district = forms.ModelChoiceField(queryset=District.objects.all(), required=False)


def form_save_through(form: forms.ModelForm, save: Callable[[Any], M]) -> M | None:
    """Save a valid model form through a service (which checks the shape again and writes the
    audit row); its ValidationError goes on the form (at the field it names). None if refused."""
    if not form.is_valid():
        return None
    try:
        return save(form.save(commit=False))
    except ValidationError as exc:
        form.add_error(None, exc)
        return None
