from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from backend.audit.services import audit_record
from backend.missions.models import (
    Allocation,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionType,
    ShiftPlan,
)

INLINE_ALLOCATION_LIMIT = 500  # a place-day allocation has a row per hot spot per day


@admin.register(MissionType)
class MissionTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "target_minutes", "is_active"]

    def save_model(self, request: HttpRequest, obj: MissionType, form: Any, change: bool) -> None:
        before = (
            dict(MissionType.objects.filter(pk=obj.pk).values(*form.changed_data).first() or {})
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,
            action="mission_type.update" if change else "mission_type.create",
            obj=obj,
            before=before,
            after={f: getattr(obj, f) for f in form.changed_data},
        )


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
    # State changes (randomize, start, end) go through the pages and API, which audit them.
    always_readonly = ["seed", "status", "randomized_at", "started_at", "ended_at", "allocation"]

    @admin.display(description="Allocation")
    def allocation(self, obj: Experiment) -> str:
        if obj.pk is None:
            return "-"
        return format_html(
            '{} rows: <a href="{}">see the allocation, balance and map</a>',
            obj.allocations.count(),
            reverse("missions:experiment", args=[obj.pk]),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is not None and obj.status != ExperimentStatus.DRAFT:
            return [f.name for f in Experiment._meta.concrete_fields if f.name != "id"] + [
                "allocation"
            ]
        return self.always_readonly

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if obj is not None and obj.allocations.count() > INLINE_ALLOCATION_LIMIT:
            return []
        return self.inlines

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a started experiment would delete the record of its allocation.
        return obj is None or obj.status == ExperimentStatus.DRAFT


@admin.register(ShiftPlan)
class ShiftPlanAdmin(admin.ModelAdmin):
    list_display = ["squad", "day", "seed", "created_by", "created_at"]
    list_filter = ["squad"]
    date_hierarchy = "day"

    # Read-only: plans are made by the board, which audits them.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Mission)
class MissionAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "hotspot", "window_start", "window_end", "status", "source"]
    list_filter = ["status", "source", "squad"]
    raw_id_fields = ["hotspot", "officer", "experiment", "plan"]
    date_hierarchy = "window_start"

    # Read-only: every mission change is a transition that the services check and audit.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
