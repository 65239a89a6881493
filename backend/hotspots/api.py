"""Hot spots (active list, detail), analyses (create, status, exports)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.config.api import AgencyDayField, drf_validation_error
from backend.gis.layers import GIS_FILE_RESPONSES, GIS_FORMAT_PARAMETER, layer_response
from backend.hotspots.enqueue import analysis_submit
from backend.hotspots.exports import grid_geojson, hotspots_geojson, hotspots_layer
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.hotspots.selectors import analysis_runs, hotspots_active
from backend.hotspots.services import AnalysisParams

ANALYSIS_ROLES = (Role.ANALYST, Role.SUPERVISOR)


class HotspotOutputSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name", allow_null=True, default=None)
    address = serializers.CharField(
        source="place", help_text="Most frequent block or intersection, else 'lat, lon'."
    )
    street_brief = serializers.CharField(help_text="The officer's one sentence, read first.")

    class Meta:
        model = Hotspot
        fields = [
            "id",
            "rank",
            "district",
            "harm",
            "incident_count",
            "gi_z_max",
            "centroid_lat",
            "centroid_lon",
            "geometry",
            "counts_by_offence",
            "last_incident_at",
            "briefing",
            "profile_24x7",
            "run",
            "address",
            "street_brief",
        ]


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


class AnalysisOutputSerializer(serializers.ModelSerializer):
    district = serializers.CharField(source="district.name", allow_null=True, default=None)
    weights_version = serializers.IntegerField(source="weights_version.number")
    hotspots = serializers.IntegerField(source="hotspots.count")

    class Meta:
        model = AnalysisRun
        fields = [
            "id",
            "status",
            "as_of",
            "lookback_days",
            "cell_size_m",
            "top_k",
            "window",
            "district",
            "weights_version",
            "incidents_analysed",
            "concentration",
            "stability",
            "hotspots",
            "is_active",
            "published_at",
            "created_at",
            "finished_at",
            "error",
        ]


class AnalysisListCreateApi(APIView):
    """Analyses, newest first; POST runs a new one (in the background when a worker runs)."""

    permission_classes = [role_permission(*ANALYSIS_ROLES)]

    class AnalysisInputSerializer(serializers.Serializer):
        as_of = AgencyDayField()
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
            as_of=v["as_of"],
            lookback_days=v["lookback_days"],
            cell_size_m=v["cell_size_m"],
            top_k=v["top_k"],
            window=v["window"],
            district_id=v["district"],
        )
        try:
            run = analysis_submit(params=params, actor=request.user, publish=v["publish"])
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

    @extend_schema(
        parameters=[GIS_FORMAT_PARAMETER],
        responses=GIS_FILE_RESPONSES,
    )
    def get(self, request: Request, pk: int, fmt: str) -> HttpResponse:
        run = get_object_or_404(analysis_runs(), pk=pk)
        return layer_response(hotspots_layer(run), fmt=fmt, filename=f"hotspots-{run.pk}")


class AnalysisCellsGeoJsonApi(APIView):
    """A run's non-empty cells as GeoJSON squares with count, harm and Gi* z."""

    permission_classes = [role_permission(*ANALYSIS_ROLES, Role.SERGEANT)]

    class CellsInputSerializer(serializers.Serializer):
        min_z = serializers.FloatField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Only cells with z >= this.",
            error_messages={"invalid": "must be a number"},
        )

        def to_internal_value(self, data: Any) -> Any:
            # An empty ``?min_z=`` means no threshold, as a missing one does.
            if data.get("min_z") == "":
                data = {k: v for k, v in data.items() if k != "min_z"}
            return super().to_internal_value(data)

    @extend_schema(parameters=[CellsInputSerializer], responses={200: dict})
    def get(self, request: Request, pk: int) -> Response:
        run = get_object_or_404(analysis_runs(), pk=pk)
        params = self.CellsInputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(grid_geojson(run, min_z=params.validated_data["min_z"]))
