"""The audit page for admins and supervisors: the log filtered, paged, and exported as CSV.

The page shows who did what to which record; it holds no positions, so reading it is not a
location read. Exporting it is itself audited (``audit.export``), so the log records who took
a copy of the log.
"""

from __future__ import annotations

import csv

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from backend.accounts.models import Role
from backend.accounts.permissions import SignedInRequest, role_required
from backend.audit.forms import AuditFilterForm
from backend.audit.selectors import AuditFilter, audit_actions, audit_csv_rows, audit_events
from backend.audit.services import audit_record, request_ip
from backend.config.forms import bad_request, page_of

AUDIT_ROLES = (Role.ADMIN, Role.SUPERVISOR)
PAGE_SIZE = 50  # rows per page; the export holds every matching row


@role_required(*AUDIT_ROLES)
def audit_page(request: SignedInRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound and form.is_valid() else AuditFilter()
    status = 400 if form.is_bound and not form.is_valid() else 200
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/index.html",
        {
            "form": form,
            "events": page_of(request, audit_events(filters=filters), PAGE_SIZE),
            "actions": audit_actions(),
            "query": query.urlencode(),
        },
        status=status,
    )


@role_required(*AUDIT_ROLES)
def audit_csv(request: SignedInRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return bad_request(form)
    filters = form.filters()
    rows = audit_events(filters=filters)
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="audit.export",
            obj=request.user,
            after={k: v for k, v in form.cleaned_data.items() if v},
            ip=request_ip(request),
        )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-{timezone.localdate().isoformat()}.csv"'
    )
    response["Cache-Control"] = "no-store"
    csv.writer(response).writerows(audit_csv_rows(rows))
    return response
