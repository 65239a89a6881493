from django.contrib import admin

from backend.patrols.models import Activity, ActivityType, AvlUnit, PatrolSession, Ping, Visit


@admin.register(PatrolSession)
class PatrolSessionAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "started_at", "ended_at"]
    raw_id_fields = ["officer"]


@admin.register(Ping)
class PingAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "unit", "recorded_at", "lat", "lon", "accuracy_m"]
    raw_id_fields = ["officer", "unit", "session"]
    date_hierarchy = "recorded_at"


@admin.register(ActivityType)
class ActivityTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "kind", "recorded_at"]
    raw_id_fields = ["officer", "session", "mission"]


@admin.register(AvlUnit)
class AvlUnitAdmin(admin.ModelAdmin):
    list_display = ["call_sign", "district"]


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "unit", "hotspot", "entered_at", "dwell_s", "mode"]
    list_filter = ["mode", "koper_compliant"]
    raw_id_fields = ["officer", "unit", "hotspot"]
