"""API of the incidents app: imports and the harm index (paths under /api/v1/)."""

from django.urls import path

from backend.incidents import api, import_api_urls

urlpatterns = [
    path("harm-index", api.HarmIndexApi.as_view(), name="api-harm-index"),
    *import_api_urls.urlpatterns,
]
