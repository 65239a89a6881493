"""Patrol sessions, pings, activities, derived visits and AVL feeds.

Location is stored only inside a patrol session the officer started; every write from a phone
carries a client UUID that a unique constraint makes exactly-once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class PatrolSession(models.Model):
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patrol_sessions"
    )
    client_uuid = models.UUIDField()
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # The rollup an ended session owes is recorded in the row that ends it: a lost message
    # (broker down, worker killed) is picked up by the every-minute sweep.
    rollup_queued_at = models.DateTimeField(null=True, blank=True)
    rolled_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["officer", "client_uuid"], name="session_client_unique"
            ),
            models.UniqueConstraint(
                fields=["officer"], condition=Q(ended_at__isnull=True), name="session_one_open"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="session_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["officer", "started_at"], name="session_officer_idx"),
            models.Index(
                fields=["ended_at"],
                condition=Q(ended_at__isnull=False, rolled_up_at__isnull=True),
                name="session_rollup_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} of {self.officer_id}"


class AvlUnit(models.Model):
    """A vehicle whose AVL feed is ingested through a service account."""

    call_sign = models.CharField(max_length=40, unique=True)
    district = models.ForeignKey(
        "accounts.District", on_delete=models.SET_NULL, null=True, blank=True
    )

    def __str__(self) -> str:
        return self.call_sign


class Ping(models.Model):
    """One location fix: from an officer's phone (``officer``) or a vehicle's AVL (``unit``).

    On PostgreSQL the table is partitioned by agency-local day on ``recorded_at``
    (``backend/patrols/partitions.py``; ``docs/data-retention.md``): the primary key there is
    (id, recorded_at), and a fix is identified by (party, recorded_at, client_uuid), the rule
    the exactly-once constraints below follow. A retried fix is re-sent unchanged, so it lands
    in the same partition as the stored one and conflicts with it.

    Indexes serve the queries that run, nothing else: each exactly-once index leads with
    (party, recorded_at), so it also serves every per-officer and per-unit time range (rollup,
    track, live presence, the duplicate look-up). The foreign keys carry no index of their own:
    those indexes served no query and every insert paid for them (a user or unit is found
    through the exactly-once index; no query reads pings by session, and sessions are never
    deleted).
    """

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # ping_officer_time_uuid leads with officer
    )
    unit = models.ForeignKey(
        AvlUnit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,  # ping_unit_time_uuid leads with unit
    )
    session = models.ForeignKey(
        PatrolSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pings",
        db_index=False,  # no query reads pings by session
    )
    client_uuid = models.UUIDField()
    recorded_at = models.DateTimeField(help_text="Device time.")
    received_at = models.DateTimeField(help_text="Server time on receipt.")
    clock_skewed = models.BooleanField(
        default=False, help_text="Device clock more than 5 minutes off the server's."
    )
    lat = models.FloatField()
    lon = models.FloatField()
    accuracy_m = models.FloatField()
    speed_mps = models.FloatField(null=True, blank=True)
    heading_deg = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            # Partial: phone pings never pay for the AVL index and vice versa. recorded_at is
            # in the key because a unique index of a partitioned table must hold the partition
            # key; it comes second so that the index serves (party, time range) reads too.
            models.UniqueConstraint(
                fields=["officer", "recorded_at", "client_uuid"],
                condition=Q(officer__isnull=False),
                name="ping_officer_time_uuid",
            ),
            models.UniqueConstraint(
                fields=["unit", "recorded_at", "client_uuid"],
                condition=Q(unit__isnull=False),
                name="ping_unit_time_uuid",
            ),
            models.CheckConstraint(
                condition=(Q(officer__isnull=False, session__isnull=False, unit__isnull=True))
                | Q(officer__isnull=True, session__isnull=True, unit__isnull=False),
                name="ping_officer_in_session_or_unit",
            ),
            models.CheckConstraint(condition=Q(lat__gte=-90, lat__lte=90), name="ping_lat"),
            models.CheckConstraint(condition=Q(lon__gte=-180, lon__lte=180), name="ping_lon"),
            models.CheckConstraint(condition=Q(accuracy_m__gte=0), name="ping_accuracy"),
            models.CheckConstraint(
                condition=Q(speed_mps__isnull=True) | Q(speed_mps__gte=0), name="ping_speed"
            ),
            models.CheckConstraint(
                condition=Q(heading_deg__isnull=True) | Q(heading_deg__gte=0, heading_deg__lt=360),
                name="ping_heading",
            ),
        ]

    def __str__(self) -> str:
        return f"Ping {self.client_uuid} at {self.recorded_at:%Y-%m-%d %H:%M:%S}"


class ActivityType(models.Model):
    """The configurable list of things an officer logs (foot patrol, stop/engagement, ...)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Activity(models.Model):
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities"
    )
    session = models.ForeignKey(PatrolSession, on_delete=models.PROTECT, null=True, blank=True)
    mission = models.ForeignKey(
        "missions.Mission", on_delete=models.SET_NULL, null=True, blank=True
    )
    client_uuid = models.UUIDField()
    kind = models.ForeignKey(ActivityType, on_delete=models.PROTECT)
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField()
    note = models.TextField(blank=True, max_length=2000)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(
                fields=["officer", "client_uuid"], name="activity_officer_uuid"
            ),
            models.CheckConstraint(
                condition=(Q(lat__isnull=True) & Q(lon__isnull=True))
                | Q(lat__gte=-90, lat__lte=90, lon__gte=-180, lon__lte=180),
                name="activity_position",
            ),
        ]
        indexes = [models.Index(fields=["officer", "recorded_at"], name="activity_officer_idx")]

    def __str__(self) -> str:
        return f"{self.kind_id} by {self.officer_id} at {self.recorded_at:%Y-%m-%d %H:%M}"


