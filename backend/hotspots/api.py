"""Hot spots (active list, detail, nearby), analyses (create, status, exports), harm index."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.config.api import MAX_LAT, drf_validation_error
from backend.gis.layers import layer_response
from backend.hotspots.analysis_tasks import analysis_execute_task
from backend.hotspots.exports import grid_geojson, hotspots_geojson, hotspots_layer
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.hotspots.selectors import (
    analysis_runs,
    harm_version_current,
    hotspots_active,
    hotspots_nearby,
)
from backend.hotspots.services import AnalysisParams, analysis_create, harm_version_create
from backend.missions.selectors import hotspot_dose_today

ANALYSIS_ROLES = (Role.ANALYST, Role.SUPERVISOR)
MAX_NEARBY_RADIUS_M = 20_000


class HotspotOutputSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name", allow_null=True, default=None)

    class Meta:
        model = Hotspot
        fields = [
            "id", "rank", "district", "harm", "incident_count", "gi_z_max", "centroid_lat",
            "centroid_lon", "geometry", "counts_by_offence", "last_incident_at", "briefing",
            "profile_24x7", "run",
        ]  # fmt: skip


class HotspotListApi(generics.ListAPIView):
    """The active hot spots (the published analysis), best rank first. Every role."""

    serializer_class = HotspotOutputSerializer

    def get_queryset(self) -> Any:
        return hotspots_active()


class HotspotDetailApi(generics.RetrieveAPIView):
    """One hot spot with its briefing; any run's hot spots, for analysts' history too."""

    serializer_class = HotspotOutputSerializer

    def get_queryset(self) -> Any:
        return Hotspot.objects.select_related("district")


class HotspotNearbyApi(APIView):
    """Active hot spots within ``radius_m`` of a position, nearest first."""

    class NearbyInputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-MAX_LAT, max_value=MAX_LAT)
        lon = serializers.FloatField(min_value=-180, max_value=180)
        radius_m = serializers.FloatField(min_value=1, max_value=MAX_NEARBY_RADIUS_M, default=2000)

    class NearbyOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        rank = serializers.IntegerField()
        harm = serializers.FloatField()
        distance_m = serializers.FloatField()
        reason = serializers.CharField()
        visit_due = serializers.CharField()
        centroid_lat = serializers.FloatField()
        centroid_lon = serializers.FloatField()
        geometry = serializers.JSONField()

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", float, required=True),
            OpenApiParameter("lon", float, required=True),
            OpenApiParameter("radius_m", float, description="Default 2000, at most 20000."),
        ],
        responses=NearbyOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = self.NearbyInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        found = hotspots_nearby(**params.validated_data)
        doses = hotspot_dose_today(hotspot_ids=[h.pk for h, _ in found])
        rows = [
            {
                "id": h.pk,
                "rank": h.rank,
                "harm": h.harm,
                "distance_m": round(d, 1),
                "reason": h.briefing.get("one_line", ""),
                # "due" (dose not yet delivered today), "done", or "control" (never patrolled).
                "visit_due": doses[h.pk].visit_due,
                "centroid_lat": h.centroid_lat,
                "centroid_lon": h.centroid_lon,
                "geometry": h.geometry,
            }
            for h, d in found
        ]
        return Response(self.NearbyOutputSerializer(rows, many=True).data)


class AnalysisOutputSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name", allow_null=True, default=None)
    weights_version = serializers.IntegerField(source="weights_version.number")
    hotspots = serializers.IntegerField(source="hotspots.count")

    class Meta:
        model = AnalysisRun
        fields = [
            "id", "status", "as_of", "lookback_days", "cell_size_m", "top_k", "window",
            "district", "weights_version", "incidents_analysed", "concentration", "stability",
            "hotspots", "is_active", "published_at", "created_at", "finished_at", "error",
        ]  # fmt: skip


class AnalysisListCreateApi(APIView):
    """Analyses, newest first; POST runs a new one (in the background when a worker runs)."""

    permission_classes = [role_permission(*ANALYSIS_ROLES)]

    class AnalysisInputSerializer(serializers.Serializer):
        as_of = serializers.DateField()
        lookback_days = serializers.IntegerField(default=365)
        cell_size_m = serializers.FloatField(default=150.0)
        top_k = serializers.IntegerField(default=20)
        window = serializers.CharField(default="", allow_blank=True)
        district = serializers.IntegerField(required=False, allow_null=True, default=None)
        publish = serializers.BooleanField(default=False)

    @extend_schema(responses=AnalysisOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        runs = analysis_runs().order_by("-created_at")[:100]
        return Response(AnalysisOutputSerializer(runs, many=True).data)

    @extend_schema(request=AnalysisInputSerializer, responses={202: AnalysisOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.AnalysisInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        params = AnalysisParams(
            as_of=v["as_of"], lookback_days=v["lookback_days"], cell_size_m=v["cell_size_m"],
            top_k=v["top_k"], window=v["window"], district_id=v["district"],
        )  # fmt: skip
        try:
            with transaction.atomic():
                run = analysis_create(params=params, actor=request.user, publish=v["publish"])
                transaction.on_commit(lambda: analysis_execute_task.delay(run.pk))
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        run.refresh_from_db()
        return Response(AnalysisOutputSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class AnalysisDetailApi(generics.RetrieveAPIView):
    serializer_class = AnalysisOutputSerializer
    permission_classes = [role_permission(*ANALYSIS_ROLES, Role.SERGEANT)]

    def get_queryset(self) -> Any:
        return analysis_runs()


class AnalysisHotspotsGeoJsonApi(APIView):
    """A run's hot spots as GeoJSON (one Feature per hot spot)."""

    permission_classes = [role_permission(*ANALYSIS_ROLES, Role.SERGEANT)]

    @extend_schema(responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        return Response(hotspots_geojson(get_object_or_404(analysis_runs(), pk=pk)))


class AnalysisHotspotsFileApi(APIView):
    """A run's hot spots as a file for ArcGIS / QGIS: ``gpkg`` (GeoPackage), ``geojson`` or
    ``csv`` with the same fields as ``export_gis hotspots`` (EPSG:4326)."""

    permission_classes = [role_permission(*ANALYSIS_ROLES, Role.SERGEANT)]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int, fmt: str) -> HttpResponse:
        run = get_object_or_404(analysis_runs(), pk=pk)
        return layer_response(hotspots_layer(run), fmt=fmt, filename=f"hotspots-{run.pk}")


