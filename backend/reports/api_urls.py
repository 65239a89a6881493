from django.urls import path

from backend.reports import api

urlpatterns = [
    path("snapshots", api.SnapshotListApi.as_view(), name="api-snapshots"),
    path("snapshots/<str:day>", api.SnapshotDetailApi.as_view(), name="api-snapshot"),
    path("compliance", api.ComplianceApi.as_view(), name="api-compliance"),
    path("compliance/days", api.ComplianceDaysApi.as_view(), name="api-compliance-days"),
    path("compliance/me", api.ComplianceMeApi.as_view(), name="api-compliance-me"),
    path(
        "compliance/recompute",
        api.ComplianceRecomputeApi.as_view(),
        name="api-compliance-recompute",
    ),
    path(
        "compliance/recompute/<int:pk>",
        api.ComplianceRecomputeStatusApi.as_view(),
        name="api-compliance-recompute-status",
    ),
    path("presence/live", api.PresenceLiveApi.as_view(), name="api-presence-live"),
]

from backend.reports import impact_api  # noqa: E402

urlpatterns += [
    path(
        "experiments/<int:pk>/impact",
        impact_api.ExperimentImpactApi.as_view(),
        name="api-experiment-impact",
    ),
]
