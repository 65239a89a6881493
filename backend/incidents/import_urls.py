"""Web pages for incident imports (upload, progress, rejected rows)."""

from django.urls import path

from backend.incidents import import_views

urlpatterns = [
    path("imports/", import_views.import_list, name="imports"),
    path("imports/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/status", import_views.import_status, name="import-status"),
    path(
        "imports/<int:pk>/rejected.csv",
        import_views.import_rejections_csv,
        name="import-rejections-csv",
    ),
    path(
        "imports/<int:pk>/map-offence", import_views.import_map_offence, name="import-map-offence"
    ),
]
