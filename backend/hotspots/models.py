"""Offence types and their versioned harm weights, incidents, imports, analyses, hot spots."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from backend.analytics.street import street_brief
from backend.hotspots.address import coordinates_words


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
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Harm index v{self.number}"


class HarmWeight(models.Model):
    version = models.ForeignKey(HarmWeightVersion, on_delete=models.CASCADE, related_name="weights")
    offence = models.ForeignKey(OffenceType, on_delete=models.PROTECT, related_name="weights")
    days = models.FloatField(help_text="Days of custody (Cambridge Crime Harm Index method).")

    class Meta:
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

    ``columns`` maps Presence fields (id, occurred_at, lat, lon, offence, premise, block,
    intersection) to the file's column names; ``offence_aliases`` maps the file's offence values
    to offence codes.
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
    block = models.CharField(
        max_length=120,
        blank=True,
        help_text="Block address or intersection as the file gives it, e.g. 001XX W MADISON ST.",
    )
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


class AnalysisRun(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    as_of = models.DateField(help_text="The look-back ends at the start of this day.")
    lookback_days = models.PositiveIntegerField(default=365)
    cell_size_m = models.FloatField(default=150.0)
    top_k = models.PositiveIntegerField(default=20)
    window = models.CharField(max_length=60, blank=True, help_text='e.g. "Fri-Sat 20:00-04:00"')
    district = models.ForeignKey(
        "accounts.District", on_delete=models.PROTECT, null=True, blank=True
    )
    weights_version = models.ForeignKey(HarmWeightVersion, on_delete=models.PROTECT)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default="pending")
    incidents_analysed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    grid = models.JSONField(
        default=dict, blank=True, help_text="Grid geometry: cell size, origin, extent in cells."
    )
    concentration = models.JSONField(default=dict, blank=True)
    stability = models.JSONField(default=dict, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    publish_requested = models.BooleanField(
        default=False, help_text="Publish as soon as the analysis succeeds."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(
        default=False, help_text="Its hot spots are the ones missions use."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(lookback_days__gte=1), name="run_lookback_positive"),
            models.CheckConstraint(
                condition=Q(cell_size_m__gte=10, cell_size_m__lte=2000), name="run_cell_size_range"
            ),
            models.CheckConstraint(condition=Q(top_k__gte=1), name="run_top_k_positive"),
            # One published run at a time: its hot spots are the ones missions use.
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="run_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"Analysis {self.pk} as of {self.as_of}"


class GridCell(models.Model):
    """A non-empty cell of a run's grid; ix, iy are global: floor(metres from origin / size)."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="cells")
    ix = models.IntegerField()
    iy = models.IntegerField()
    lat = models.FloatField(help_text="Cell centre.")
    lon = models.FloatField(help_text="Cell centre.")
    count = models.PositiveIntegerField()
    harm = models.FloatField()
    gi_z = models.FloatField()
    hotspot_rank = models.PositiveIntegerField(
        null=True, blank=True, help_text="Rank of the hot spot this cell belongs to, if any."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "ix", "iy"], name="gridcell_unique"),
        ]

    def __str__(self) -> str:
        return f"cell ({self.ix}, {self.iy}) of run {self.run_id}"


class Hotspot(models.Model):
    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="hotspots")
    rank = models.PositiveIntegerField()
    district = models.ForeignKey(
        "accounts.District", on_delete=models.PROTECT, null=True, blank=True
    )
    geometry = models.JSONField(help_text="GeoJSON Polygon/MultiPolygon, WGS84 lon/lat.")
    centroid_lat = models.FloatField()
    centroid_lon = models.FloatField()
    cells = models.JSONField(default=list, help_text="[[ix, iy], ...] in the run's grid.")
    harm = models.FloatField()
    incident_count = models.PositiveIntegerField()
    counts_by_offence = models.JSONField(default=dict)
    profile_24x7 = models.JSONField(default=list, help_text="7 rows (Mon..Sun) x 24 hours.")
    last_incident_at = models.DateTimeField(null=True, blank=True)
    gi_z_max = models.FloatField()
    briefing = models.JSONField(default=dict, blank=True)
    address = models.CharField(
        max_length=160,
        blank=True,
        help_text="Where it is in words: its incidents' most frequent block address or "
        "intersection, else its centre's coordinates.",
    )
    hand_drawn = models.BooleanField(
        default=False,
        help_text="Drawn by an analyst (a known trouble spot the Gi* run did not find), "
        "not computed; flagged as such in every report and export.",
    )
    note = models.TextField(blank=True, help_text="Why an analyst drew it.")

    class Meta:
        ordering = ["run", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["run", "rank"], name="hotspot_run_rank_unique"),
            models.CheckConstraint(condition=Q(harm__gte=0), name="hotspot_harm_nonnegative"),
        ]
        indexes = [models.Index(fields=["centroid_lat", "centroid_lon"], name="hotspot_pos_idx")]

    def __str__(self) -> str:
        return f"Hot spot #{self.rank} (run {self.run_id})"

    @property
    def place(self) -> str:
        """Where it is in words; a hot spot stored before addresses existed: its centre."""
        return self.address or coordinates_words(self.centroid_lat, self.centroid_lon)

    @property
    def street_brief(self) -> str:
        """The officer's one sentence: "Robberies at night near 0 block of W Madison St; ..."."""
        return street_brief(self.briefing or {}, self.place)


class HandDrawnHotspot(Hotspot):
    """The admin's view of hand-drawn hot spots (same table)."""

    class Meta:
        proxy = True
        verbose_name = "hand-drawn hot spot"
