"""Patrol sessions, ping and AVL batches, activities, tracks (role-scoped and audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.audit.services import request_ip
from backend.config.api import (
    AgencyDayField,
    BoundedJSONParser,
    FastJSONRenderer,
    drf_validation_error,
)
from backend.config.dates import SaneDateTimeSerializerField
from backend.patrols.ingest import MAX_BATCH, BatchResult, BatchTooLarge, avl_ingest, pings_ingest
from backend.patrols.models import ActivityType, PatrolSession
from backend.patrols.selectors import session_current, track_for_day
from backend.patrols.services import (
    ACTIVITY_NOTE_MAX,
    SessionConflict,
    activity_record,
    activity_undo,
    session_end,
    session_start,
)

FIELD_ROLES = (Role.OFFICER, Role.SERGEANT)  # roles that patrol and carry the phone app


class BatchJSONParser(BoundedJSONParser):
    """JSON that may contain NaN or Infinity (some GPS stacks emit them): parsed here so that
    the item carrying one is rejected with its reason, instead of the whole batch failing."""

    allow_non_finite = True


class SessionOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = PatrolSession
        fields = ["id", "client_uuid", "started_at", "ended_at"]


class SessionConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    session = SessionOutputSerializer(help_text="The session still open.")


class SessionStartApi(APIView):
    """Start a patrol session: only then is location recorded. Retry-safe by client UUID."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    class StartInputSerializer(serializers.Serializer):
        client_uuid = serializers.UUIDField()
        started_at = serializers.DateTimeField(required=False, default=None)

    @extend_schema(
        request=StartInputSerializer,
        responses={
            201: SessionOutputSerializer,
            200: OpenApiResponse(SessionOutputSerializer, description="A replay: already stored."),
            409: OpenApiResponse(
                SessionConflictSerializer, description="Another session of yours is still open."
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.StartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            written = session_start(
                officer=request.user, ip=request_ip(request), **data.validated_data
            )
        except SessionConflict as exc:
            return Response(
                {"detail": str(exc), "session": SessionOutputSerializer(exc.session).data},
                status=status.HTTP_409_CONFLICT,
            )
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK
        return Response(SessionOutputSerializer(written.obj).data, status=code)


class SessionEndApi(APIView):
    """End your patrol session (idempotent); its visits are rolled up within a minute."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    class EndInputSerializer(serializers.Serializer):
        ended_at = serializers.DateTimeField(required=False, default=None)

    @extend_schema(request=EndInputSerializer, responses=SessionOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        data = self.EndInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            session = session_end(
                officer=request.user,
                session_id=pk,
                ip=request_ip(request),
                **data.validated_data,
            )
        except PatrolSession.DoesNotExist as exc:
            raise NotFound(str(exc)) from exc
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(SessionOutputSerializer(session).data)


class SessionCurrentApi(APIView):
    """Your open patrol session, or 200 with JSON ``null`` when you are not on patrol (not
    being on patrol is an answer, not an error)."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    @extend_schema(
        responses={
            200: OpenApiResponse(
                {"allOf": [{"$ref": "#/components/schemas/SessionOutput"}], "nullable": True},
                description="Your open session; an empty body (JSON null) when you are not "
                "on patrol.",
            )
        }
    )
    def get(self, request: Request) -> HttpResponse:
        session = session_current(officer=request.user)
        if session is None:
            # JSON null: DRF's renderer would send no body and no content type at all.
            return JsonResponse(None, safe=False)
        return Response(SessionOutputSerializer(session).data)


_OFFSET_REQUIRED = "must be ISO-8601 with an offset"
# DRF formats a field's error messages with str.format: the braces are doubled.
_PINGS_LIST = 'send a JSON list of pings, or {{"pings": [...]}}'


_SESSION_ID = "must be a session id (an integer)"


class _SessionIdField(serializers.IntegerField):
    """A session id: a JSON integer (or its digits as a string) in the id range; never a
    boolean or a float (1.0 included), which DRF's IntegerField would take."""

    def __init__(self, **kwargs: Any) -> None:
        messages: dict[str, Any] = {
            k: _SESSION_ID for k in ("invalid", "min_value", "max_value", "max_string_length")
        }
        super().__init__(min_value=1, max_value=2**63 - 1, error_messages=messages, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _PingListField(serializers.ListField):
    """A JSON list taken as it is: the ingest checks each item and answers for each, so the
    field does not walk the 1,000 items (DRF's ListField runs a child field on every one)."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return data


class BatchInputSerializer(serializers.Serializer):
    """A batch's envelope: ``pings`` (each item is checked by the ingest, one answer per item),
    the device's clock now (``sent_at``) and the session the pings belong to."""

    pings = _PingListField(
        error_messages={"not_a_list": _PINGS_LIST, "required": _PINGS_LIST, "null": _PINGS_LIST}
    )
    sent_at = serializers.CharField(
        required=False, allow_null=True, default=None, error_messages={"invalid": _OFFSET_REQUIRED}
    )
    session = _SessionIdField(required=False, allow_null=True, default=None)

    def validate_sent_at(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            sent_at = datetime.fromisoformat(value)
        except ValueError as exc:
            raise serializers.ValidationError(_OFFSET_REQUIRED) from exc
        if sent_at.tzinfo is None:
            raise serializers.ValidationError(_OFFSET_REQUIRED)
        return sent_at


def _batch_items(request: Request) -> tuple[list[Any], datetime | None, int | None]:
    """A batch body: a JSON list of items, or ``{"pings": [...], "sent_at"?, "session"?}``."""
    body = request.data
    data = BatchInputSerializer(data=body if isinstance(body, dict) else {"pings": body})
    data.is_valid(raise_exception=True)
    v = data.validated_data
    return v["pings"], v["sent_at"], v["session"]


def _batch_response(result: BatchResult) -> Response:
    return Response({**result.counts(), "items": [r.as_dict() for r in result.items]})


# A batch's answer lists up to 1,000 items: orjson writes it several times faster than json.
BATCH_RENDERERS = [FastJSONRenderer, BrowsableAPIRenderer]


def _too_large(exc: BatchTooLarge) -> Response:
    return Response(
        {"detail": str(exc), "limit": MAX_BATCH}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    )


class PingBatchApi(APIView):
    """Up to 1,000 pings of your own patrol; each stored exactly once.

    Body: a list of ``{client_uuid, recorded_at (ISO-8601 with offset), lat, lon, accuracy_m,
    speed_mps?, heading_deg?}``, or ``{"pings": [...], "sent_at"?: device time now,
    "session"?: id}``. The answer lists every item in request order as ``accepted``,
    ``duplicate`` (already stored: safe to forget) or ``rejected`` (with ``reason``).
    """

    permission_classes = [role_permission(*FIELD_ROLES)]
    parser_classes = [BatchJSONParser]
    renderer_classes = BATCH_RENDERERS

    @extend_schema(request=dict, responses={200: dict, 413: dict})
    def post(self, request: Request) -> Response:
        items, sent_at, session_id = _batch_items(request)
        try:
            result = pings_ingest(
                officer=request.user, items=items, sent_at=sent_at, session_id=session_id
            )
        except BatchTooLarge as exc:
            return _too_large(exc)
        return _batch_response(result)


class AvlBatchApi(APIView):
    """Vehicle AVL feed (service accounts): like ping batches, each item names its ``unit``."""

    permission_classes = [role_permission(Role.SERVICE)]
    parser_classes = [BatchJSONParser]
    renderer_classes = BATCH_RENDERERS

    @extend_schema(request=dict, responses={200: dict, 413: dict})
    def post(self, request: Request) -> Response:
        items, sent_at, _ = _batch_items(request)
        try:
            result = avl_ingest(items=items, sent_at=sent_at)
        except BatchTooLarge as exc:
            return _too_large(exc)
        return _batch_response(result)


class ActivityApi(APIView):
    """Log what you did (stop, search, community contact, ...); exactly once per client UUID."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    class ActivityInputSerializer(serializers.Serializer):
        client_uuid = serializers.UUIDField()
        kind = serializers.SlugField()
        recorded_at = SaneDateTimeSerializerField()
        note = serializers.CharField(
            required=False,
            default="",
            allow_blank=True,
            max_length=ACTIVITY_NOTE_MAX,
            help_text=f"A short observation (at most {ACTIVITY_NOTE_MAX} characters), e.g. "
            '"broken light"; tied to the hot spot through the mission and position.',
        )
        lat = serializers.FloatField(required=False, allow_null=True, default=None)
        lon = serializers.FloatField(required=False, allow_null=True, default=None)
        mission = serializers.IntegerField(required=False, allow_null=True, default=None)

    class ActivityOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        client_uuid = serializers.UUIDField()
        kind = serializers.CharField(source="kind.code")
        recorded_at = serializers.DateTimeField()
        session = serializers.IntegerField(source="session_id", allow_null=True)

    @extend_schema(request=ActivityInputSerializer, responses={201: ActivityOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.ActivityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        v["mission_id"] = v.pop("mission")
        try:
            written = activity_record(officer=request.user, **v)
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        code = status.HTTP_201_CREATED if written.created else status.HTTP_200_OK
        return Response(self.ActivityOutputSerializer(written.obj).data, status=code)


class ActivityUndoApi(APIView):
    """Undo your own activity (the phone offers it for 10 seconds after logging). Idempotent:
    204 whether it was deleted now or is already gone; refused (409) once it is older than
    ``ACTIVITY_UNDO_MINUTES`` on the server, when it may already be in reports."""

    permission_classes = [role_permission(*FIELD_ROLES)]

    @extend_schema(request=None, responses={204: None, 409: OpenApiResponse(description="Too old")})
    def delete(self, request: Request, client_uuid: Any) -> Response:
        try:
            activity_undo(officer=request.user, client_uuid=client_uuid)
        except DjangoValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActivityTypesApi(APIView):
    """The activities an officer can log (configurable by administrators)."""

    class ActivityTypeOutputSerializer(serializers.Serializer):
        code = serializers.SlugField()
        name = serializers.CharField()

    @extend_schema(responses=ActivityTypeOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        types = ActivityType.objects.filter(is_active=True).order_by("name")
        return Response(self.ActivityTypeOutputSerializer(types, many=True).data)


@method_decorator(never_cache, name="dispatch")  # positions: never stored by a cache
class TrackApi(APIView):
    """An officer's pings on one local day: yours, your squad's (sergeants), all (supervisors).

    Every read of another officer's track is written to the audit log.
    """

    class TrackInputSerializer(serializers.Serializer):
        day = AgencyDayField(
            error_messages={
                "invalid": "must be a date like 2026-11-25",
                "required": "must be a date like 2026-11-25",
            },
        )

    @extend_schema(parameters=[TrackInputSerializer], responses={200: dict})
    def get(self, request: Request, officer_id: int) -> Response:
        params = self.TrackInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        day = params.validated_data["day"]
        try:
            pings = track_for_day(
                viewer=request.user,
                officer_id=officer_id,
                day=day,
                ip=request_ip(request),
            )
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        rows = pings.values_list("recorded_at", "lat", "lon", "accuracy_m", "speed_mps")
        return Response(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[r[2], r[1]] for r in rows]},
                "properties": {
                    "officer": officer_id,
                    "day": day.isoformat(),
                    "times": [r[0].isoformat() for r in rows],
                    "accuracy_m": [r[3] for r in rows],
                },
            }
        )
