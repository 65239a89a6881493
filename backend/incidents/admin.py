from django.contrib import admin

from backend.incidents.models import (
    HarmWeight,
    HarmWeightVersion,
    Incident,
    IncidentImport,
    OffenceType,
)


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
