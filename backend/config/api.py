"""Small pieces every app's API shares: a bounded JSON parser, latitude bounds, error mapping."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from backend.config.dates import SaneDateSerializerField

# The local projection (analytics/projection.py) is defined to +-89 degrees: a position nearer a
# pole is refused with this bound instead of failing in the projection.
MAX_LAT = 89.0
MAX_JSON_DEPTH = 32  # the deepest body any endpoint takes is 3 levels


class AgencyDayField(SaneDateSerializerField):
    """An agency-local day, ``YYYY-MM-DD`` only, inside the window of sane dates
    (``backend.config.dates``: a schedule for year 200 or a report of 9999 is refused)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", ["%Y-%m-%d"])
        super().__init__(**kwargs)


def drf_validation_error(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as DRF's: a 400 naming each field and why."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar 0, ``[]`` 1, ``[{}]`` 2), level by level, without
    recursion; stops counting past ``MAX_JSON_DEPTH``. A level of scalars (a batch's thousands
    of values) is judged by its set of types, without a Python step per value."""
    level, frontier = 0, [value]
    while frontier:
        kinds = set(map(type, frontier))
        if not any(issubclass(kind, (dict, list)) for kind in kinds):
            break
        level += 1
        if level > MAX_JSON_DEPTH:
            break
        below: list[Any] = []
        for node in frontier:
            if isinstance(node, dict):
                below.extend(node.values())
            elif isinstance(node, list):
                below.extend(node)
        frontier = below
    return level


class BoundedJSONParser(JSONParser):
    """JSON with bounds a request body must keep: nesting at most ``MAX_JSON_DEPTH`` levels, no
    NaN or Infinity (unless ``allow_non_finite``), integers of at most 4,300 digits (Python's
    limit). Any breach is a 400 with the reason, never a 500. The body's size is bounded by
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (a JSON 413, see ``accounts.views.error_400``)."""

    allow_non_finite = False

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        if stream is None:
            return {}
        raw = stream.read()
        try:
            # orjson is several times faster; anything it refuses (NaN, integers past 64 bits,
            # lone surrogates, bad JSON) is parsed again below, which accepts or explains it.
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if _depth(data) > MAX_JSON_DEPTH:
                raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
            return data
        try:
            text = raw.decode("utf-8")
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


class FastJSONRenderer(JSONRenderer):
    """DRF's JSON renderer through orjson (compact UTF-8, the same JSON for the plain values an
    ingest answer holds); any value orjson cannot write goes through DRF's renderer."""

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        if data is None:
            return b""
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().render(data, accepted_media_type, renderer_context)
