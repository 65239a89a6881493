"""django-leaflet's map widgets for GeoJSON polygons kept in JSONFields (no spatial database).

Importing this module loads GeoDjango's GDAL and GEOS bindings (django-leaflet's widget is a
GeoDjango widget); settings point them at a system or wheel-bundled library.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest
from leaflet.admin import LeafletAdminWidget

from backend.accounts.maps import polygon_check


class PolygonWidget(LeafletAdminWidget):
    """django-leaflet's admin map widget for a GeoJSON JSONField, tiles and extent read from
    ``settings.LEAFLET_CONFIG`` when it renders."""

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
        return super().get_context(name, value, attrs)  # type: ignore[no-any-return]

    @property
    def media(self) -> forms.Media:
        return super().media + forms.Media(js=["js/map-admin.js"])


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


class MapAdminMixin:
    """Gives the map widgets of the change form the request's CSP nonce (their inline script)."""

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        form = context.get("adminform").form if context.get("adminform") else None
        if form is not None:
            for field in form.fields.values():
                if isinstance(field.widget, PolygonWidget):
                    field.widget.csp_nonce = getattr(request, "csp_nonce", None)
        return super().render_change_form(request, context, *args, **kwargs)  # type: ignore[misc]
