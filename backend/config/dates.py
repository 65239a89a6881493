"""The window of dates that make sense for schedules, reports, analyses and imports.

One place defines it: a shift schedule for 0200-03-01 or a report of 9999 is a typing slip,
refused with the window in the message, never a row in year 200. Every date a person types
(forms, API bodies and query parameters, imported files) is checked against it.
"""

from __future__ import annotations

from datetime import date, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers

FIRST_SANE_DAY = date(2000, 1, 1)  # before any data this system holds
YEARS_AHEAD = 2  # plans and experiments are set months, not years, ahead


def sane_window(*, today: date | None = None) -> tuple[date, date]:
    """(first, last) day accepted: 2000-01-01 to 31 December two years after ``today``
    (default the agency's today)."""
    today = today or timezone.localdate()
    return FIRST_SANE_DAY, date(today.year + YEARS_AHEAD, 12, 31)


def sane_date_problem(value: date | datetime) -> str | None:
    """Why ``value`` (a day or a datetime) is outside the window, or None when it is inside."""
    first, last = sane_window()
    # A datetime is judged by the day it names in its own offset: converting year 9999 at
    # -14:00 to local time would overflow.
    day = value.date() if isinstance(value, datetime) else value
    if first <= day <= last:
        return None
    return f"must be between {first.isoformat()} and {last.isoformat()}"


def validate_sane_date(value: date | datetime) -> None:
    """Django validator (forms and DRF fields both run it)."""
    problem = sane_date_problem(value)
    if problem:
        raise ValidationError(problem, code="date_out_of_range")


class SaneDateField(forms.DateField):
    default_validators = [validate_sane_date]


class SaneDateTimeField(forms.DateTimeField):
    default_validators = [validate_sane_date]


class SaneDateSerializerField(serializers.DateField):
    default_validators = [validate_sane_date]


class SaneDateTimeSerializerField(serializers.DateTimeField):
    default_validators = [validate_sane_date]
