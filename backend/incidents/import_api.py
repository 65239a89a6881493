"""Incident imports over the API: upload a file (202, processed by a task) and read its status.

Analysts and admins only; the queryset is scoped by role as well as the permission class.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backend.accounts.models import Role
from backend.accounts.permissions import role_permission
from backend.audit.services import request_ip
from backend.config.api import drf_validation_error
from backend.incidents.mapping import FIELDS
from backend.incidents.models import IncidentImport
from backend.incidents.parsing import UPLOAD_CHUNK
from backend.incidents.selectors import import_list_for, import_unknown_offences
from backend.incidents.services import incident_import_upload


class ImportOutputSerializer(serializers.ModelSerializer):
    status_url = serializers.SerializerMethodField()
    unknown_offences = serializers.SerializerMethodField()

    class Meta:
        model = IncidentImport
        fields = [
            "id",
            "client_uuid",
            "status",
            "status_url",
            "source",
            "file_name",
            "file_sha256",
            "mapping",
            "rows_total",
            "rows_done",
            "imported",
            "duplicates",
            "rejected",
            "rejections",
            "unknown_offences",
            "error",
            "created_at",
            "finished_at",
        ]

    def get_status_url(self, obj: IncidentImport) -> str:
        request = self.context.get("request")
        url = reverse("api-import", kwargs={"pk": obj.pk})
        return request.build_absolute_uri(url) if request else url

    def get_unknown_offences(self, obj: IncidentImport) -> dict[str, int]:
        return import_unknown_offences(obj)


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise serializers.ValidationError(f"{name} must be a JSON object of strings")
    return value


class ImportCreateApi(APIView):
    """Upload an incident file (multipart). 202 with the import and its status URL; 200 with
    the existing import when the same ``client_uuid`` was already used (a retried upload)."""

    permission_classes = [role_permission(Role.ANALYST)]
    parser_classes = [MultiPartParser, FormParser]

    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="CSV or CSV.gz with a header line.")
        client_uuid = serializers.UUIDField(
            help_text="Chosen by the client once per upload; a retry with it is stored once."
        )
        # A field named like DRF's Field.source attribute: the API's contract keeps the name.
        source = serializers.CharField(  # type: ignore[assignment]
            required=False, allow_blank=True, max_length=60
        )
        mapping = serializers.CharField(
            required=False, allow_blank=True, help_text="Name of a saved column mapping."
        )
        columns = serializers.JSONField(
            required=False,
            binary=True,
            help_text='JSON object {field: column}, e.g. {"occurred_at": "date"}; fields: '
            + ", ".join(FIELDS),
        )
        column_id = serializers.CharField(required=False, allow_blank=True)
        column_occurred_at = serializers.CharField(required=False, allow_blank=True)
        column_lat = serializers.CharField(required=False, allow_blank=True)
        column_lon = serializers.CharField(required=False, allow_blank=True)
        column_offence = serializers.CharField(required=False, allow_blank=True)
        column_premise = serializers.CharField(required=False, allow_blank=True)
        column_block = serializers.CharField(required=False, allow_blank=True)
        column_intersection = serializers.CharField(required=False, allow_blank=True)
        tz = serializers.CharField(required=False, allow_blank=True, max_length=64)
        offence = serializers.CharField(
            required=False, allow_blank=True, help_text="One offence (code or name) for all rows."
        )
        offence_map = serializers.JSONField(
            required=False, binary=True, help_text="JSON object {file value: offence code}."
        )
        save_mapping = serializers.CharField(required=False, allow_blank=True, max_length=80)

        def validate_columns(self, value: Any) -> dict[str, str]:
            return _string_map(value, "columns")

        def validate_offence_map(self, value: Any) -> dict[str, str]:
            return _string_map(value, "offence_map")

    @extend_schema(
        request={"multipart/form-data": InputSerializer},
        responses={202: ImportOutputSerializer, 200: ImportOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data_in = self.InputSerializer(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        columns = dict(data.get("columns") or {})
        for f in FIELDS:
            if data.get(f"column_{f}"):
                columns[f] = data[f"column_{f}"]
        try:
            imp, created = incident_import_upload(
                chunks=data["file"].chunks(UPLOAD_CHUNK),
                file_name=data["file"].name,
                client_uuid=data["client_uuid"],
                uploaded_by=request.user,
                columns=columns,
                mapping_name=data.get("mapping", ""),
                time_zone=data.get("tz", ""),
                offence=data.get("offence", ""),
                offence_aliases=data.get("offence_map") or {},
                source=data.get("source", ""),
                save_mapping=data.get("save_mapping", ""),
                ip=request_ip(request),
            )
        except DjangoValidationError as exc:
            raise drf_validation_error(exc) from exc
        if not created and not import_list_for(user=request.user).filter(pk=imp.pk).exists():
            # A retry answers as the first time, but only to someone who may see that import.
            raise ValidationError({"client_uuid": ["this client UUID is already used"]})
        return self._answer(imp, status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)

    def _answer(self, imp: IncidentImport, code: int) -> Response:
        imp.refresh_from_db()
        body = ImportOutputSerializer(imp, context={"request": self.request}).data
        return Response(body, status=code, headers={"Location": body["status_url"]})


class ImportDetailApi(generics.RetrieveAPIView):
    """One import: status, progress, counts, the first 1,000 rejected rows, unknown offences."""

    serializer_class = ImportOutputSerializer
    permission_classes = [role_permission(Role.ANALYST)]

    def get_queryset(self) -> Any:
        return import_list_for(user=self.request.user)
