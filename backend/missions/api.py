"""Missions API: the officer's draw and transitions, lists scoped by role, hand assignment, shift
schedules and the board, the Mission Menu, experiments (create, randomize, start, export).

Status codes: 201 a new mission or plan, 200 a replay (same client UUID, or a transition already
made), 400 invalid input, 403 a role or person who may not do this, 404 not visible to you, 409
a state that forbids it (an illegal transition, a started experiment's allocation).
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import api_user, role_permission
from backend.analytics.randomization import BalanceRow, BalanceTable
from backend.config.api import MAX_LAT, AgencyDayField, drf_validation_error
from backend.config.dates import SaneDateTimeSerializerField
from backend.config.localtime import local_day_bounds
from backend.gis.layers import GIS_FILE_RESPONSES, GIS_FORMAT_PARAMETER, layer_response
from backend.missions.models import (
    Blocking,
    DeclineReason,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionStatus,
    MissionType,
    ShiftPlan,
)
from backend.missions.selectors import (
    AllocationSummary,
    MissionDelivery,
    allocation_csv_rows,
    allocation_rows,
    board_missions,
    board_plan,
    experiment_arms_geojson,
    experiment_arms_layer,
    experiment_reproduce,
    experiment_summary,
    experiments_list,
    mission_deliveries,
    missions_visible_to,
    squad_shift_window,
    squads_led_by,
    treatment_sentence,
)
from backend.missions.services import (
    MissionConflict,
    Written,
    experiment_create,
    experiment_end,
    experiment_randomize,
    experiment_start,
    mission_accept,
    mission_arrive,
    mission_assign,
    mission_cancel,
    mission_complete,
    mission_decline,
    mission_draw,
    mission_interrupt,
    shift_plan_generate,
)

FIELD_ROLES = (Role.OFFICER, Role.SERGEANT)  # carry the phone: draw and work missions
MISSION_ROLES = (Role.OFFICER, Role.SERGEANT, Role.SUPERVISOR)  # analysts: no missions API
BOARD_ROLES = (Role.SERGEANT, Role.SUPERVISOR)
EXPERIMENT_ROLES = (Role.ANALYST, Role.SUPERVISOR)


def _conflict(exc: MissionConflict) -> Response:
    return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)


def _num(x: float) -> float | None:
    """JSON has no NaN or infinity: they become null."""
    return None if x is None or not math.isfinite(x) else x


class DayQuerySerializer(serializers.Serializer):
    """The optional ``date`` / ``day`` query parameters (YYYY-MM-DD)."""

    date = AgencyDayField(required=False)
    day = AgencyDayField(required=False)


def _query_day(request: Request, name: str) -> date | None:
    if not request.query_params:  # the board's poll: no serializer to build for nothing
        return None
    params = DayQuerySerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    value: date | None = params.validated_data.get(name)
    return value


# ---------------------------------------------------------------------------------------------
# Missions


@functools.lru_cache(maxsize=32)
def _mission_labels(field_name: str, language: str | None) -> dict[Any, str]:
    """The labels of ``Mission.<field_name>``'s choices in ``language`` (the active one, an
    argument so each language is its own entry), translated once per process, not per row."""
    choices = cast(Any, Mission._meta.get_field(field_name)).flatchoices  # a concrete field
    return {value: force_str(label, strings_only=True) for value, label in choices}


def _label(field_name: str, value: Any, language: str | None) -> Any:
    """``Mission.get_<field_name>_display()``: the value's label in the active language, or the
    value itself when it is not a choice."""
    labels = _mission_labels(field_name, language)
    return labels[value] if value in labels else force_str(value, strings_only=True)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _day(value: date | None) -> str | None:
    """DRF's ``DateField`` output: ISO 8601."""
    return None if value is None else value.isoformat()


def _iso(value: datetime | None, tz: tzinfo) -> str | None:
    """DRF's ``DateTimeField`` output: ISO 8601 in the current time zone, "Z" for UTC."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, tz)
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class MissionListSerializer(serializers.ListSerializer):
    """Reads every listed mission's delivery in one query (``selectors.mission_deliveries``)."""

    def to_representation(self, data: Any) -> Any:
        items = list(data.all() if hasattr(data, "all") else data)
        context = cast(dict[str, Any], self.context)
        context["deliveries"] = mission_deliveries(items)
        return super().to_representation(items)


