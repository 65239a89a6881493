"""The agency's local calendar: every app buckets days in ``settings.TIME_ZONE``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The aware ``[start, end)`` of agency-local ``day`` (23 or 25 hours across DST)."""
    tz = ZoneInfo(settings.TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start, end
