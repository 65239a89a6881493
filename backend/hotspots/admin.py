from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from backend.accounts.mapforms import MapAdminMixin, PolygonField
from backend.hotspots.models import (
    AnalysisRun,
    HandDrawnHotspot,
    HarmWeight,
    HarmWeightVersion,
    Hotspot,
    Incident,
    IncidentImport,
    OffenceType,
)
from backend.hotspots.services import hotspot_hand_drawn_save


@admin.register(OffenceType)
class OffenceTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "group"]
    list_filter = ["group"]
    search_fields = ["code", "name"]


class HarmWeightInline(admin.TabularInline):
    model = HarmWeight
    extra = 0


@admin.register(HarmWeightVersion)
class HarmWeightVersionAdmin(admin.ModelAdmin):
    list_display = ["number", "is_default_table", "created_at", "created_by", "note"]
    inlines = [HarmWeightInline]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["source", "source_id", "occurred_at", "offence", "district"]
    list_filter = ["offence__group", "district", "source"]
    search_fields = ["source_id"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["imported_by"]
    list_select_related = ["offence", "district"]


@admin.register(IncidentImport)
class IncidentImportAdmin(admin.ModelAdmin):
    list_display = ["file_name", "source", "status", "imported", "duplicates", "rejected"]
    list_filter = ["status", "source"]


class HotspotInline(admin.TabularInline):
    model = Hotspot
    extra = 0
    fields = readonly_fields = ("rank", "district", "harm", "incident_count", "gi_z_max")


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

    def clean(self) -> dict[str, Any] | None:
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
