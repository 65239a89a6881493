from __future__ import annotations

from typing import Any

from rest_framework import generics, serializers

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.reports.models import DailySnapshot
from backend.reports.selectors import snapshot_list


class SnapshotOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DailySnapshot
        fields = [
            "day",
            "incidents",
            "harm",
            "incidents_in_hotspots",
            "harm_in_hotspots",
            "by_district",
            "by_group",
            "notable",
            "weights_version",
            "computed_at",
        ]


class SnapshotListApi(generics.ListAPIView):
    """Daily snapshots, newest first (supervisors and analysts)."""

    serializer_class = SnapshotOutputSerializer
    permission_classes = [role_permission(Role.SUPERVISOR, Role.ANALYST)]

    def get_queryset(self) -> Any:
        return snapshot_list()


class SnapshotDetailApi(generics.RetrieveAPIView):
    """One day's snapshot by its ISO date."""

    serializer_class = SnapshotOutputSerializer
    permission_classes = [role_permission(Role.SUPERVISOR, Role.ANALYST)]
    lookup_field = "day"

    def get_queryset(self) -> Any:
        return snapshot_list()
