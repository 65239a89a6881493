from django.urls import path

from backend.reports import views

app_name = "reports"

urlpatterns = [
    path("snapshot/", views.snapshot_page, name="snapshot"),
    path("snapshot/recompute", views.snapshot_recompute, name="snapshot-recompute"),
    path("snapshot.csv", views.snapshot_csv, name="snapshot-csv"),
    path("compliance/", views.compliance_page, name="compliance"),
    path("compliance.csv", views.compliance_csv, name="compliance-csv"),
    path("compliance.geojson", views.compliance_geojson_export, name="compliance-geojson"),
    path("compliance/recompute", views.compliance_recompute, name="compliance-recompute"),
    path("squad/", views.squad_page, name="squad"),
    path("squad.csv", views.squad_csv, name="squad-csv"),
]

from backend.reports import impact_views  # noqa: E402

urlpatterns += [
    path("impact/", impact_views.impact_index, name="impact"),
    path(
        "experiments/<int:pk>/impact/",
        impact_views.experiment_impact_page,
        name="experiment-impact",
    ),
    path(
        "experiments/<int:pk>/impact/chart.svg",
        impact_views.experiment_impact_chart,
        name="experiment-impact-chart",
    ),
    path(
        "experiments/<int:pk>/impact.csv",
        impact_views.experiment_impact_csv,
        name="experiment-impact-csv",
    ),
    path(
        "experiments/<int:pk>/impact.gpkg",
        impact_views.experiment_impact_gpkg,
        name="experiment-impact-gpkg",
    ),
    path(
        "experiments/<int:pk>/impact.json",
        impact_views.experiment_impact_json,
        name="experiment-impact-json",
    ),
]
