"""The harm index over the API: the current weights; POST makes a new version (analysts)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.config.api import drf_validation_error
from backend.incidents.selectors import harm_version_current
from backend.incidents.services import harm_version_create


class HarmIndexApi(APIView):
    """The current harm index (days of custody per offence); POST makes a new version."""

    permission_classes = [role_permission(Role.ANALYST, Role.SUPERVISOR)]

    class HarmInputSerializer(serializers.Serializer):
        weights = serializers.DictField(child=serializers.FloatField(min_value=0))
        note = serializers.CharField(default="", allow_blank=True)

    def _current(self) -> dict[str, Any]:
        version = harm_version_current()
        weights = version.weights.select_related("offence").order_by("offence__code")
        return {
            "version": version.number,
            "is_default_table": version.is_default_table,
            "note": version.note,
            "weights": [
                {
                    "code": w.offence.code,
                    "name": w.offence.name,
                    "group": w.offence.group,
                    "days": w.days,
                }
                for w in weights
            ],
        }

    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(self._current())

    @extend_schema(request=HarmInputSerializer, responses={201: dict})
    def post(self, request: Request) -> Response:
        if not request.user.has_role(Role.ANALYST):  # type: ignore[union-attr]
            return Response({"detail": "Only analysts edit the harm index."}, status=403)
        data = self.HarmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            harm_version_create(
                weights=data.validated_data["weights"],
                actor=request.user,
                note=data.validated_data["note"],
            )
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        return Response(self._current(), status=status.HTTP_201_CREATED)