# The columns MissionOutputSerializer reads, for lists that load nothing else: every mission
# column, and of its hot spot, officer and type only what the output shows (not the hot spot's
# cells, 24 x 7 profile and offence counts, nor the officer's password hash and flags).
MISSION_OUTPUT_COLUMNS = (
    *(f.name for f in Mission._meta.concrete_fields),
    "hotspot__rank",
    "hotspot__centroid_lat",
    "hotspot__centroid_lon",
    "hotspot__geometry",
    "hotspot__briefing",
    "hotspot__address",
    "officer__username",
    "officer__first_name",
    "officer__last_name",
    "officer__badge_number",
    "mission_type__name",
)


class MissionOutputSerializer(serializers.ModelSerializer):
    hotspot_rank = serializers.IntegerField(source="hotspot.rank")
    hotspot_lat = serializers.FloatField(source="hotspot.centroid_lat")
    hotspot_lon = serializers.FloatField(source="hotspot.centroid_lon")
    hotspot_geometry = serializers.JSONField(source="hotspot.geometry")
    hotspot_reason = serializers.SerializerMethodField()
    hotspot_address = serializers.CharField(source="hotspot.place")
    hotspot_street_brief = serializers.CharField(source="hotspot.street_brief")
    officer_name = serializers.SerializerMethodField()
    officer_badge = serializers.SerializerMethodField()
    mission_type_name = serializers.CharField(
        source="mission_type.name", allow_null=True, default=None
    )
    # Plain strings: other components already have enums named "status" (drf-spectacular
    # would have to invent names for these).
    status = serializers.CharField(help_text="; ".join(MissionStatus.values))
    status_label = serializers.CharField(source="get_status_display")
    decline_reason = serializers.CharField(help_text="Empty, or " + "; ".join(DeclineReason.values))
    decline_reason_label = serializers.CharField(source="get_decline_reason_display")
    # From selectors.mission_deliveries (GPS dwell), read once per list by MissionListSerializer.
    delivered = serializers.SerializerMethodField(
        help_text="At least target_minutes inside the hot spot (GPS dwell); "
        "never set by completing the mission."
    )
    dwell_minutes = serializers.SerializerMethodField(
        help_text="Whole minutes inside the hot spot during the mission."
    )
    outcome = serializers.SerializerMethodField(
        help_text="open; delivered; short (completed with too little dwell); ended"
    )

    class Meta:
        model = Mission
        fields = [
            "id",
            "client_uuid",
            "status",
            "status_label",
            "source",
            "hotspot",
            "hotspot_rank",
            "hotspot_lat",
            "hotspot_lon",
            "hotspot_geometry",
            "hotspot_reason",
            "hotspot_address",
            "hotspot_street_brief",
            "officer",
            "officer_name",
            "officer_badge",
            "squad",
            "mission_type",
            "mission_type_name",
            "experiment",
            "window_start",
            "window_end",
            "target_minutes",
            "decline_reason",
            "decline_reason_label",
            "status_note",
            "accepted_at",
            "on_scene_at",
            "ended_at",
            "created_at",
            "updated_at",
            "delivered",
            "dwell_minutes",
            "outcome",
        ]
        list_serializer_class = MissionListSerializer

    def to_representation(self, instance: Mission) -> dict[str, Any]:
        """The fields of ``Meta.fields`` built in one pass, exactly as DRF's generic loop would.

        Why: the board (polled every 10 s per sergeant) lists 10-30 missions, and DRF's loop
        spent most of the request on them: per field and mission a dotted ``get_attribute``
        with ``inspect.signature`` on callables, ``get_FIELD_display`` hashing every lazy
        choice label, a time zone lookup per datetime. The declared fields stay the schema's
        source; ``tests/missions/test_board_output.py`` holds this to DRF's own output.
        A subclass with other fields gets DRF's loop."""
        if self.Meta.fields is not MissionOutputSerializer.Meta.fields:
            return super().to_representation(instance)
        m, tz, language = instance, timezone.get_current_timezone(), get_language()
        hotspot, mission_type, delivery = m.hotspot, m.mission_type, self._delivery(m)
        return {
            "id": _int(m.pk),
            "client_uuid": None if m.client_uuid is None else str(m.client_uuid),
            "status": _str(m.status),
            "status_label": _label("status", m.status, language),
            "source": _str(m.source),
            "hotspot": m.hotspot_id,
            "hotspot_rank": _int(hotspot.rank),
            "hotspot_lat": _float(hotspot.centroid_lat),
            "hotspot_lon": _float(hotspot.centroid_lon),
            "hotspot_geometry": hotspot.geometry,
            "hotspot_reason": self.get_hotspot_reason(m),
            "hotspot_address": _str(hotspot.place),
            "hotspot_street_brief": _str(hotspot.street_brief),
            "officer": m.officer_id,
            "officer_name": self.get_officer_name(m),
            "officer_badge": self.get_officer_badge(m),
            "squad": m.squad_id,
            "mission_type": m.mission_type_id,
            "mission_type_name": None if mission_type is None else _str(mission_type.name),
            "experiment": m.experiment_id,
            "window_start": _iso(m.window_start, tz),
            "window_end": _iso(m.window_end, tz),
            "target_minutes": _int(m.target_minutes),
            "decline_reason": _str(m.decline_reason),
            "decline_reason_label": _label("decline_reason", m.decline_reason, language),
            "status_note": _str(m.status_note),
            "accepted_at": _iso(m.accepted_at, tz),
            "on_scene_at": _iso(m.on_scene_at, tz),
            "ended_at": _iso(m.ended_at, tz),
            "created_at": _iso(m.created_at, tz),
            "updated_at": _iso(m.updated_at, tz),
            "delivered": delivery.delivered,
            "dwell_minutes": delivery.dwell_minutes,
            "outcome": delivery.outcome,
        }

    def _delivery(self, obj: Mission) -> MissionDelivery:
        context = cast(dict[str, Any], self.context)
        deliveries: dict[int, MissionDelivery] = context.setdefault("deliveries", {})
        if obj.pk not in deliveries:
            deliveries.update(mission_deliveries([obj]))
        return deliveries[obj.pk]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_delivered(self, obj: Mission) -> bool:
        return self._delivery(obj).delivered

    @extend_schema_field(OpenApiTypes.INT)
    def get_dwell_minutes(self, obj: Mission) -> int:
        return self._delivery(obj).dwell_minutes

    @extend_schema_field(OpenApiTypes.STR)
    def get_outcome(self, obj: Mission) -> str:
        return self._delivery(obj).outcome

    def get_hotspot_reason(self, obj: Mission) -> str:
        return str((obj.hotspot.briefing or {}).get("one_line", ""))

    def get_officer_name(self, obj: Mission) -> str:
        return obj.officer.get_full_name() or obj.officer.username

    def get_officer_badge(self, obj: Mission) -> str:
        return obj.officer.badge_number


