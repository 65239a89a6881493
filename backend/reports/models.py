"""Stored report results: daily compliance per hot spot, and the Chief's daily snapshot."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ComplianceDay(models.Model):
    """Prescribed against delivered dose for one hot spot on one agency-local day."""

    hotspot = models.ForeignKey("hotspots.Hotspot", on_delete=models.CASCADE)
    day = models.DateField()
    prescribed_visits = models.PositiveSmallIntegerField(default=0)
    delivered_visits = models.PositiveSmallIntegerField(default=0)
    koper_visits = models.PositiveSmallIntegerField(default=0)
    prescribed_minutes = models.FloatField(default=0)
    delivered_minutes = models.FloatField(default=0)
    avl_minutes = models.FloatField(default=0, help_text="Background presence from AVL feeds.")
    device_gap_minutes = models.FloatField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "hotspot"]
        constraints = [
            models.UniqueConstraint(fields=["hotspot", "day"], name="compliance_hotspot_day"),
            models.CheckConstraint(
                condition=Q(
                    prescribed_minutes__gte=0,
                    delivered_minutes__gte=0,
                    avl_minutes__gte=0,
                    device_gap_minutes__gte=0,
                ),
                name="compliance_minutes_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hotspot_id} on {self.day}: {self.delivered_visits}/{self.prescribed_visits}"


class DailySnapshot(models.Model):
    """The Chief's Daily Snapshot for one agency-local day; recomputed, never incremented."""

    day = models.DateField(unique=True)
    incidents = models.PositiveIntegerField(default=0)
    harm = models.FloatField(default=0)
    incidents_in_hotspots = models.PositiveIntegerField(default=0)
    harm_in_hotspots = models.FloatField(default=0)
    by_district = models.JSONField(default=list, help_text="[{district, incidents, harm}]")
    by_group = models.JSONField(default=dict, help_text="{violent: n, property: n, qol: n}")
    notable = models.JSONField(default=list, help_text="The highest-harm incidents of the day.")
    weights_version = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.CheckConstraint(
                condition=Q(harm__gte=0, harm_in_hotspots__gte=0), name="snapshot_harm_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"Snapshot {self.day}"
