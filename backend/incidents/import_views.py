"""Web pages for incident imports: upload with a column mapping, progress, rejected rows,
mapping unknown offences and running the import again."""

from __future__ import annotations

import csv
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.audit.services import request_ip
from backend.incidents.forms import ImportUploadForm, OffenceMapForm
from backend.incidents.mapping import FIELD_LABELS, FIELDS, ImportSpec
from backend.incidents.models import ImportStatus, IncidentImport
from backend.incidents.parsing import UPLOAD_CHUNK
from backend.incidents.selectors import (
    import_list_for,
    import_unknown_offences,
    offence_choices,
    rejections_csv_rows,
)
from backend.incidents.services import (
    incident_import_rerun,
    incident_import_upload,
    offence_aliases_save,
)

IMPORTS_PER_PAGE = 25

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
                imp, created = incident_import_upload(
                    chunks=data["file"].chunks(UPLOAD_CHUNK),
                    file_name=data["file"].name,
                    client_uuid=data["client_uuid"],
                    uploaded_by=request.user,
                    columns=form.columns(),
                    mapping_name=data["mapping"],
                    time_zone=data["tz"].strip(),
                    offence=data["offence"],
                    source=data["source"],
                    save_mapping=data["save_as"],
                    ip=request_ip(request),
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if created:
                    messages.success(request, f"{imp.file_name} is being imported.")
                else:
                    messages.info(request, "That upload was already received.")
                return redirect("incidents:import-detail", pk=imp.pk)
    else:
        form = ImportUploadForm(initial={"client_uuid": uuid.uuid4()})
    page = Paginator(import_list_for(user=request.user), IMPORTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "incidents/import_list.html", {"form": form, "page": page})


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
        "incidents/import_detail.html",
        {
            "imp": imp,
            "spec": spec,
            "columns": [(FIELD_LABELS[f], spec.columns[f]) for f in FIELDS if f in spec.columns],
            "in_progress": imp.status in {ImportStatus.PENDING, ImportStatus.RUNNING},
            "unknown": list(unknown.items()),
            "offence_choices": offence_choices(),
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
    form = OffenceMapForm(request.POST, values=list(import_unknown_offences(imp)))
    if not form.is_valid():
        for field, msgs in form.errors.items():
            for msg in msgs:
                messages.error(request, f"{field}: {msg}")
        return redirect("incidents:import-detail", pk=imp.pk)
    aliases = form.aliases()
    if not aliases:
        messages.error(request, "Choose an offence for at least one value.")
        return redirect("incidents:import-detail", pk=imp.pk)
    try:
        saved = offence_aliases_save(
            import_id=imp.pk,
            aliases=aliases,
            target=form.cleaned_data["target"] or "offence",
            actor=request.user,
        )
        again = incident_import_rerun(import_id=imp.pk, actor=request.user)
    except ValidationError as exc:
        for problems in exc.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
        return redirect("incidents:import-detail", pk=imp.pk)
    messages.success(
        request,
        f"Saved {saved} offence mapping{'s' if saved != 1 else ''}; importing "
        f"{imp.file_name} again (rows already stored count as duplicates).",
    )
    return redirect(reverse("incidents:import-detail", kwargs={"pk": again.pk}))
