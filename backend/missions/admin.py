from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from backend.missions.models import Allocation, Experiment, ExperimentStatus, Mission, MissionType


@admin.register(MissionType)
class MissionTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "target_minutes", "is_active"]


class AllocationInline(admin.TabularInline):
    model = Allocation
    extra = 0
    raw_id_fields = ["hotspot"]

    # An allocation is locked once its experiment has started.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status == ExperimentStatus.DRAFT

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status == ExperimentStatus.DRAFT

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None or obj.status == ExperimentStatus.DRAFT


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "design", "status", "starts_on", "ends_on", "seed"]
    list_filter = ["design", "status"]
    inlines = [AllocationInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and obj.status != ExperimentStatus.DRAFT:
            return ["design", "seed", "run", "starts_on", "status", "started_at"]
        return []


@admin.register(Mission)
class MissionAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "hotspot", "window_start", "window_end", "status"]
    list_filter = ["status", "squad"]
    raw_id_fields = ["hotspot", "officer", "experiment"]
    date_hierarchy = "window_start"
