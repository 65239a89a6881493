"""The OpenAPI schema's error answers: every operation documents the 4xx it can give.

drf-spectacular documents only the success answers a view names. A client (the phone app, a
script, the schema fuzzer in ``tests/config/test_api_fuzz.py``) also meets these, each a JSON
body, added here to every operation they can come from:

- 400 invalid input (an operation with a body or query parameters): ``{"field": ["why"]}``,
  ``{"detail": "why"}`` for a body that is not JSON, or ``["why"]`` from a service's check;
- 401 / 403 not signed in, an expired or revoked token, or a role that may not do this;
- 404 a path id that does not exist or that you may not see, or a page past a list's end;
- 413 a body over the size limit (an operation with a body);
- 429 past the operation's rate limit (``backend.config.throttling``), with ``Retry-After``.

A time of day (a squad's shift start) is local and has no offset: it is documented as
``HH:MM:SS`` text, not as OpenAPI's ``time`` format, which requires an offset.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import Resolver404, resolve
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from backend.config.throttling import scope_for

_DETAIL = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "Why, in plain words."}},
    "required": ["detail"],
}
_INVALID = {
    "description": "Each invalid field with its reasons, ``detail`` for a body that is not "
    "JSON, or a list of reasons.",
    "anyOf": [
        {"type": "object", "additionalProperties": True},
        {"type": "array", "items": {"type": "string"}},
    ],
}
_ERRORS = {
    "400": ("Invalid input: the reason is given by field.", "ValidationError", _INVALID),
    "401": ("Not signed in, or the token has expired or was revoked.", "Error", _DETAIL),
    "403": ("Your role, or this object, does not allow it.", "Error", _DETAIL),
    "404": ("No such object, or not one you may see.", "Error", _DETAIL),
    "409": ("Not allowed in the object's current state.", "Error", _DETAIL),
    "413": ("The request body is over the size limit.", "Error", _DETAIL),
    "429": ("Too many requests: wait the seconds in Retry-After.", "Error", _DETAIL),
}
# Sample values that make a schema path resolvable, to find its route (and rate limit).
_SAMPLES = {
    "id": "1",
    "officer_id": "1",
    "fmt": "csv",
    "layer": "districts",
    "day": "2026-01-01",
    "client_uuid": "00000000-0000-0000-0000-000000000000",
}


LOCAL_TIME = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
    "example": "07:00:00",
}


class PresenceAutoSchema(AutoSchema):
    """drf-spectacular's schema with the error answers above added to every operation."""

    def _map_serializer_field(
        self, field: Any, direction: Any, bypass_extensions: bool = False
    ) -> Any:
        if isinstance(field, serializers.TimeField):
            schema = dict(LOCAL_TIME)
            if field.help_text:
                schema["description"] = str(field.help_text)
            return schema
        # drf-spectacular's own methods carry no annotations.
        return super()._map_serializer_field(  # type: ignore[no-untyped-call]
            field, direction, bypass_extensions
        )

    def _error_response(self, code: str) -> dict[str, Any]:
        description, name, schema = _ERRORS[code]
        component = ResolvedComponent(  # type: ignore[no-untyped-call]  # untyped library class
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return {
            "description": description,
            "content": {"application/json": {"schema": component.ref}},
        }

    def _route_scope(self) -> str | None:
        path = re.sub(r"\{(\w+)\}", lambda m: _SAMPLES.get(m.group(1), "1"), self.path)
        try:
            return scope_for(resolve(path).url_name)
        except Resolver404:
            return None

    def _get_response_bodies(self, direction: Any = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        has_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer()
        codes = ["401", "403"]
        if has_body or self._get_parameters():
            codes.append("400")
        paginated = self._is_list_view() and getattr(self.view, "pagination_class", None)
        if "{" in self.path or paginated:
            codes.append("404")
        if has_body:
            codes.append("413")
        if self._route_scope():
            codes.append("429")
        for code in codes:
            responses.setdefault(code, self._error_response(code))
        # Error answers a view names with a description only (409 ...) get their body too.
        for code, response in responses.items():
            if code in _ERRORS and not response.get("content"):
                response["content"] = self._error_response(code)["content"]
        if "429" in responses:
            responses["429"].setdefault(
                "headers",
                {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds."}},
            )
        return responses
