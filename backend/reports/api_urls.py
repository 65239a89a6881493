from django.urls import path

from backend.reports import api

urlpatterns = [
    path("snapshots", api.SnapshotListApi.as_view(), name="api-snapshots"),
    path("snapshots/<str:day>", api.SnapshotDetailApi.as_view(), name="api-snapshot"),
]

from backend.reports import impact_api  # noqa: E402

urlpatterns += [
    path(
        "experiments/<int:pk>/impact",
        impact_api.ExperimentImpactApi.as_view(),
        name="api-experiment-impact",
    ),
]
