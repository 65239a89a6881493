from django.contrib import admin

from backend.reports.models import ComplianceDay, DailySnapshot


@admin.register(ComplianceDay)
class ComplianceDayAdmin(admin.ModelAdmin):
    list_display = ["hotspot", "day", "prescribed_visits", "delivered_visits", "koper_visits"]
    raw_id_fields = ["hotspot"]


@admin.register(DailySnapshot)
class DailySnapshotAdmin(admin.ModelAdmin):
    list_display = ["day", "incidents", "harm", "incidents_in_hotspots", "computed_at"]
