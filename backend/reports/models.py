"""Stored report results: daily compliance per hot spot, officer and squad, and the Chief's
daily snapshot."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Scope(models.TextChoices):
    HOTSPOT = "hotspot", "Hot spot"
    OFFICER = "officer", "Officer"
    SQUAD = "squad", "Squad"


class ComplianceDay(models.Model):
    """Prescribed against delivered dose on one agency-local day, for one hot spot, officer or
    squad (``scope``). Derived from visits, device gaps and prescriptions by
    ``services.compliance_day_rebuild``, which replaces a day's rows as a whole: never
    incremented. Column meanings: ``backend.analytics.compliance``."""

    day = models.DateField()
    scope = models.CharField(max_length=10, choices=Scope.choices)
    hotspot = models.ForeignKey("hotspots.Hotspot", on_delete=models.CASCADE, null=True, blank=True)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    squad = models.ForeignKey("accounts.Squad", on_delete=models.CASCADE, null=True, blank=True)
    arm = models.CharField(
        max_length=10,
        blank=True,
        help_text="Hot spot rows: treatment, control, or blank (no experiment: treated).",
    )
    prescribed_visits = models.PositiveIntegerField(default=0)
    delivered_visits = models.PositiveIntegerField(default=0)
    koper_visits = models.PositiveIntegerField(default=0)
    prescribed_minutes = models.FloatField(default=0)
    delivered_minutes = models.FloatField(default=0)
    officer_minutes = models.FloatField(default=0)
    patrol_minutes = models.FloatField(default=0)
    avl_minutes = models.FloatField(default=0, help_text="Background presence from AVL feeds.")
    contamination_minutes = models.FloatField(default=0)
    gap_minutes = models.FloatField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-day", "scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["hotspot", "day"],
                condition=Q(scope="hotspot"),
                name="compliance_hotspot_day",
            ),
            models.UniqueConstraint(
                fields=["officer", "day"],
                condition=Q(scope="officer"),
                name="compliance_officer_day",
            ),
            models.UniqueConstraint(
                fields=["squad", "day"], condition=Q(scope="squad"), name="compliance_squad_day"
            ),
            models.CheckConstraint(
                condition=Q(scope="hotspot", hotspot__isnull=False, officer__isnull=True)
                | Q(scope="officer", officer__isnull=False, hotspot__isnull=True)
                | Q(scope="squad", squad__isnull=False, hotspot__isnull=True, officer__isnull=True),
                name="compliance_scope_key",
            ),
            models.CheckConstraint(
                condition=Q(
                    prescribed_minutes__gte=0,
                    delivered_minutes__gte=0,
                    officer_minutes__gte=0,
                    patrol_minutes__gte=0,
                    avl_minutes__gte=0,
                    contamination_minutes__gte=0,
                    gap_minutes__gte=0,
                ),
                name="compliance_minutes_nonnegative",
            ),
        ]
        indexes = [models.Index(fields=["scope", "day"], name="compliance_scope_day_idx")]

    def __str__(self) -> str:
        key = self.hotspot_id or self.officer_id or self.squad_id
        return f"{self.scope} {key} on {self.day}: {self.delivered_visits}/{self.prescribed_visits}"


class RecomputeStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ComplianceRecompute(models.Model):
    """A requested recomputation of the compliance rows of a range of days, with progress."""

    first_day = models.DateField()
    last_day = models.DateField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    status = models.CharField(max_length=10, choices=RecomputeStatus.choices, default="queued")
    days_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last_day__gte=F("first_day")), name="recompute_range_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Recompute {self.first_day}..{self.last_day} ({self.status})"

    @property
    def days_total(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def percent(self) -> int:
        return round(100 * self.days_done / self.days_total)


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
    dose = models.JSONField(
        default=dict,
        help_text="Prescribed vs delivered dose of the day: {prescribed_visits, delivered_visits, "
        "pct_delivered, prescribed_minutes, delivered_minutes, koper_visits, "
        "contamination_minutes, gap_minutes}.",
    )
    by_squad = models.JSONField(default=list, help_text="Compliance by squad: [{squad, ...}].")
    top_officers = models.JSONField(
        default=list, help_text="Officers with the most dose delivered: [{officer, ...}]."
    )
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

    @property
    def incidents_outside_hotspots(self) -> int:
        return self.incidents - self.incidents_in_hotspots

    @property
    def harm_outside_hotspots(self) -> float:
        return self.harm - self.harm_in_hotspots
