from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.accounts.mapforms import MapAdminMixin, PolygonField
from backend.hotspots.models import AnalysisRun, HandDrawnHotspot, Hotspot
from backend.hotspots.services import hotspot_hand_drawn_save


class HotspotInline(admin.TabularInline):
    model = Hotspot
    extra = 0
    fields = ["rank", "district", "harm", "incident_count", "gi_z_max"]
    readonly_fields = fields


@admin.register(AnalysisRun)
class AnalysisRunAdmin(admin.ModelAdmin):
    list_display = ["pk", "as_of", "lookback_days", "cell_size_m", "top_k", "district", "is_active"]
    list_filter = ["is_active", "district"]
    inlines = [HotspotInline]


class HandDrawnHotspotForm(forms.ModelForm):
    geometry = PolygonField(what="The hot spot", geom_type="POLYGON")

    class Meta:
        model = HandDrawnHotspot
        fields = ["geometry", "note"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.instance.pk and not AnalysisRun.objects.filter(is_active=True).exists():
            raise forms.ValidationError(
                "There is no published analysis: publish one before drawing hot spots by hand."
            )
        return cleaned


@admin.register(HandDrawnHotspot)
class HandDrawnHotspotAdmin(MapAdminMixin, admin.ModelAdmin):
    """An analyst's known trouble spot, drawn on django-leaflet's map; it joins the active
    analysis ranked after the computed hot spots and is flagged as hand-drawn everywhere."""

    form = HandDrawnHotspotForm
    list_display = ["__str__", "rank", "district", "note", "run"]
    list_filter = ["run__is_active", "district"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[HandDrawnHotspot]:
        return super().get_queryset(request).filter(hand_drawn=True)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        hotspot_hand_drawn_save(hotspot=obj, actor=request.user)


@admin.register(Hotspot)
class HotspotAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "rank",
        "district",
        "harm",
        "incident_count",
        "gi_z_max",
        "hand_drawn",
    ]
    list_filter = ["run__is_active", "district"]
