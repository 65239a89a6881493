from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.functional import cached_property

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


class EstimatedCountPaginator(Paginator):
    """Pages of a table too big to count: on PostgreSQL the number of rows is the planner's
    estimate (``EXPLAIN``, no scan) once that estimate passes ``EXACT_COUNT_BELOW``; smaller
    results, and SQLite, are counted exactly."""

    EXACT_COUNT_BELOW = 10_000

    @cached_property
    def count(self) -> int:
        query = getattr(self.object_list, "query", None)
        if connection.vendor == "postgresql" and query is not None:
            sql, params = query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
                estimate = int(cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
            if estimate >= self.EXACT_COUNT_BELOW:
                return estimate
        return super().count


@admin.register(Ping)
class PingAdmin(AuditedLocationAdmin):
    """Raw pings: filter by day (a date range prunes the partitions); no date hierarchy (it
    reads every row's date) and no exact count of the whole table."""

    list_display = ["pk", "officer", "unit", "recorded_at", "lat", "lon", "accuracy_m"]
    raw_id_fields = ["officer", "unit", "session"]
    list_filter = [("recorded_at", admin.DateFieldListFilter)]
    paginator = EstimatedCountPaginator
    show_full_result_count = False


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
