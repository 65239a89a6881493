"""Pages of the incidents app, mounted under /hotspots/ (their addresses predate the app)."""

from django.urls import path

from backend.incidents import import_urls, views

app_name = "incidents"

urlpatterns = [
    path("harm-index/", views.harm_index, name="harm"),
    *import_urls.urlpatterns,
]
