"""Who am I, districts (GeoJSON), squads; token login for the phone app and scripts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.factor import (
    CODE_MAX_LENGTH,
    FactorThrottled,
    factor_enrolled,
    factor_required,
    factor_verify,
)
from backend.accounts.models import Squad
from backend.accounts.permissions import api_user
from backend.accounts.selectors import beats_layer, district_list, districts_layer, squad_list_for
from backend.accounts.tokens import token_issue, token_revoke
from backend.audit.services import request_ip
from backend.config.api import BoundedJSONParser
from backend.config.throttling import PresenceRateThrottle
from backend.gis.layers import GIS_FILE_RESPONSES, GIS_FORMAT_PARAMETER, layer_response


class MeApi(APIView):
    class MeOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField()
        name = serializers.CharField(source="get_full_name")
        role = serializers.CharField()
        squad = serializers.CharField(source="squad.name", allow_null=True, default=None)

    @extend_schema(responses=MeOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(self.MeOutputSerializer(request.user).data)


class DistrictsGeoJsonApi(APIView):
    """All districts as a GeoJSON FeatureCollection (WGS84)."""

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        features: list[dict[str, Any]] = [
            {
                "type": "Feature",
                "id": d.code,
                "geometry": d.boundary,
                "properties": {"name": d.name, "code": d.code},
            }
            for d in district_list()
        ]
        return Response({"type": "FeatureCollection", "features": features})


class SquadListApi(generics.ListAPIView):
    """Squads the caller may see: an officer or sergeant their own, others all."""

    class SquadOutputSerializer(serializers.ModelSerializer):
        district = serializers.CharField(source="district.name")
        sergeant = serializers.CharField(source="sergeant.username", allow_null=True, default=None)

        class Meta:
            model = Squad
            fields = ["id", "name", "district", "sergeant", "shift_start", "shift_hours"]

    serializer_class = SquadOutputSerializer

    def get_queryset(self) -> Any:
        return squad_list_for(user=api_user(self.request))


class TokenApi(ObtainAuthToken):
    """Exchange a username and password for a new API token (lockout applies). Each sign-in
    issues a new token; it expires 12 hours later, or after 30 minutes without use.

    A role that needs a second factor (sergeants, supervisors, analysts, admins; officers when
    the agency sets it) also sends ``otp``: the 6-digit code of its authenticator or one recovery
    code. Without it, or with a wrong or used code, the answer is 400 naming ``otp``; after
    wrong codes the factor waits (1 s, 2, 4...) and the answer is 429 with ``Retry-After``."""

    class TokenInputSerializer(AuthTokenSerializer):
        otp = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=CODE_MAX_LENGTH,
            write_only=True,
            help_text="Second factor: the authenticator's 6-digit code or one recovery code. "
            "Required for sergeants, supervisors, analysts and admins.",
        )

    class TokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField()

    class TokenErrorSerializer(serializers.Serializer):
        """Why no token: the field named (``otp``, ``username``...) or ``detail`` (throttled)."""

        otp = serializers.ListField(child=serializers.CharField(), required=False)
        non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
        detail = serializers.CharField(required=False)

    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]
    throttle_classes = [PresenceRateThrottle]  # DRF's ObtainAuthToken turns throttles off
    serializer_class = TokenInputSerializer

    @extend_schema(
        request=TokenInputSerializer,
        responses={
            200: TokenOutputSerializer,
            400: TokenErrorSerializer,
            429: OpenApiResponse(
                TokenErrorSerializer, description="Too many attempts: wait Retry-After seconds."
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        ip = request_ip(request)
        if factor_required(user):
            code = serializer.validated_data.get("otp", "")
            if not factor_enrolled(user):
                return Response(
                    {
                        "otp": [
                            "This account has no second factor yet: enrol on the web sign-in page."
                        ]
                    },
                    status=400,
                )
            if not code:
                return Response(
                    {"otp": ["A second factor code is required for this account."]}, status=400
                )
            try:
                device = factor_verify(user=user, code=code, ip=ip, via="api")
            except FactorThrottled as exc:
                return Response(
                    {"otp": [str(exc)]},
                    status=429,
                    headers={"Retry-After": str(exc.retry_after)},
                )
            if device is None:
                return Response({"otp": ["That code is wrong or was already used."]}, status=400)
        token = token_issue(user=user, ip=ip)
        return Response({"token": token.key})


class LogoutApi(APIView):
    """Sign out: revokes your API token and ends your web session on the server."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user = request.user
        token_revoke(user=user, reason="logout", actor=user, ip=request_ip(request))
        logout(request._request)
        return Response(status=204)


class BoundariesFileApi(APIView):
    """District or beat boundaries as a file for ArcGIS / QGIS: ``gpkg``, ``geojson`` or
    ``csv``, the same fields as ``export_gis districts|beats`` (EPSG:4326)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("layer", str, OpenApiParameter.PATH, enum=["districts", "beats"]),
            GIS_FORMAT_PARAMETER,
        ],
        responses=GIS_FILE_RESPONSES,
    )
    def get(self, request: Request, layer: str, fmt: str) -> HttpResponse:
        built = districts_layer() if layer == "districts" else beats_layer()
        return layer_response(built, fmt=fmt, filename=layer)
