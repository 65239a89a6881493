"""Incident data: offence types and their versioned harm weights, column mappings, incident
imports and the incidents themselves.

The tables keep the names they had when these models lived in ``backend.hotspots``
(``hotspots_incident`` ...): the move was a state-only migration, so no row was copied.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class OffenceGroup(models.TextChoices):
    VIOLENT = "violent", "Violent"
    PROPERTY = "property", "Property"
    QUALITY_OF_LIFE = "qol", "Quality of life"


class OffenceType(models.Model):
    """A stable offence identity; its harm weight lives in a versioned table."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    group = models.CharField(max_length=10, choices=OffenceGroup.choices)
    aliases = models.JSONField(
        default=list, blank=True, help_text="Other names records systems use for this offence."
    )

    class Meta:
        db_table = "hotspots_offencetype"
        ordering = ["group", "name"]

    def __str__(self) -> str:
        return self.name


class HarmWeightVersion(models.Model):
    """One edition of the harm index; every edit makes a new version, analyses record theirs."""

    number = models.PositiveIntegerField(unique=True)
    note = models.TextField(blank=True)
    is_default_table = models.BooleanField(
        default=False, help_text="Shipped defaults: review them before operational use."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )

    class Meta:
        db_table = "hotspots_harmweightversion"
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Harm index v{self.number}"


class HarmWeight(models.Model):
    version = models.ForeignKey(HarmWeightVersion, on_delete=models.CASCADE, related_name="weights")
    offence = models.ForeignKey(OffenceType, on_delete=models.PROTECT, related_name="weights")
    days = models.FloatField(help_text="Days of custody (Cambridge Crime Harm Index method).")

    class Meta:
        db_table = "hotspots_harmweight"
        constraints = [
            models.UniqueConstraint(fields=["version", "offence"], name="harm_weight_unique"),
            models.CheckConstraint(condition=Q(days__gte=0), name="harm_weight_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.offence_id}: {self.days} days (v{self.version_id})"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ColumnMapping(models.Model):
    """A saved way of reading one records system's export, chosen by name at import time.

    ``columns`` maps Presence fields (id, occurred_at, lat, lon, offence, premise) to the
    file's column names; ``offence_aliases`` maps the file's offence values to offence codes.
    """

    name = models.CharField(max_length=80, unique=True)
    source = models.CharField(max_length=60, help_text="Records system the ids belong to.")
    columns = models.JSONField(default=dict)
    time_zone = models.CharField(max_length=64, blank=True)
    offence = models.CharField(
        max_length=60, blank=True, help_text="Offence code for files with one offence type."
    )
    offence_aliases = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "hotspots_columnmapping"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IncidentImport(models.Model):
    """One uploaded file; a retried upload (same client UUID) is stored once."""

    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    source = models.CharField(max_length=60, help_text="Records system the ids belong to.")
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default="pending")
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejections = models.JSONField(
        default=list, blank=True, help_text="[{line, field, reason}], first 1,000."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "hotspots_incidentimport"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["file_sha256"], name="import_sha_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_done__lte=F("rows_total")) | Q(rows_total=0),
                name="import_progress_le_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class Incident(models.Model):
    source = models.CharField(max_length=60)
    source_id = models.CharField(max_length=80)
    occurred_at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    # No single-column indexes on these foreign keys: every index costs bulk imports ~10%, and
    # the queries that filter on them use the composite (district, occurred_at) index or are
    # rare admin lookups (offence, import).
    offence = models.ForeignKey(
        OffenceType, on_delete=models.PROTECT, related_name="incidents", db_index=False
    )
    premise = models.CharField(max_length=60, blank=True, help_text="Place type, e.g. street.")
    district = models.ForeignKey(
        "accounts.District", on_delete=models.SET_NULL, null=True, blank=True, db_index=False
    )
    imported_by = models.ForeignKey(
        IncidentImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        db_index=False,
    )

    class Meta:
        db_table = "hotspots_incident"
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="incident_source_unique"),
            models.CheckConstraint(condition=Q(lat__gte=-90, lat__lte=90), name="incident_lat"),
            models.CheckConstraint(condition=Q(lon__gte=-180, lon__lte=180), name="incident_lon"),
        ]
        indexes = [
            models.Index(fields=["occurred_at"], name="incident_time_idx"),
            models.Index(fields=["district", "occurred_at"], name="incident_district_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id}"
