"""Reports API: daily snapshots, compliance (computed and stored), recompute jobs, the
officer's own dose and streaks, and the squad's live presence. Every list is role-scoped in
its query; officers reach only their own figures (``compliance/me``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.audit.services import request_ip
from backend.config.api import AgencyDayField, drf_validation_error
from backend.reports.compliance import COLUMNS, MAX_REPORT_DAYS, REPORT_GROUPINGS
from backend.reports.enqueue import compliance_recompute_request
from backend.reports.models import ComplianceDay, ComplianceRecompute, DailySnapshot, Scope
from backend.reports.presence import presence_live
from backend.reports.selectors import (
    COMPLIANCE_VIEW_ROLES,
    LIVE_ROLES,
    RECOMPUTE_ROLES,
    compliance_days,
    compliance_for_officer,
    compliance_report,
    compliance_sentence,
    recompute_jobs,
    snapshot_list,
    squads_visible_to,
    streaks_for,
)

FIELD_ROLES = (Role.OFFICER, Role.SERGEANT)  # roles with their own patrol dose
MAX_LIMIT = 1000  # rows per response; ``offset`` pages through the rest


class SnapshotOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailySnapshot
        fields = [
            "day",
            "incidents",
            "harm",
            "incidents_in_hotspots",
            "harm_in_hotspots",
            "by_district",
            "by_group",
            "notable",
            "weights_version",
            "computed_at",
        ]


class SnapshotListApi(generics.ListAPIView):
    """Daily snapshots, newest first (supervisors and analysts)."""

    serializer_class = SnapshotOutputSerializer
    permission_classes = [role_permission(Role.SUPERVISOR, Role.ANALYST)]

    def get_queryset(self) -> Any:
        return snapshot_list()


class SnapshotDetailApi(generics.RetrieveAPIView):
    """One day's snapshot by its ISO date."""

    serializer_class = SnapshotOutputSerializer
    permission_classes = [role_permission(Role.SUPERVISOR, Role.ANALYST)]
    lookup_field = "day"

    def get_queryset(self) -> Any:
        return snapshot_list()


# ---------------------------------------------------------------------------------------------
# Compliance


class RangeInputSerializer(serializers.Serializer):
    """A bounded range of agency-local days, and a page of rows."""

    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=200)
    offset = serializers.IntegerField(min_value=0, max_value=10_000_000, default=0)

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        # "from" is a Python keyword: declared here by name.
        fields["from"] = AgencyDayField()
        fields["to"] = AgencyDayField()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs["from"], attrs["to"]
        if last < first:
            raise serializers.ValidationError({"to": "The last day is before the first day."})
        if (last - first).days + 1 > MAX_REPORT_DAYS:
            raise serializers.ValidationError({"to": f"At most {MAX_REPORT_DAYS} days at once."})
        if last > timezone.localdate():
            raise serializers.ValidationError({"to": "Today or an earlier day."})
        return attrs


def _metric_fields() -> dict[str, serializers.Field]:
    out: dict[str, serializers.Field] = {}
    for c in COLUMNS:
        if c == "pct_delivered":
            out[c] = serializers.FloatField(allow_null=True)
        elif c.endswith("visits"):
            out[c] = serializers.IntegerField()
        else:
            out[c] = serializers.FloatField()
    return out


class ComplianceRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The group's id (hot spot, officer, squad) or name.")
    # A field named like Field.label: the serializer's metaclass moves it out of the class.
    label = serializers.CharField()  # type: ignore[assignment]
    streak_current = serializers.IntegerField(allow_null=True, required=False)
    streak_longest = serializers.IntegerField(allow_null=True, required=False)

    def get_fields(self) -> dict[str, Any]:
        return {**super().get_fields(), **_metric_fields()}


class ComplianceTotalsSerializer(serializers.Serializer):
    def get_fields(self) -> dict[str, Any]:
        return _metric_fields()


