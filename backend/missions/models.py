"""Mission Menu, experiments with their allocations, missions."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class MissionType(models.Model):
    """An entry on the Mission Menu."""

    name = models.CharField(max_length=100, unique=True)
    objective = models.TextField()
    target_minutes = models.PositiveSmallIntegerField(default=15)
    tactics = models.TextField(blank=True, help_text="One tactic per line.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_minutes__gte=1, target_minutes__lte=240),
                name="mission_type_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Design(models.TextChoices):
    BLOCKED = "blocked", "Fixed arms, blocked"
    PAIRED = "paired", "Fixed arms, paired by rank"
    PLACEDAY = "placeday", "Place-day crossover (re-randomized daily)"


class ExperimentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    ENDED = "ended", "Ended"


class Blocking(models.TextChoices):
    """How blocked and place-day designs form their blocks (paired designs pair by rank)."""

    DISTRICT_TIER = "district+tier", "District and harm tier"
    DISTRICT = "district", "District"
    TIER = "tier", "Harm tier"
    NONE = "none", "No blocks (simple balanced randomization)"


class Experiment(models.Model):
    """A randomized experiment on the hot spots of one analysis run; running, it decides
    which hot spots are treated (``selectors.treatment_on``)."""

    name = models.CharField(max_length=120, unique=True)
    design = models.CharField(max_length=10, choices=Design.choices)
    status = models.CharField(max_length=10, choices=ExperimentStatus.choices, default="draft")
    seed = models.BigIntegerField(null=True, blank=True, help_text="Drawn from secrets; stored.")
    run = models.ForeignKey(
        "hotspots.AnalysisRun", on_delete=models.PROTECT, related_name="experiments"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    blocking = models.CharField(
        max_length=16, choices=Blocking.choices, default=Blocking.DISTRICT_TIER
    )
    harm_tiers = models.PositiveSmallIntegerField(
        default=2, help_text="Harm tiers per district (2 or 3) when blocks use tiers."
    )
    visits_per_shift = models.PositiveSmallIntegerField(default=3)
    minutes_per_visit = models.PositiveSmallIntegerField(default=15)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)
    randomized_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="experiment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(seed__isnull=False, started_at__isnull=False),
                name="experiment_started_has_seed",
            ),
            models.CheckConstraint(
                condition=Q(harm_tiers__in=[2, 3]), name="experiment_harm_tiers_2_or_3"
            ),
            models.CheckConstraint(
                condition=Q(visits_per_shift__gte=1, visits_per_shift__lte=12)
                & Q(minutes_per_visit__gte=1, minutes_per_visit__lte=240),
                name="experiment_dose_range",
            ),
            # The running experiment of the active run decides which hot spots are treated.
            models.UniqueConstraint(
                fields=["run"], condition=Q(status="running"), name="experiment_one_running_per_run"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Arm(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    CONTROL = "control", "Control"


class Allocation(models.Model):
    """A hot spot's arm; ``day`` is set only for place-day designs."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="allocations")
    hotspot = models.ForeignKey("hotspots.Hotspot", on_delete=models.PROTECT)
    day = models.DateField(null=True, blank=True)
    arm = models.CharField(max_length=10, choices=Arm.choices)
    block = models.CharField(max_length=60, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "hotspot"],
                condition=Q(day__isnull=True),
                name="allocation_fixed_unique",
            ),
            models.UniqueConstraint(
                fields=["experiment", "hotspot", "day"],
                condition=Q(day__isnull=False),
                name="allocation_placeday_unique",
            ),
        ]
        indexes = [models.Index(fields=["experiment", "day", "arm"], name="allocation_arm_idx")]

    def __str__(self) -> str:
        return f"{self.hotspot_id} -> {self.arm}" + (f" on {self.day}" if self.day else "")


class MissionStatus(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    ACCEPTED = "accepted", _("Accepted")
    ON_SCENE = "on_scene", _("On scene")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")
    CANCELLED = "cancelled", _("Cancelled")
    INTERRUPTED = "interrupted", _("Interrupted by a call")


OPEN_MISSION_STATUSES = (MissionStatus.ASSIGNED, MissionStatus.ACCEPTED, MissionStatus.ON_SCENE)


class DeclineReason(models.TextChoices):
    DISPATCHED = "dispatched", _("Dispatched to a call")
    UNSAFE = "unsafe", _("Unsafe")
    OTHER = "other", _("Other")


class MissionSource(models.TextChoices):
    HAND = "hand", _("Assigned by hand")
    SCHEDULE = "schedule", _("Shift schedule")
    DRAW = "draw", _("Officer's draw")


class ShiftPlan(models.Model):
    """One squad's generated Koper schedule for one shift; the seed makes it reproducible."""

    squad = models.ForeignKey("accounts.Squad", on_delete=models.PROTECT, related_name="plans")
    day = models.DateField(help_text="Agency-local day the shift starts.")
    seed = models.BigIntegerField(help_text="Drawn from secrets; stored.")
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, null=True, blank=True)
    mission_type = models.ForeignKey(MissionType, on_delete=models.PROTECT, null=True, blank=True)
    shift_start = models.DateTimeField()
    shift_end = models.DateTimeField()
    visits_per_hotspot = models.PositiveSmallIntegerField()
    visit_minutes = models.PositiveSmallIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "squad"]
        constraints = [
            # A second click on "Generate" returns this plan instead of doubling the schedule.
            models.UniqueConstraint(fields=["squad", "day"], name="shift_plan_squad_day"),
            models.CheckConstraint(
                condition=Q(shift_end__gt=F("shift_start")), name="shift_plan_window_order"
            ),
        ]

    def __str__(self) -> str:
        return f"Plan of {self.squad_id} on {self.day}"


class Mission(models.Model):
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    hotspot = models.ForeignKey("hotspots.Hotspot", on_delete=models.PROTECT)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="missions"
    )
    squad = models.ForeignKey("accounts.Squad", on_delete=models.PROTECT, null=True, blank=True)
    mission_type = models.ForeignKey(MissionType, on_delete=models.PROTECT, null=True, blank=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.PROTECT, null=True, blank=True)
    plan = models.ForeignKey(
        ShiftPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="missions"
    )
    source = models.CharField(max_length=10, choices=MissionSource.choices, default="hand")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    target_minutes = models.PositiveSmallIntegerField(default=15)
    status = models.CharField(max_length=12, choices=MissionStatus.choices, default="assigned")
    decline_reason = models.CharField(max_length=200, blank=True, choices=DeclineReason.choices)
    status_note = models.CharField(
        max_length=500, blank=True, help_text="The officer's or sergeant's note on the last change."
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was completed, declined, cancelled or interrupted.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="missions_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["window_start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gt=F("window_start")), name="mission_window_order"
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""),
                name="mission_decline_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["officer", "status"], name="mission_officer_status_idx"),
            models.Index(fields=["hotspot", "window_start"], name="mission_hotspot_time_idx"),
            models.Index(fields=["squad", "window_start"], name="mission_squad_time_idx"),
            # The draw's "taken right now" and "completed today" reads.
            models.Index(
                fields=["hotspot", "window_end"],
                condition=Q(status__in=["assigned", "accepted", "on_scene"]),
                name="mission_open_hotspot_idx",
            ),
            models.Index(
                fields=["hotspot", "ended_at"],
                condition=Q(status="completed"),
                name="mission_completed_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Mission {self.pk} {self.status}"
