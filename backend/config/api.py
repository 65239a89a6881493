"""Small pieces every app's API shares: a bounded JSON parser, latitude bounds, error mapping."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

# The local projection (analytics/projection.py) is defined to +-89 degrees: a position nearer a
# pole is refused with this bound instead of failing in the projection.
MAX_LAT = 89.0
MAX_JSON_DEPTH = 32  # the deepest body any endpoint takes is 3 levels
# The agency days an API input may name: no data this system holds is older than 2000, and no one
# plans, schedules or reports more than a year ahead. A day outside (year 200, year 9999) is a
# typing error that would otherwise create missions or windows no one can read.
EARLIEST_DAY = date(2000, 1, 1)
DAYS_AHEAD = 366


class AgencyDayField(serializers.DateField):
    """An agency-local day (``YYYY-MM-DD``) from ``EARLIEST_DAY`` to a year after today."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        latest = timezone.localdate() + timedelta(days=DAYS_AHEAD)
        if not EARLIEST_DAY <= day <= latest:
            raise serializers.ValidationError(f"must be a day from {EARLIEST_DAY} to {latest}")
        return day


def drf_validation_error(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as DRF's: a 400 naming each field and why."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSON with bounds a request body must keep: nesting at most ``MAX_JSON_DEPTH`` levels, no
    NaN or Infinity (unless ``allow_non_finite``), integers of at most 4,300 digits (Python's
    limit). Any breach is a 400 with the reason, never a 500. The body's size is bounded by
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (a JSON 413, see ``accounts.views.error_400``)."""

    allow_non_finite = False

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        if stream is None:
            return {}
        try:
            text = stream.read().decode("utf-8")
            data = json.loads(
                text, parse_constant=None if self.allow_non_finite else _refuse_constant
            )
        except RecursionError as exc:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
        return data
