"""API for incident imports."""

from django.urls import path

from backend.incidents import import_api

urlpatterns = [
    path("imports", import_api.ImportCreateApi.as_view(), name="api-imports"),
    path("imports/<int:pk>", import_api.ImportDetailApi.as_view(), name="api-import"),
]
