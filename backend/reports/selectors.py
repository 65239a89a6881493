from __future__ import annotations

from django.db.models import QuerySet

from backend.reports.models import DailySnapshot


def snapshot_list() -> QuerySet[DailySnapshot]:
    return DailySnapshot.objects.order_by("-day")
