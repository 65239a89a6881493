"""Workload: imported calls for service, rosters and 24x7 matrices, per district.

The hour-by-day matrices themselves are computed on demand (``selectors``) from these rows by
``backend.analytics.workload``; nothing derived is stored except the matrices an analyst
imports directly when that is all they have.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class ImportKind(models.TextChoices):
    CALLS = "calls", "Calls for service (CAD)"
    ROSTER = "roster", "Roster"
    MATRIX_CFS = "matrix_cfs", "CFS hours matrix (24x7)"
    MATRIX_AVAILABLE = "matrix_available", "Available hours matrix (24x7)"


class MatrixKind(models.TextChoices):
    CFS = "cfs", "Calls-for-service hours"
    AVAILABLE = "available", "Available hours"


class WorkloadImport(models.Model):
    """One accepted file. A file with any bad row is refused whole and leaves no row here."""

    client_uuid = models.UUIDField(
        default=uuid.uuid4, unique=True, help_text="A retried upload carries the same UUID."
    )
    kind = models.CharField(max_length=20, choices=ImportKind.choices)
    district = models.ForeignKey(
        "accounts.District",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Matrices only: the district the matrix describes; empty means citywide.",
    )
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0, help_text="Data rows in the file.")
    imported = models.PositiveIntegerField(default=0, help_text="Rows stored.")
    duplicates = models.PositiveIntegerField(default=0, help_text="Rows already stored.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.pk} ({self.file_name})"


class CallRecord(models.Model):
    """One responding unit's part in a call: busy from en route to clear."""

    source_import = models.ForeignKey(WorkloadImport, on_delete=models.PROTECT, related_name="+")
    call_id = models.CharField(max_length=80)
    unit = models.CharField(max_length=80)
    unit_district = models.ForeignKey(
        "accounts.District",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty: a unit that belongs to no district (e.g. traffic, K9).",
    )
    call_district = models.ForeignKey(
        "accounts.District", on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField()
    en_route_at = models.DateTimeField(help_text="Dispatched / en route: the unit's time starts.")
    on_scene_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField()
    priority = models.CharField(max_length=20, blank=True)
    self_initiated = models.BooleanField(default=False)

    class Meta:
        constraints = [
            # A re-imported export (or an overlapping one) stores each unit's response once.
            models.UniqueConstraint(
                fields=["call_id", "unit", "en_route_at"], name="call_record_unit_once"
            ),
            models.CheckConstraint(
                condition=Q(cleared_at__gte=F("en_route_at")), name="call_record_order"
            ),
        ]
        indexes = [
            models.Index(fields=["en_route_at"], name="call_record_en_route"),
            models.Index(fields=["call_district", "en_route_at"], name="call_record_district"),
        ]

    def __str__(self) -> str:
        return f"Call {self.call_id} / {self.unit}"


class RosterShift(models.Model):
    """One officer's (or unit's) shift on duty, and the meal and court minutes within it."""

    source_import = models.ForeignKey(WorkloadImport, on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(max_length=80, help_text="Officer or unit.")
    district = models.ForeignKey("accounts.District", on_delete=models.PROTECT, related_name="+")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    meal_minutes = models.PositiveIntegerField(default=0)
    court_minutes = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["unit", "start_at"], name="roster_shift_once"),
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="roster_order"),
        ]
        indexes = [models.Index(fields=["district", "start_at"], name="roster_district_start")]

    def __str__(self) -> str:
        return f"{self.unit} from {self.start_at:%Y-%m-%d %H:%M}"


class WorkloadMatrix(models.Model):
    """An imported 24x7 matrix (a typical week, hours per week), for a district or citywide.

    ``values``: 24 lists (hours 00..23) of 7 numbers (Monday..Sunday). A new import of the same
    kind and district replaces it."""

    kind = models.CharField(max_length=20, choices=MatrixKind.choices)
    district = models.ForeignKey(
        "accounts.District", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    values = models.JSONField()
    source_import = models.ForeignKey(WorkloadImport, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "district"],
                condition=Q(district__isnull=False),
                name="workload_matrix_district_once",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(district__isnull=True),
                name="workload_matrix_citywide_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.district or 'citywide'}"