class ComplianceApi(APIView):
    """Compliance of a range grouped ``by`` hot spot, officer, squad, shift, district or arm.

    Hot spot groupings are everyone's dose; a sergeant's officer groupings hold only their
    squads' officers. Streaks (consecutive days with the prescription met) come with the
    officer and squad groupings. At most ``limit`` rows from ``offset``; ``count`` is all.
    """

    permission_classes = [role_permission(*COMPLIANCE_VIEW_ROLES)]

    class ComplianceInputSerializer(RangeInputSerializer):
        by = serializers.ChoiceField(choices=list(REPORT_GROUPINGS), default="hotspot")

    class ComplianceOutputSerializer(serializers.Serializer):
        first = serializers.DateField()
        last = serializers.DateField()
        by = serializers.CharField()
        sentence = serializers.CharField()
        count = serializers.IntegerField()
        limit = serializers.IntegerField()
        offset = serializers.IntegerField()
        totals = ComplianceTotalsSerializer()
        results = ComplianceRowSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", date, required=True),
            OpenApiParameter("to", date, required=True),
            OpenApiParameter("by", str, enum=list(REPORT_GROUPINGS)),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=ComplianceOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        data = self.ComplianceInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        result = compliance_report(viewer=request.user, first=v["from"], last=v["to"], by=v["by"])
        rows = result.rows()
        streaks = None
        if result.by in ("officer", "squad"):
            scope = Scope.OFFICER if result.by == "officer" else Scope.SQUAD
            streaks = streaks_for(scope=scope, ids=[k for k in result.id_keys() if k])
        page = rows[v["offset"] : v["offset"] + v["limit"]]
        for row in page:
            s = streaks.get(row["key"]) if streaks is not None else None
            row["streak_current"] = s.current if s else None
            row["streak_longest"] = s.longest if s else None
        totals = result.totals()
        return Response(
            self.ComplianceOutputSerializer(
                {
                    "first": result.first,
                    "last": result.last,
                    "by": result.by,
                    "sentence": compliance_sentence(
                        first=result.first, last=result.last, totals=totals
                    ),
                    "count": len(rows),
                    "limit": v["limit"],
                    "offset": v["offset"],
                    "totals": totals,
                    "results": page,
                }
            ).data
        )


