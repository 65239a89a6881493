from django.urls import path

from backend.reports import api

urlpatterns = [
    path("snapshots", api.SnapshotListApi.as_view(), name="api-snapshots"),
    path("snapshots/<str:day>", api.SnapshotDetailApi.as_view(), name="api-snapshot"),
]
