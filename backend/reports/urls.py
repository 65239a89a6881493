from django.urls import path

from backend.reports import views

app_name = "reports"

urlpatterns = [
    path("snapshot/", views.snapshot_page, name="snapshot"),
    path("snapshot/recompute", views.snapshot_recompute, name="snapshot-recompute"),
    path("snapshot.csv", views.snapshot_csv, name="snapshot-csv"),
]
