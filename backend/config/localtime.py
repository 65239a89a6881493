"""The agency's local calendar: every app buckets days in ``settings.TIME_ZONE``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def agency_zone() -> ZoneInfo:
    """The agency's time zone, ``settings.TIME_ZONE`` (set by ``backend.config.settings``)."""
    name = settings.TIME_ZONE
    if not name:
        raise ImproperlyConfigured("TIME_ZONE must name the agency's time zone")
    return ZoneInfo(name)


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware ``[start, end)`` of agency-local ``day`` (23 or 25 hours across DST)."""
    tz = agency_zone()
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end
