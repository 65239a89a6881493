from __future__ import annotations

import csv
from datetime import date, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.reports.selectors import snapshot_list
from backend.reports.tasks import snapshot_build_task

REPORT_ROLES = (Role.SUPERVISOR, Role.ANALYST)


@role_required(*REPORT_ROLES)
def snapshot_page(request: HttpRequest) -> HttpResponse:
    page = Paginator(snapshot_list(), 31).get_page(request.GET.get("page"))
    return render(
        request,
        "reports/snapshot.html",
        {
            "page": page,
            "latest": page.object_list[0] if page.object_list else None,
            "yesterday": timezone.localdate() - timedelta(days=1),
        },
    )


@require_POST
@role_required(*REPORT_ROLES)
def snapshot_recompute(request: HttpRequest) -> HttpResponse:
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, "Day must be a date like 2026-11-25.")
        return redirect("reports:snapshot")
    transaction.on_commit(lambda: snapshot_build_task.delay(day.isoformat()))
    messages.success(request, f"The snapshot for {day:%a %d %b %Y} is being recomputed.")
    return redirect("reports:snapshot")


@role_required(*REPORT_ROLES)
def snapshot_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="daily-snapshots.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["day", "incidents", "harm", "incidents_in_hotspots", "harm_in_hotspots", "weights_version"]
    )
    for s in snapshot_list():
        writer.writerow(
            [
                s.day.isoformat(),
                s.incidents,
                f"{s.harm:.1f}",
                s.incidents_in_hotspots,
                f"{s.harm_in_hotspots:.1f}",
                s.weights_version,
            ]
        )
    return response
