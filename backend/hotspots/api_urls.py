from django.urls import path, re_path

from backend.hotspots import api

urlpatterns = [
    path("hotspots", api.HotspotListApi.as_view(), name="api-hotspots"),
    path("hotspots/<int:pk>", api.HotspotDetailApi.as_view(), name="api-hotspot"),
    path("analyses", api.AnalysisListCreateApi.as_view(), name="api-analyses"),
    path("analyses/<int:pk>", api.AnalysisDetailApi.as_view(), name="api-analysis"),
    path(
        "analyses/<int:pk>/hotspots.geojson",
        api.AnalysisHotspotsGeoJsonApi.as_view(),
        name="api-analysis-hotspots-geojson",
    ),
    re_path(
        r"^analyses/(?P<pk>[0-9]+)/hotspots-gis\.(?P<fmt>gpkg|geojson|csv)$",
        api.AnalysisHotspotsFileApi.as_view(),
        name="api-analysis-hotspots-file",
    ),
    path(
        "analyses/<int:pk>/cells.geojson",
        api.AnalysisCellsGeoJsonApi.as_view(),
        name="api-analysis-cells-geojson",
    ),
]