class ComplianceDaysApi(APIView):
    """The stored daily rows (hot spot, officer, squad) of a range, oldest day first, as the
    Celery jobs left them (``computed_at`` says when)."""

    permission_classes = [role_permission(*COMPLIANCE_VIEW_ROLES)]

    class DaysInputSerializer(RangeInputSerializer):
        scope = serializers.ChoiceField(choices=Scope.choices, required=False)

    class DayRowSerializer(serializers.ModelSerializer):
        class Meta:
            model = ComplianceDay
            fields = [
                "day",
                "scope",
                "hotspot",
                "officer",
                "squad",
                "arm",
                "prescribed_visits",
                "delivered_visits",
                "on_target_visits",
                "koper_visits",
                "prescribed_minutes",
                "delivered_minutes",
                "officer_minutes",
                "patrol_minutes",
                "avl_minutes",
                "contamination_minutes",
                "gap_minutes",
                "computed_at",
            ]

    class DaysOutputSerializer(serializers.Serializer):
        count = serializers.IntegerField()
        limit = serializers.IntegerField()
        offset = serializers.IntegerField()
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[
            OpenApiParameter("from", date, required=True),
            OpenApiParameter("to", date, required=True),
            OpenApiParameter("scope", str, enum=[s for s, _ in Scope.choices]),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=DaysOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        data = self.DaysInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        rows = compliance_days(
            viewer=request.user, first=v["from"], last=v["to"], scope=v.get("scope")
        )
        page = rows[v["offset"] : v["offset"] + v["limit"]]
        return Response(
            {
                "count": rows.count(),
                "limit": v["limit"],
                "offset": v["offset"],
                "results": self.DayRowSerializer(page, many=True).data,
            }
        )


class RecomputeOutputSerializer(serializers.ModelSerializer):
    status = serializers.CharField(help_text="queued, running, done or failed")
    days_total = serializers.IntegerField(read_only=True)
    percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ComplianceRecompute
        fields = [
            "id",
            "first_day",
            "last_day",
            "status",
            "days_done",
            "days_total",
            "percent",
            "error",
            "created_at",
            "finished_at",
        ]


class ComplianceRecomputeApi(APIView):
    """Recompute the stored daily rows of a range (a Celery job); poll its status."""

    permission_classes = [role_permission(*RECOMPUTE_ROLES)]

    class RecomputeInputSerializer(serializers.Serializer):
        first_day = AgencyDayField()
        last_day = AgencyDayField()

    @extend_schema(request=RecomputeInputSerializer, responses={202: RecomputeOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.RecomputeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["last_day"] > timezone.localdate():
            raise drf_validation_error(
                DjangoValidationError({"last_day": "Today or an earlier day."})
            )
        try:
            job = compliance_recompute_request(
                first=v["first_day"], last=v["last_day"], actor=request.user
            )
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(RecomputeOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ComplianceRecomputeStatusApi(generics.RetrieveAPIView):
    """A recompute job's status and progress (``percent`` of its days done)."""

    serializer_class = RecomputeOutputSerializer
    permission_classes = [role_permission(*RECOMPUTE_ROLES)]

    def get_queryset(self) -> Any:
        return recompute_jobs()


class MyDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    prescribed_visits = serializers.IntegerField()
    delivered_visits = serializers.IntegerField()
    prescribed_minutes = serializers.FloatField()
    delivered_minutes = serializers.FloatField()
    koper_visits = serializers.IntegerField()
    met = serializers.BooleanField(allow_null=True)


class StreakSerializer(serializers.Serializer):
    current = serializers.IntegerField()
    longest = serializers.IntegerField()


class ComplianceMeApi(APIView):
    """Your own dose: today's visits and minutes against the prescription, Koper visits, the
    last 14 days, and your streaks (consecutive days with the prescription met; days with
    nothing prescribed are skipped; today counts once it is met)."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    class MyComplianceOutputSerializer(serializers.Serializer):
        today = MyDaySerializer()
        days = MyDaySerializer(many=True)
        streak = StreakSerializer()
        squad = serializers.CharField(allow_null=True, source="squad_name")
        squad_streak = StreakSerializer(allow_null=True)

    @extend_schema(responses=MyComplianceOutputSerializer)
    def get(self, request: Request) -> Response:
        me = compliance_for_officer(officer=request.user)
        return Response(self.MyComplianceOutputSerializer(me).data)


class LiveOfficerSerializer(serializers.Serializer):
    """An officer on patrol: last position (WGS84), the hot spot they are in and since when."""

    id = serializers.IntegerField(source="officer_id")
    name = serializers.CharField()
    badge = serializers.CharField()
    session_started_at = serializers.DateTimeField()
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    accuracy_m = serializers.FloatField(allow_null=True)
    recorded_at = serializers.DateTimeField(allow_null=True)
    hotspot = serializers.IntegerField(source="hotspot_id", allow_null=True)
    hotspot_rank = serializers.IntegerField(allow_null=True)
    hotspot_address = serializers.CharField()
    in_hotspot_since = serializers.DateTimeField(allow_null=True)
    minutes_in_hotspot = serializers.FloatField(allow_null=True)


@method_decorator(never_cache, name="dispatch")  # positions: never stored by a cache
class PresenceLiveApi(APIView):
    """Officers of a squad on patrol now, where they last were, which hot spot they are in
    and for how long; the district's hot spots coloured by today's dose. Sergeants: their
    squads; supervisors: any. Each officer shown is an audited read of their location."""

    permission_classes = [role_permission(*LIVE_ROLES)]

    class PresenceInputSerializer(serializers.Serializer):
        squad = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)

    class PresenceOutputSerializer(serializers.Serializer):
        squad = serializers.IntegerField(source="squad.pk")
        squad_name = serializers.CharField(source="squad.name")
        generated_at = serializers.DateTimeField()
        officers = LiveOfficerSerializer(many=True)
        hotspots = serializers.DictField(
            help_text="GeoJSON FeatureCollection: rank, arm, "
            "prescribed, delivered, state (done|partly|none|control)"
        )

    @extend_schema(
        parameters=[OpenApiParameter("squad", int, description="Default: your first squad.")],
        responses={
            200: PresenceOutputSerializer,
            404: OpenApiResponse(description="No squad with this id that you may see."),
        },
    )
    def get(self, request: Request) -> Response:
        data = self.PresenceInputSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        squads = squads_visible_to(viewer=request.user)
        sid = data.validated_data.get("squad")
        squad = get_object_or_404(squads, pk=sid) if sid else squads.first()
        if squad is None:
            raise PermissionDenied("You lead no squad.")
        try:
            live = presence_live(viewer=request.user, squad=squad, ip=request_ip(request))
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(
            self.PresenceOutputSerializer(
                {
                    "squad": live.squad,
                    "generated_at": live.generated_at,
                    "officers": live.officers,
                    "hotspots": {"type": "FeatureCollection", "features": live.hotspots},
                }
            ).data
        )