class AnalysisCellsGeoJsonApi(APIView):
    """A run's non-empty cells as GeoJSON squares with count, harm and Gi* z."""

    permission_classes = [role_permission(*ANALYSIS_ROLES, Role.SERGEANT)]

    @extend_schema(
        parameters=[OpenApiParameter("min_z", float, description="Only cells with z >= this.")],
        responses={200: dict},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(analysis_runs(), pk=pk)
        min_z = request.query_params.get("min_z")
        try:
            threshold = float(min_z) if min_z not in (None, "") else None
        except ValueError as exc:
            raise ValidationError({"min_z": "must be a number"}) from exc
        return Response(grid_geojson(run, min_z=threshold))


class HarmIndexApi(APIView):
    """The current harm index (days of custody per offence); POST makes a new version."""

    permission_classes = [role_permission(Role.ANALYST, Role.SUPERVISOR)]

    class HarmInputSerializer(serializers.Serializer):
        weights = serializers.DictField(child=serializers.FloatField(min_value=0))
        note = serializers.CharField(default="", allow_blank=True)

    def _current(self) -> dict[str, Any]:
        version = harm_version_current()
        weights = version.weights.select_related("offence").order_by("offence__code")
        return {
            "version": version.number,
            "is_default_table": version.is_default_table,
            "note": version.note,
            "weights": [
                {
                    "code": w.offence.code,
                    "name": w.offence.name,
                    "group": w.offence.group,
                    "days": w.days,
                }
                for w in weights
            ],
        }

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(self._current())

    @extend_schema(request=HarmInputSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        if not request.user.has_role(Role.ANALYST):  # type: ignore[union-attr]
            return Response({"detail": "Only analysts edit the harm index."}, status=403)
        data = self.HarmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            harm_version_create(
                weights=data.validated_data["weights"],
                actor=request.user,
                note=data.validated_data["note"],
            )
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(self._current(), status=status.HTTP_201_CREATED)
