from django.contrib import admin

from backend.workload.models import CallRecord, RosterShift, WorkloadImport, WorkloadMatrix


@admin.register(WorkloadImport)
class WorkloadImportAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "kind",
        "district",
        "file_name",
        "rows",
        "imported",
        "duplicates",
        "uploaded_by",
        "created_at",
    )
    list_filter = ("kind",)
    readonly_fields = ("client_uuid", "file_sha256", "created_at")


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin):
    list_display = (
        "call_id",
        "unit",
        "call_district",
        "unit_district",
        "en_route_at",
        "cleared_at",
        "self_initiated",
    )
    list_filter = ("self_initiated", "call_district")
    search_fields = ("call_id", "unit")


@admin.register(RosterShift)
class RosterShiftAdmin(admin.ModelAdmin):
    list_display = ("unit", "district", "start_at", "end_at", "meal_minutes", "court_minutes")
    list_filter = ("district",)
    search_fields = ("unit",)


@admin.register(WorkloadMatrix)
class WorkloadMatrixAdmin(admin.ModelAdmin):
    list_display = ("kind", "district", "source_import", "updated_at")