class TravelMode(models.TextChoices):
    FOOT = "foot", "Foot"
    VEHICLE = "vehicle", "Vehicle"
    MIXED = "mixed", "Mixed"
    STATIONARY = "stationary", "Stationary"


class Visit(models.Model):
    """Derived from pings by the rollup; an officer-day's visits are replaced as a whole."""

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    unit = models.ForeignKey(AvlUnit, on_delete=models.CASCADE, null=True, blank=True)
    hotspot = models.ForeignKey("hotspots.Hotspot", on_delete=models.CASCADE)
    day = models.DateField(help_text="Agency-local day the visit started.")
    entered_at = models.DateTimeField()
    exited_at = models.DateTimeField()
    dwell_s = models.FloatField()
    stopped_s = models.FloatField(default=0)
    gaps_s = models.FloatField(default=0)
    mode = models.CharField(max_length=12, choices=TravelMode.choices)
    koper_compliant = models.BooleanField(default=False)

    class Meta:
        ordering = ["entered_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(exited_at__gte=F("entered_at")), name="visit_exit_after_entry"
            ),
            models.CheckConstraint(
                condition=Q(dwell_s__gte=0, stopped_s__gte=0, gaps_s__gte=0),
                name="visit_durations_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(officer__isnull=False) | Q(unit__isnull=False), name="visit_has_party"
            ),
        ]
        indexes = [
            models.Index(fields=["hotspot", "day"], name="visit_hotspot_day_idx"),
            models.Index(fields=["officer", "day"], name="visit_officer_day_idx"),
        ]

    def __str__(self) -> str:
        return (
            f"Visit to {self.hotspot_id} at {self.entered_at:%Y-%m-%d %H:%M} ({self.dwell_s:.0f} s)"
        )


class DeviceGap(models.Model):
    """A stretch of a patrol in which the phone (or vehicle) reported no fix for longer than the
    gap tolerance. Derived by the rollup with the visits and replaced with them. ``hotspot`` is
    set when the fixes on both sides of the gap lie in the same hot spot: presence there is
    unknown, and reports show it as a gap, never as absence."""

    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True
    )
    unit = models.ForeignKey(AvlUnit, on_delete=models.CASCADE, null=True, blank=True)
    hotspot = models.ForeignKey(
        "hotspots.Hotspot", on_delete=models.SET_NULL, null=True, blank=True
    )
    day = models.DateField(help_text="Agency-local day of the rollup that found it.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()

    class Meta:
        ordering = ["started_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gt=F("started_at")), name="device_gap_order"
            ),
            models.CheckConstraint(
                condition=Q(officer__isnull=False) | Q(unit__isnull=False),
                name="device_gap_has_party",
            ),
        ]
        indexes = [models.Index(fields=["officer", "day"], name="device_gap_officer_day_idx")]

    def __str__(self) -> str:
        return f"Gap {self.started_at:%Y-%m-%d %H:%M}-{self.ended_at:%H:%M}"

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()
