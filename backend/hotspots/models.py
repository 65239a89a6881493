"""Analyses (runs and their grid cells) and hot spots; incident data is in ``backend.incidents``."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from backend.incidents.models import HarmWeightVersion, ImportStatus


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


class HandDrawnHotspot(Hotspot):
    """The admin's view of hand-drawn hot spots (same table)."""

    class Meta:
        proxy = True
        verbose_name = "hand-drawn hot spot"
