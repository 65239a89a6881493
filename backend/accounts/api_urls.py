from django.urls import path, re_path

from backend.accounts import api

urlpatterns = [
    path("me", api.MeApi.as_view(), name="api-me"),
    path("districts", api.DistrictsGeoJsonApi.as_view(), name="api-districts"),
    re_path(
        r"^(?P<layer>districts|beats)-gis\.(?P<fmt>gpkg|geojson|csv)$",
        api.BoundariesFileApi.as_view(),
        name="api-boundaries-file",
    ),
    path("squads", api.SquadListApi.as_view(), name="api-squads"),
    path("auth/token", api.TokenApi.as_view(), name="api-token"),
    path("auth/logout", api.LogoutApi.as_view(), name="api-logout"),
]