class MissionDrawApi(APIView):
    """Draw your next hot spot: a random treated hot spot within reach that is due today,
    weighted by dose deficit; never a control hot spot. The new mission is *assigned*: POST
    ``accept`` next. With no running experiment every active hot spot counts as treated.
    A retry with the same ``client_uuid`` returns the same mission (200)."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    class DrawInputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-MAX_LAT, max_value=MAX_LAT)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        client_uuid = serializers.UUIDField()

    class DrawOutputSerializer(serializers.Serializer):
        mission = MissionOutputSerializer(allow_null=True)
        created = serializers.BooleanField()
        detail = serializers.CharField()
        distance_m = serializers.FloatField(allow_null=True)
        due_in_reach = serializers.IntegerField()
        reach_m = serializers.FloatField()

    @extend_schema(
        request=DrawInputSerializer,
        responses={201: DrawOutputSerializer, 200: DrawOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.DrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = mission_draw(officer=api_user(request), **data.validated_data)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        body = {
            "mission": result.mission,
            "created": result.created,
            "detail": result.detail,
            "distance_m": None if result.distance_m is None else round(result.distance_m, 1),
            "due_in_reach": result.due_in_reach,
            "reach_m": result.reach_m,
        }
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.DrawOutputSerializer(body).data, status=code)


class MissionListApi(generics.ListAPIView):
    """Missions you may see, by window start: an officer their own, a sergeant their squads',
    a supervisor all. Filters: ``day`` (local, YYYY-MM-DD), ``status``, ``squad``, ``officer``."""

    serializer_class = MissionOutputSerializer
    permission_classes = [role_permission(*MISSION_ROLES)]

    @extend_schema(
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, description="Local day of the window."),
            OpenApiParameter("status", str, enum=MissionStatus.values),
            OpenApiParameter("squad", int),
            OpenApiParameter("officer", int),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        missions = missions_visible_to(user=api_user(self.request))
        params = self.request.query_params
        day = _query_day(self.request, "day")
        if day is not None:
            start, end = local_day_bounds(day)
            missions = missions.filter(window_start__gte=start, window_start__lt=end)
        if params.get("status"):
            if params["status"] not in MissionStatus.values:
                raise ValidationError({"status": f"one of {', '.join(MissionStatus.values)}"})
            missions = missions.filter(status=params["status"])
        for key in ("squad", "officer"):
            if params.get(key):
                try:
                    missions = missions.filter(**{f"{key}_id": int(params[key])})
                except ValueError as exc:
                    raise ValidationError({key: "must be an id"}) from exc
        return missions.order_by("window_start", "pk")


class MissionDetailApi(generics.RetrieveAPIView):
    """One mission you may see."""

    serializer_class = MissionOutputSerializer
    permission_classes = [role_permission(*MISSION_ROLES)]

    def get_queryset(self) -> Any:
        return missions_visible_to(user=api_user(self.request))


class AtInputSerializer(serializers.Serializer):
    at = SaneDateTimeSerializerField(
        required=False, default=None, help_text="When you did it (ISO-8601 with offset)."
    )


TRANSITION_RESPONSES = {
    200: MissionOutputSerializer,
    409: OpenApiResponse(description="Not allowed from the mission's current status."),
}


class _MissionTransitionApi(APIView):
    """Shared by the transition APIs: parse ``input_serializer``, find the mission in your
    queryset, call ``service``. Each subclass names its service and input (and documents
    them with ``extend_schema_view``)."""

    permission_classes = [role_permission(*MISSION_ROLES)]
    input_serializer: type[serializers.Serializer] = AtInputSerializer
    service: Callable[..., Written]

    def post(self, request: Request, pk: int) -> Response:
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        get_object_or_404(missions_visible_to(user=api_user(request)), pk=pk)
        try:
            written: Written = self.service(
                mission_id=pk, actor=api_user(request), **data.validated_data
            )
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        except MissionConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        mission = missions_visible_to(user=api_user(request)).get(pk=written.mission.pk)
        return Response(MissionOutputSerializer(mission).data)


def _documented(input_serializer: type[serializers.Serializer]) -> Any:
    return extend_schema_view(
        post=extend_schema(request=input_serializer, responses=TRANSITION_RESPONSES)
    )


@_documented(AtInputSerializer)
class MissionAcceptApi(_MissionTransitionApi):
    """assigned -> accepted (the mission's officer). Repeating it is harmless."""

    service = staticmethod(mission_accept)


@_documented(AtInputSerializer)
class MissionArriveApi(_MissionTransitionApi):
    """accepted -> on scene (the mission's officer)."""

    service = staticmethod(mission_arrive)


@_documented(AtInputSerializer)
class MissionCompleteApi(_MissionTransitionApi):
    """on scene -> completed (the mission's officer): counts toward today's dose."""

    service = staticmethod(mission_complete)


class DeclineInputSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=DeclineReason.choices)
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    at = SaneDateTimeSerializerField(required=False, default=None)


