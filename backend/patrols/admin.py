from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from backend.accounts.models import User
from backend.audit.services import audit_record, request_ip
from backend.patrols.models import Activity, ActivityType, AvlUnit, PatrolSession, Ping, Visit


@admin.register(PatrolSession)
class PatrolSessionAdmin(admin.ModelAdmin):
    list_display = ["pk", "officer", "started_at", "ended_at"]
    raw_id_fields = ["officer"]


class AuditedLocationAdmin(admin.ModelAdmin):
    """Officers' location data (pings, activities, visits): read-only, and every page an
    administrator opens is written to the audit log before it renders."""

    audit_action = "track.read.admin"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        filters = request.GET.dict()
        subject = None
        if filters.get("officer__id__exact"):
            subject = User.objects.filter(pk=filters["officer__id__exact"]).first()
        self._audit(
            request, filters={"model": self.model._meta.model_name, **filters}, subject=subject
        )
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        row = self.model._default_manager.filter(pk=object_id).select_related("officer").first()
        name = self.model._meta.model_name or "row"
        self._audit(request, filters={name: object_id}, subject=getattr(row, "officer", None))
        return super().change_view(request, object_id, form_url, extra_context)

    def _audit(self, request: HttpRequest, *, filters: dict[str, str], subject: Any) -> None:
        actor = request.user
        if not isinstance(actor, User):  # the admin site admits only signed-in staff
            raise PermissionDenied
        audit_record(
            actor=actor,
            action=self.audit_action,
            obj=actor,
            subject=subject,
            after={"filters": filters},
            ip=request_ip(request),
        )


@admin.register(Ping)
class PingAdmin(AuditedLocationAdmin):
    list_display = ["pk", "officer", "unit", "recorded_at", "lat", "lon", "accuracy_m"]
    raw_id_fields = ["officer", "unit", "session"]
    date_hierarchy = "recorded_at"


@admin.register(ActivityType)
class ActivityTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "is_active"]


@admin.register(Activity)
class ActivityAdmin(AuditedLocationAdmin):
    list_display = ["pk", "officer", "kind", "recorded_at"]
    raw_id_fields = ["officer", "session", "mission"]


@admin.register(AvlUnit)
class AvlUnitAdmin(admin.ModelAdmin):
    list_display = ["call_sign", "district"]


@admin.register(Visit)
class VisitAdmin(AuditedLocationAdmin):
    list_display = ["pk", "officer", "unit", "hotspot", "entered_at", "dwell_s", "mode"]
    list_filter = ["mode", "koper_compliant"]
    raw_id_fields = ["officer", "unit", "hotspot"]
