"""Users and their roles, squads, districts and beats.

A district's or beat's boundary is a GeoJSON Polygon or MultiPolygon in WGS84 (lon, lat order, as
GeoJSON requires), stored as JSON with its bounding box in columns for cheap pre-filtering;
geometry work happens in shapely (see ``backend.analytics``), so no spatial database is needed.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OFFICER = "officer", _("Officer")
    SERGEANT = "sergeant", _("Sergeant")
    SUPERVISOR = "supervisor", _("Supervisor")
    ANALYST = "analyst", _("Analyst")
    ADMIN = "admin", _("Administrator")
    SERVICE = "service", _("Service account (AVL feed)")


class District(models.Model):
    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=40, unique=True)
    boundary = models.JSONField(help_text="GeoJSON Polygon or MultiPolygon, WGS84 lon/lat.")
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_lat__gte=-90, max_lat__lte=90, min_lat__lte=models.F("max_lat")),
                name="district_lat_range",
            ),
            models.CheckConstraint(
                condition=Q(min_lon__gte=-180, max_lon__lte=180, min_lon__lte=models.F("max_lon")),
                name="district_lon_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Beat(models.Model):
    """A patrol beat: a named area within a district, with its own boundary (same format)."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="beats")
    name = models.CharField(max_length=100)
    code = models.SlugField(max_length=40, unique=True)
    boundary = models.JSONField(help_text="GeoJSON Polygon or MultiPolygon, WGS84 lon/lat.")
    min_lat = models.FloatField()
    min_lon = models.FloatField()
    max_lat = models.FloatField()
    max_lon = models.FloatField()

    class Meta:
        ordering = ["district", "name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="beat_name_per_district"),
            models.CheckConstraint(
                condition=Q(min_lat__gte=-90, max_lat__lte=90, min_lat__lte=models.F("max_lat")),
                name="beat_lat_range",
            ),
            models.CheckConstraint(
                condition=Q(min_lon__gte=-180, max_lon__lte=180, min_lon__lte=models.F("max_lon")),
                name="beat_lon_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.district})"


class Squad(models.Model):
    name = models.CharField(max_length=100, unique=True)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="squads")
    sergeant = models.ForeignKey(
        "accounts.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="led_squads",
        limit_choices_to={"role": Role.SERGEANT},
    )
    shift_start = models.TimeField(help_text="Local start of the squad's usual shift.")
    shift_hours = models.PositiveSmallIntegerField(default=10)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(shift_hours__gte=1, shift_hours__lte=24), name="squad_shift_hours_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OFFICER)
    squad = models.ForeignKey(
        Squad, on_delete=models.SET_NULL, null=True, blank=True, related_name="members"
    )
    badge_number = models.CharField(max_length=20, blank=True)
    language = models.CharField(
        max_length=10,
        blank=True,
        choices=[("en", "English"), ("es", "Español")],
        help_text="The language of the pages and the app; blank follows the browser or phone.",
    )

    class Meta:
        indexes = [models.Index(fields=["role", "squad"], name="user_role_squad_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["badge_number"],
                condition=~Q(badge_number=""),
                name="user_badge_unique_when_set",
            ),
        ]

    def __str__(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username

    @property
    def is_officer(self) -> bool:
        return self.role == Role.OFFICER

    def has_role(self, *roles: str) -> bool:
        """True if the user holds one of ``roles``; an admin holds every role."""
        return self.is_active and (self.role in roles or self.role == Role.ADMIN)