@_documented(DeclineInputSerializer)
class MissionDeclineApi(_MissionTransitionApi):
    """assigned or accepted -> declined, with a reason (dispatched, unsafe, other + note)."""

    service = staticmethod(mission_decline)
    input_serializer = DeclineInputSerializer


class InterruptInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)
    at = SaneDateTimeSerializerField(required=False, default=None)


@_documented(InterruptInputSerializer)
class MissionInterruptApi(_MissionTransitionApi):
    """accepted or on scene -> interrupted by a call (the mission's officer)."""

    service = staticmethod(mission_interrupt)
    input_serializer = InterruptInputSerializer


class CancelInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=500)


@_documented(CancelInputSerializer)
class MissionCancelApi(_MissionTransitionApi):
    """Any open mission -> cancelled (the squad's sergeant or a supervisor)."""

    service = staticmethod(mission_cancel)
    permission_classes = [role_permission(*BOARD_ROLES)]
    input_serializer = CancelInputSerializer


class MissionAssignApi(APIView):
    """Give a mission by hand (a sergeant to their squads' members, a supervisor to anyone).
    Refuses control hot spots and windows overlapping the officer's open missions (409)."""

    permission_classes = [role_permission(*BOARD_ROLES)]

    class AssignInputSerializer(serializers.Serializer):
        officer = serializers.IntegerField()
        hotspot = serializers.IntegerField()
        window_start = SaneDateTimeSerializerField()
        window_end = SaneDateTimeSerializerField()
        mission_type = serializers.IntegerField(required=False, allow_null=True, default=None)
        client_uuid = serializers.UUIDField(required=False, allow_null=True, default=None)

    @extend_schema(
        request=AssignInputSerializer,
        responses={
            201: MissionOutputSerializer,
            200: MissionOutputSerializer,
            409: OpenApiResponse(description="The officer already has a mission then."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            written = mission_assign(
                actor=api_user(request),
                officer_id=v["officer"],
                hotspot_id=v["hotspot"],
                window_start=v["window_start"],
                window_end=v["window_end"],
                mission_type_id=v["mission_type"],
                client_uuid=v["client_uuid"],
            )
        except MissionConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK
        return Response(MissionOutputSerializer(written.mission).data, status=code)


class MissionTypeOutputSerializer(serializers.ModelSerializer):
    tactics = serializers.SerializerMethodField()

    class Meta:
        model = MissionType
        fields = ["id", "name", "objective", "target_minutes", "tactics", "is_active"]

    def get_tactics(self, obj: MissionType) -> list[str]:
        return [t.strip() for t in obj.tactics.splitlines() if t.strip()]


class MissionTypeListApi(generics.ListAPIView):
    """The Mission Menu's active entries (any signed-in user)."""

    serializer_class = MissionTypeOutputSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        return MissionType.objects.filter(is_active=True).order_by("name")


# ---------------------------------------------------------------------------------------------
# Shift schedules and the board


class PlanMissionCountField(serializers.IntegerField):
    """A plan's number of missions: its ``mission_count`` when the query counted them
    (``selectors.board_plan``), else one ``COUNT`` query."""

    @staticmethod
    def count(plan: ShiftPlan) -> int:
        counted = getattr(plan, "mission_count", None)
        return plan.missions.count() if counted is None else int(counted)

    def get_attribute(self, instance: ShiftPlan) -> int:
        return self.count(instance)


class ShiftPlanOutputSerializer(serializers.ModelSerializer):
    seed = serializers.CharField(help_text="A 63-bit integer, as a string for JavaScript.")
    missions = PlanMissionCountField(source="missions.count")
    created_by = serializers.CharField(source="created_by.username")

    class Meta:
        model = ShiftPlan
        fields = [
            "id",
            "squad",
            "day",
            "seed",
            "shift_start",
            "shift_end",
            "visits_per_hotspot",
            "visit_minutes",
            "experiment",
            "mission_type",
            "created_by",
            "created_at",
            "missions",
        ]

    def to_representation(self, instance: ShiftPlan) -> dict[str, Any]:
        """``Meta.fields`` in one pass, as DRF's loop would write them: the board shows its
        plan on every poll, and DRF would build this ModelSerializer's fields each time."""
        if self.Meta.fields is not ShiftPlanOutputSerializer.Meta.fields:
            return super().to_representation(instance)
        plan, tz = instance, timezone.get_current_timezone()
        return {
            "id": _int(plan.pk),
            "squad": plan.squad_id,
            "day": _day(plan.day),
            "seed": _str(plan.seed),
            "shift_start": _iso(plan.shift_start, tz),
            "shift_end": _iso(plan.shift_end, tz),
            "visits_per_hotspot": _int(plan.visits_per_hotspot),
            "visit_minutes": _int(plan.visit_minutes),
            "experiment": plan.experiment_id,
            "mission_type": plan.mission_type_id,
            "created_by": _str(plan.created_by.username),
            "created_at": _iso(plan.created_at, tz),
            "missions": PlanMissionCountField.count(plan),
        }


def _squad_or_404(request: Request, pk: int) -> Any:
    """The squad, if ``request``'s user may run its board. Only the squad's own row: neither
    caller reads its district or sergeant, and the board polls every 10 s."""
    squads = squads_led_by(user=api_user(request)).select_related(None).order_by()
    return get_object_or_404(squads, pk=pk)


class SquadScheduleApi(APIView):
    """Generate the Koper schedule of a squad's shift (its sergeant or a supervisor): every
    treated hot spot of the squad's district gets N visits of T minutes, at least 2 h apart,
    shared among the squad's officers. A second call returns the existing plan (200) unless
    ``replace`` is true (allowed while no mission of the plan has been accepted)."""

    permission_classes = [role_permission(*BOARD_ROLES)]

    class ScheduleInputSerializer(serializers.Serializer):
        date = AgencyDayField(help_text="Local day the shift starts.")
        mission_type = serializers.IntegerField(required=False, allow_null=True, default=None)
        replace = serializers.BooleanField(required=False, default=False)

    class ScheduleOutputSerializer(serializers.Serializer):
        plan = ShiftPlanOutputSerializer()
        created = serializers.BooleanField()
        missions = MissionOutputSerializer(many=True)
        capacity_note = serializers.CharField(
            help_text="Where the visits were placed against the district's workload "
            "(empty when the plan already existed)."
        )
        capacity_warnings = serializers.ListField(
            child=serializers.CharField(),
            help_text="One per mission that lands in an hour at or over 100% consumed.",
        )

    @extend_schema(
        request=ScheduleInputSerializer,
        responses={
            201: ScheduleOutputSerializer,
            200: ScheduleOutputSerializer,
            409: OpenApiResponse(description="The plan is under way: it cannot be replaced."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        squad = _squad_or_404(request, pk)
        data = self.ScheduleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            result = shift_plan_generate(
                squad_id=squad.pk,
                day=v["date"],
                actor=api_user(request),
                mission_type_id=v["mission_type"],
                replace=v["replace"],
            )
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        except MissionConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        missions = result.plan.missions.select_related(
            "hotspot", "officer", "mission_type"
        ).order_by("window_start", "pk")
        body = {
            "plan": result.plan,
            "created": result.created,
            "missions": missions,
            "capacity_note": result.capacity_note,
            "capacity_warnings": list(result.capacity_warnings),
        }
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(self.ScheduleOutputSerializer(body).data, status=code)


class SquadBoardApi(APIView):
    """A squad's board for a local day (default today): its shift, plan and missions with their
    live status; the board page polls it every 10 seconds."""

    permission_classes = [role_permission(*BOARD_ROLES)]

    class BoardOutputSerializer(serializers.Serializer):
        squad = serializers.IntegerField()
        squad_name = serializers.CharField()
        date = serializers.DateField()
        shift_start = serializers.DateTimeField()
        shift_end = serializers.DateTimeField()
        plan = ShiftPlanOutputSerializer(allow_null=True)
        treatment = serializers.CharField()
        counts = serializers.DictField(child=serializers.IntegerField())
        missions = MissionOutputSerializer(many=True)

        def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
            """The declared fields in one pass (the schema's source), without building and
            deep-copying them and their nested serializers on every 10-second poll."""
            board, tz = instance, timezone.get_current_timezone()
            plan, missions = board["plan"], MissionOutputSerializer(many=True, context=self.context)
            plan_out = None if plan is None else ShiftPlanOutputSerializer().to_representation(plan)
            return {
                "squad": _int(board["squad"]),
                "squad_name": _str(board["squad_name"]),
                "date": _day(board["date"]),
                "shift_start": _iso(board["shift_start"], tz),
                "shift_end": _iso(board["shift_end"], tz),
                "plan": plan_out,
                "treatment": _str(board["treatment"]),
                "counts": {str(k): _int(v) for k, v in board["counts"].items()},
                "missions": missions.to_representation(board["missions"]),
            }

    @extend_schema(
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE)],
        responses=BoardOutputSerializer,
    )
    def get(self, request: Request, pk: int) -> Response:
        squad = _squad_or_404(request, pk)
        day = _query_day(request, "date") or timezone.localdate()
        return Response(self.BoardOutputSerializer(board_payload(squad=squad, day=day)).data)


def board_payload(*, squad: Any, day: date) -> dict[str, Any]:
    """The board of ``squad`` on ``day`` as the board API returns it."""
    start, end = squad_shift_window(squad=squad, day=day)
    missions = list(board_missions(squad=squad, day=day).only(*MISSION_OUTPUT_COLUMNS))
    counts = {s: 0 for s in MissionStatus.values}
    for m in missions:
        counts[m.status] += 1
    return {
        "squad": squad.pk,
        "squad_name": squad.name,
        "date": day,
        "shift_start": start,
        "shift_end": end,
        "plan": board_plan(squad=squad, day=day),
        "treatment": treatment_sentence(),
        "counts": counts,
        "missions": missions,
    }


# ---------------------------------------------------------------------------------------------
# Experiments


class ExperimentOutputSerializer(serializers.ModelSerializer):
    seed = serializers.CharField(
        allow_null=True, help_text="A 63-bit integer, as a string so JavaScript keeps every digit."
    )
    created_by = serializers.CharField(source="created_by.username")
    status = serializers.CharField(help_text="; ".join(ExperimentStatus.values))

    class Meta:
        model = Experiment
        fields = [
            "id",
            "name",
            "design",
            "status",
            "seed",
            "run",
            "starts_on",
            "ends_on",
            "blocking",
            "harm_tiers",
            "visits_per_shift",
            "minutes_per_visit",
            "created_by",
            "created_at",
            "randomized_at",
            "started_at",
            "ended_at",
        ]


def _arm_dict(arm: Any) -> dict[str, Any]:
    return {
        "n": arm.n,
        "count_total": arm.count_total,
        "count_mean": _num(arm.count_mean),
        "harm_total": arm.harm_total,
        "harm_mean": _num(arm.harm_mean),
    }


def _balance_row(row: BalanceRow) -> dict[str, Any]:
    return {
        "block": row.block,
        "treatment": _arm_dict(row.treatment),
        "control": _arm_dict(row.control),
        "count_std_diff": _num(row.count_std_diff),
        "harm_std_diff": _num(row.harm_std_diff),
    }


def summary_dict(summary: AllocationSummary) -> dict[str, Any]:
    balance: BalanceTable | None = summary.balance
    mde = summary.mde
    return {
        "hotspots": summary.hotspots,
        "days": summary.days,
        "unit": summary.unit,
        "treated_units": summary.treated_units,
        "control_units": summary.control_units,
        "balance": None
        if balance is None
        else {
            "overall": _balance_row(balance.overall),
            "blocks": [_balance_row(r) for r in balance.blocks],
        },
        "mde": None
        if mde is None
        else {
            "reduction": _num(mde.reduction),
            "rate_ratio": _num(mde.rate_ratio),
            "mean_count": mde.mean_count,
            "dispersion": mde.dispersion,
        },
        "mde_sentence": summary.mde_sentence,
    }


class ExperimentListCreateApi(APIView):
    """Experiments, newest first; POST creates a draft on the active hot spots."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    class ExperimentInputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120)
        design = serializers.ChoiceField(choices=Design.choices)
        starts_on = AgencyDayField()
        ends_on = AgencyDayField()
        visits_per_shift = serializers.IntegerField(min_value=1, max_value=12, default=3)
        minutes_per_visit = serializers.IntegerField(min_value=1, max_value=240, default=15)
        blocking = serializers.ChoiceField(choices=Blocking.choices, default=Blocking.DISTRICT_TIER)
        harm_tiers = serializers.ChoiceField(choices=[2, 3], default=2)

    @extend_schema(responses=ExperimentOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(ExperimentOutputSerializer(experiments_list()[:100], many=True).data)

    @extend_schema(request=ExperimentInputSerializer, responses={201: ExperimentOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.ExperimentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            experiment = experiment_create(actor=api_user(request), **data.validated_data)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(ExperimentOutputSerializer(experiment).data, status=201)


class ExperimentDetailApi(APIView):
    """An experiment with its arms, balance per block and minimum detectable effect."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    class ExperimentDetailOutputSerializer(ExperimentOutputSerializer):
        summary = serializers.SerializerMethodField()

        class Meta(ExperimentOutputSerializer.Meta):
            fields = [*ExperimentOutputSerializer.Meta.fields, "summary"]

        def get_summary(self, obj: Experiment) -> dict[str, Any]:
            return summary_dict(experiment_summary(experiment=obj))

    @extend_schema(responses=ExperimentDetailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(experiments_list(), pk=pk)
        return Response(self.ExperimentDetailOutputSerializer(experiment).data)


class ExperimentRandomizeApi(APIView):
    """Draw the allocation of a draft experiment from a new seed (from ``secrets``), or from
    ``seed`` to reproduce one. 409 once the experiment has started."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    class RandomizeInputSerializer(serializers.Serializer):
        seed = serializers.IntegerField(
            required=False, allow_null=True, default=None, min_value=0, max_value=2**63 - 1
        )

    @extend_schema(
        request=RandomizeInputSerializer,
        responses={
            200: ExperimentOutputSerializer,
            409: OpenApiResponse(description="The experiment has started: allocation locked."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(experiments_list(), pk=pk)
        data = self.RandomizeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            experiment = experiment_randomize(
                experiment_id=experiment.pk,
                actor=api_user(request),
                seed=data.validated_data["seed"],
            )
        except MissionConflict as exc:
            return _conflict(exc)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(ExperimentOutputSerializer(experiment).data)


class _ExperimentLifecycleApi(APIView):
    """Shared by start and end: find the experiment, call ``service``, 409 when refused."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]
    service: Callable[..., Experiment]

    @extend_schema(
        request=None,
        responses={200: ExperimentOutputSerializer, 409: OpenApiResponse(description="Refused.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(experiments_list(), pk=pk)
        try:
            experiment = self.service(experiment_id=experiment.pk, actor=api_user(request))
        except MissionConflict as exc:
            return _conflict(exc)
        return Response(ExperimentOutputSerializer(experiment).data)


class ExperimentStartApi(_ExperimentLifecycleApi):
    """Start a randomized experiment: its allocation is locked and decides treatment."""

    service = staticmethod(experiment_start)


class ExperimentEndApi(_ExperimentLifecycleApi):
    """End a running experiment; its allocation stays as the record."""

    service = staticmethod(experiment_end)


def allocation_csv_response(experiment: Experiment) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="experiment-{experiment.pk}-allocation.csv"'
    )
    csv.writer(response).writerows(allocation_csv_rows(allocation_rows(experiment=experiment)))
    return response


class ExperimentAllocationCsvApi(APIView):
    """The allocation as CSV: ``hotspot_id,rank,district,block,arm,day`` (day empty for fixed
    arms), by day and rank."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> HttpResponse:
        return allocation_csv_response(get_object_or_404(experiments_list(), pk=pk))


class ExperimentReproduceApi(APIView):
    """Re-run the randomization from the stored seed and compare it with the stored allocation."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    class ReproduceOutputSerializer(serializers.Serializer):
        identical = serializers.BooleanField()
        compared = serializers.IntegerField()
        differences = serializers.IntegerField()
        seed = serializers.CharField(allow_null=True)

    @extend_schema(responses=ReproduceOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        result = experiment_reproduce(experiment=get_object_or_404(experiments_list(), pk=pk))
        return Response(self.ReproduceOutputSerializer(result).data)


class ExperimentArmsGeoJsonApi(APIView):
    """The experiment's hot spots as GeoJSON with their ``arm`` (place-day: on ``day``)."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    @extend_schema(
        parameters=[OpenApiParameter("day", OpenApiTypes.DATE, description="Place-day only.")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, pk: int) -> Response:
        experiment = get_object_or_404(experiments_list(), pk=pk)
        day = _query_day(request, "day")
        return Response(experiment_arms_geojson(experiment=experiment, day=day))


class ExperimentArmsFileApi(APIView):
    """The experiment's arms as a file for ArcGIS / QGIS: ``gpkg``, ``geojson`` or ``csv``, the
    same fields as ``export_gis arms`` (EPSG:4326); place-day: the arms of ``day``."""

    permission_classes = [role_permission(*EXPERIMENT_ROLES)]

    @extend_schema(
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, description="Place-day only."),
            GIS_FORMAT_PARAMETER,
        ],
        responses=GIS_FILE_RESPONSES,
    )
    def get(self, request: Request, pk: int, fmt: str) -> HttpResponse:
        experiment = get_object_or_404(experiments_list(), pk=pk)
        day = _query_day(request, "day")
        layer = experiment_arms_layer(experiment=experiment, day=day)
        return layer_response(layer, fmt=fmt, filename=f"arms-{experiment.pk}")
