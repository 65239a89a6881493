from django.urls import path

from backend.accounts import api

urlpatterns = [
    path("me", api.MeApi.as_view(), name="api-me"),
    path("districts", api.DistrictsGeoJsonApi.as_view(), name="api-districts"),
    path("squads", api.SquadListApi.as_view(), name="api-squads"),
    path("auth/token", api.TokenApi.as_view(), name="api-token"),
]
