"""Small pieces every app's API shares."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError


def drf_validation_error(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as DRF's: a 400 naming each field and why."""
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
