"""Web pages for incident imports: upload with a column mapping, progress, rejected rows,
mapping unknown offences and running the import again."""

from __future__ import annotations

import csv
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.hotspots.imports import (
    FIELD_LABELS,
    FIELDS,
    HASH_ID,
    ImportSpec,
    column_mapping_list,
    import_list_for,
    import_spec_build,
    import_unknown_offences,
    incident_import_rerun,
    incident_import_submit,
    offence_aliases_save,
    rejections_csv_rows,
)
from backend.hotspots.models import ImportStatus, IncidentImport, OffenceType

IMPORTS_PER_PAGE = 25
UPLOAD_CHUNK = 1 << 20

# Where each service error key is shown on the upload form (None: above the form).
FORM_FIELD_OF = {
    "file": "file",
    "source": "source",
    "mapping": "mapping",
    "tz": "tz",
    "offence": "offence",
    "save_mapping": "save_as",
    "map": None,
    "offence_map": None,
}


def _offence_choices() -> list[tuple[str, str]]:
    return [(o.code, f"{o.name} ({o.code})") for o in OffenceType.objects.order_by("name")]


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Incident file (CSV or CSV.gz)",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.gz,.txt,text/csv,application/gzip"}
        ),
    )
    source = forms.CharField(
        label="Source (records system)",
        required=False,
        max_length=60,
        help_text="Ids are unique per source. Default: the saved mapping's, else the file name.",
    )
    mapping = forms.ChoiceField(label="Saved column mapping", required=False)
    col_id = forms.CharField(
        label="Id column",
        required=False,
        help_text=f"Leave empty or write {HASH_ID} when the file has no id column.",
    )
    col_occurred_at = forms.CharField(label="Time column", required=False)
    col_lat = forms.CharField(label="Latitude column", required=False)
    col_lon = forms.CharField(label="Longitude column", required=False)
    col_offence = forms.CharField(label="Offence column", required=False)
    col_premise = forms.CharField(label="Premise (place type) column", required=False)
    col_block = forms.CharField(label="Block address column", required=False)
    col_intersection = forms.CharField(label="Intersection column", required=False)
    tz = forms.CharField(
        label="Time zone of local times",
        required=False,
        max_length=64,
        help_text=f"e.g. America/Chicago; empty: the mapping's, else {settings.TIME_ZONE}.",
    )
    offence = forms.ChoiceField(label="One offence for every row", required=False)
    save_as = forms.CharField(label="Save this mapping as", required=False, max_length=80)
    client_uuid = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(column_mapping_list().values_list("name", flat=True))
        self.fields["mapping"].choices = [("", "None: map the columns below")] + [
            (n, n) for n in names
        ]
        self.fields["offence"].choices = [
            ("", "None: the file has an offence column"),
            *_offence_choices(),
        ]


def _save_upload(upload: UploadedFile) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix="upload-", delete=False) as out:
        for chunk in upload.chunks(UPLOAD_CHUNK):
            out.write(chunk)
    return Path(out.name)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for key, msgs in exc.message_dict.items():
        for msg in msgs:
            form.add_error(FORM_FIELD_OF.get(key), msg)


@require_http_methods(["GET", "POST"])
@role_required(Role.ANALYST)
def import_list(request: HttpRequest) -> HttpResponse:
    """The imports, newest first, and the upload form (POST uploads)."""
    if request.method == "POST":
        form = ImportUploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                spec = import_spec_build(
                    columns={f: data.get(f"col_{f}", "").strip() for f in FIELDS},
                    mapping_name=data["mapping"],
                    time_zone=data["tz"].strip(),
                    offence=data["offence"],
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                path = _save_upload(data["file"])
                try:
                    imp, created = incident_import_submit(
                        path=path,
                        file_name=data["file"].name,
                        spec=spec,
                        source=data["source"],
                        client_uuid=data["client_uuid"],
                        uploaded_by=request.user,
                        save_mapping=data["save_as"],
                    )
                except ValidationError as exc:
                    path.unlink(missing_ok=True)
                    _add_errors(form, exc)
                else:
                    if created:
                        messages.success(request, f"{imp.file_name} is being imported.")
                    else:
                        messages.info(request, "That upload was already received.")
                    return redirect("hotspots:import-detail", pk=imp.pk)
    else:
        form = ImportUploadForm(initial={"client_uuid": uuid.uuid4()})
    page = Paginator(import_list_for(user=request.user), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "hotspots/import_list.html", {"form": form, "page": page})


def _import_for(request: HttpRequest, pk: int) -> IncidentImport:
    return get_object_or_404(import_list_for(user=request.user), pk=pk)


@require_GET
@role_required(Role.ANALYST)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    imp = _import_for(request, pk)
    spec = ImportSpec.from_json(imp.mapping)
    unknown = import_unknown_offences(imp)
    return render(
        request,
        "hotspots/import_detail.html",
        {
            "imp": imp,
            "spec": spec,
            "columns": [(FIELD_LABELS[f], spec.columns[f]) for f in FIELDS if f in spec.columns],
            "in_progress": imp.status in {ImportStatus.PENDING, ImportStatus.RUNNING},
            "unknown": list(unknown.items()),
            "offence_choices": _offence_choices(),
            "truncated": imp.rejected > len(imp.rejections),
        },
    )


@require_GET
@role_required(Role.ANALYST)
def import_status(request: HttpRequest, pk: int) -> JsonResponse:
    """The import's progress and counts, polled by the detail page."""
    imp = _import_for(request, pk)
    return JsonResponse(
        {
            "id": imp.pk,
            "status": imp.status,
            "rows_total": imp.rows_total,
            "rows_done": imp.rows_done,
            "imported": imp.imported,
            "duplicates": imp.duplicates,
            "rejected": imp.rejected,
            "error": imp.error,
        }
    )


@require_GET
@role_required(Role.ANALYST)
def import_rejections_csv(request: HttpRequest, pk: int) -> HttpResponse:
    imp = _import_for(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{imp.pk}-rejected.csv"'
    csv.writer(response).writerows(rejections_csv_rows(imp))
    return response


@require_POST
@role_required(Role.ANALYST)
def import_map_offence(request: HttpRequest, pk: int) -> HttpResponse:
    """Save aliases for the import's unknown offence values, then import the same file again."""
    imp = _import_for(request, pk)
    unknown = list(import_unknown_offences(imp))
    aliases = {}
    for n, value in enumerate(unknown):
        code = request.POST.get(f"offence-{n}", "")
        if code:
            aliases[value] = code
    if not aliases:
        messages.error(request, "Choose an offence for at least one value.")
        return redirect("hotspots:import-detail", pk=imp.pk)
    target = request.POST.get("target", "offence")
    try:
        saved = offence_aliases_save(
            import_id=imp.pk, aliases=aliases, target=target, actor=request.user
        )
        again = incident_import_rerun(import_id=imp.pk, actor=request.user)
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for msg in msgs:
                messages.error(request, msg)
        return redirect("hotspots:import-detail", pk=imp.pk)
    messages.success(
        request,
        f"Saved {saved} offence mapping{'s' if saved != 1 else ''}; importing "
        f"{imp.file_name} again (rows already stored count as duplicates).",
    )
    return redirect(reverse("hotspots:import-detail", kwargs={"pk": again.pk}))
