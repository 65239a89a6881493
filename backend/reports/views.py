"""Report pages: the daily snapshot, compliance (table, charts, exports, recompute) and the
sergeant's squad with its live presence map."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from backend.accounts.models import Role, Squad
from backend.accounts.permissions import SignedInRequest, role_required
from backend.audit.services import request_ip
from backend.config.forms import bad_request, page_of
from backend.gis.layers import layer_response, spreadsheet_safe
from backend.missions.selectors import squad_shift_window
from backend.reports.charts import (
    compliance_by_squad_svg,
    dose_by_hour_svg,
    treatment_vs_control_svg,
)
from backend.reports.compliance import (
    HOTSPOT_GROUPINGS,
    MAX_REPORT_DAYS,
    ComplianceResult,
    compliance_compute,
)
from backend.reports.enqueue import compliance_recompute_request, snapshot_rebuild_request
from backend.reports.exports import (
    compliance_csv_rows,
    compliance_geojson,
    compliance_layer,
)
from backend.reports.forms import (
    GROUPING_LABELS,
    ComplianceFilterForm,
    LayerFormatForm,
    RecomputeForm,
    RecomputeJobForm,
    SnapshotDayForm,
    SquadChoiceForm,
    SquadExportForm,
)
from backend.reports.models import ComplianceRecompute, Scope
from backend.reports.presence import squad_shift_visits, squad_shift_visits_for_export
from backend.reports.selectors import (
    COMPLIANCE_VIEW_ROLES,
    LIVE_ROLES,
    RECOMPUTE_ROLES,
    Streak,
    compliance_by_squad_stored,
    compliance_report,
    compliance_scope_for,
    compliance_sentence,
    compliance_staleness,
    compliance_trend,
    dose_by_hour,
    recompute_job_latest,
    recompute_jobs,
    snapshot_list,
    squads_visible_to,
    streaks_for,
)

REPORT_ROLES = (Role.SUPERVISOR, Role.ANALYST)


@role_required(*REPORT_ROLES)
def snapshot_page(request: HttpRequest) -> HttpResponse:
    page = page_of(request, snapshot_list(), 31)
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
    form = SnapshotDayForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("day", []):
            messages.error(request, str(error))
        return redirect("reports:snapshot")
    day = form.cleaned_data["day"]
    snapshot_rebuild_request(day=day)
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


# ---------------------------------------------------------------------------------------------
# Compliance (supervisors, analysts, admins: everything; sergeants: their squads' officers)

COMPLIANCE_ROLES = COMPLIANCE_VIEW_ROLES
COMPLIANCE_PAGE_SIZE = 50  # rows per page; totals and exports cover every row
CHART_SQUADS_MAX = 30  # more squads than this make an unreadable bar chart: the table has them


def _query_without(request: HttpRequest, *names: str) -> str:
    q = request.GET.copy()
    for n in names:
        q.pop(n, None)
    return q.urlencode()


def _streaks_for_result(result: ComplianceResult) -> dict[int, Streak] | None:
    if result.by == "officer":
        return streaks_for(scope=Scope.OFFICER, ids=result.id_keys())
    if result.by == "squad":
        return streaks_for(scope=Scope.SQUAD, ids=[k for k in result.id_keys() if k])
    return None


def _job_to_watch(request: HttpRequest, *, first: date, last: date) -> ComplianceRecompute | None:
    """The job named by ``?job=`` (just requested: shown even once done, so its bar reaches
    100%), else an unfinished job covering the range."""
    form = RecomputeJobForm(request.GET)
    if form.is_valid() and form.cleaned_data["job"]:
        return recompute_jobs().filter(pk=form.cleaned_data["job"]).first()
    return recompute_job_latest(first=first, last=last)


@role_required(*COMPLIANCE_ROLES)
def compliance_page(request: SignedInRequest) -> HttpResponse:
    """Prescribed against delivered dose for a range, grouped as asked, with charts."""
    form = ComplianceFilterForm.from_query(request.GET)
    context: dict[str, Any] = {"form": form, "max_days": MAX_REPORT_DAYS}
    scope = compliance_scope_for(viewer=request.user)
    context["scope"] = scope
    context["can_recompute"] = request.user.has_role(*RECOMPUTE_ROLES)
    if not form.is_valid():
        return render(request, "reports/compliance.html", context, status=400)
    first, last, by = form.cleaned_data["from"], form.cleaned_data["to"], form.cleaned_data["by"]
    result = compliance_report(viewer=request.user, first=first, last=last, by=by)
    rows = result.rows()
    streaks = _streaks_for_result(result)
    for row in rows:
        row["streak"] = streaks.get(row["key"]) if streaks is not None else None
    totals = result.totals()
    page = page_of(request, rows, COMPLIANCE_PAGE_SIZE)
    squad_scope = scope.squad_ids
    by_squad = compliance_by_squad_stored(first=first, last=last, squad_ids=squad_scope)
    charts: dict[str, str] = {}
    if rows:
        charts["hour"] = dose_by_hour_svg(
            dose_by_hour(
                first=first,
                last=last,
                squad_ids=None if by in HOTSPOT_GROUPINGS else squad_scope,
            ).tolist()
        )
        trend = compliance_trend(first=first, last=last)
        if (last - first).days >= 1 and any(trend.treatment_minutes + trend.control_minutes):
            charts["trend"] = treatment_vs_control_svg(
                trend.days, trend.treatment_minutes, trend.control_minutes
            )
        shown = [s for s in by_squad if s.prescribed_visits or s.delivered_visits]
        if shown and len(shown) <= CHART_SQUADS_MAX:
            charts["squads"] = compliance_by_squad_svg(
                [s.name for s in shown], [s.pct for s in shown]
            )
    context.update(
        first=first,
        last=last,
        by=by,
        by_label=GROUPING_LABELS[by],
        rows=page,
        totals=totals,
        sentence=compliance_sentence(first=first, last=last, totals=totals),
        charts=charts,
        by_squad=by_squad,
        staleness=compliance_staleness(first=first, last=last),
        job=_job_to_watch(request, first=first, last=last),
        show_streaks=streaks is not None,
        geojson_ok=by == "hotspot",
        query=_query_without(request, "page"),
        export_query=f"from={first.isoformat()}&to={last.isoformat()}&by={by}",
        officer_grouping=by not in HOTSPOT_GROUPINGS,
    )
    return render(request, "reports/compliance.html", context)


def _export_form(request: HttpRequest) -> tuple[ComplianceFilterForm, HttpResponse | None]:
    form = ComplianceFilterForm.from_query(request.GET)
    if not form.is_valid():
        return form, bad_request(form)
    return form, None


@role_required(*COMPLIANCE_ROLES)
def compliance_csv(request: HttpRequest) -> HttpResponse:
    form, error = _export_form(request)
    if error:
        return error
    first, last, by = form.cleaned_data["from"], form.cleaned_data["to"], form.cleaned_data["by"]
    result = compliance_report(viewer=request.user, first=first, last=last, by=by)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="compliance-{by}-{first.isoformat()}-{last.isoformat()}.csv"'
    )
    csv.writer(response).writerows(compliance_csv_rows(result, streaks=_streaks_for_result(result)))
    return response


@role_required(*COMPLIANCE_ROLES)
def compliance_geojson_export(request: HttpRequest) -> HttpResponse:
    form, error = _export_form(request)
    if error:
        return error
    first, last, by = form.cleaned_data["from"], form.cleaned_data["to"], form.cleaned_data["by"]
    if by != "hotspot":
        return HttpResponse(
            "GeoJSON is offered for the hot spot grouping only: an officer, squad, shift, "
            "district or arm has no one shape. Download the CSV instead.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    fmt = LayerFormatForm(request.GET)
    if not fmt.is_valid():
        return bad_request(fmt)
    result = compliance_report(viewer=request.user, first=first, last=last, by=by)
    if fmt.cleaned_data["format"] == "gpkg":  # the same layer as a GeoPackage (ArcGIS, QGIS)
        return layer_response(
            compliance_layer(result),
            fmt="gpkg",
            filename=f"compliance-{first.isoformat()}-{last.isoformat()}",
        )
    response = HttpResponse(
        json.dumps(compliance_geojson(result)), content_type="application/geo+json"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="compliance-{first.isoformat()}-{last.isoformat()}.geojson"'
    )
    return response


@require_POST
@role_required(*RECOMPUTE_ROLES)
def compliance_recompute(request: SignedInRequest) -> HttpResponse:
    """Queue a rebuild of the range's stored daily rows; the page then shows its progress."""
    form = RecomputeForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, str(e))
        return redirect("reports:compliance")
    first, last = form.cleaned_data["from"], form.cleaned_data["to"]
    try:
        job = compliance_recompute_request(first=first, last=last, actor=request.user)
    except ValidationError as exc:
        for m in exc.messages:
            messages.error(request, m)
        return redirect("reports:compliance")
    messages.success(
        request,
        f"Recomputing {job.days_total} day{'s' if job.days_total != 1 else ''} "
        f"({first:%-d %b} to {last:%-d %b %Y}).",
    )
    by = form.cleaned_data.get("by") or "hotspot"
    return redirect(
        f"{reverse('reports:compliance')}?from={first.isoformat()}&to={last.isoformat()}"
        f"&by={by}&job={job.pk}"
    )


# ---------------------------------------------------------------------------------------------
# The sergeant's squad: this shift's compliance and the live presence map


def _current_shift(squad: Squad) -> tuple[datetime, datetime]:
    """The squad's shift that started last: the one in progress, or the one that ended most
    recently (before today's has started, a sergeant reviews yesterday's)."""
    today = timezone.localdate()
    start, end = squad_shift_window(squad=squad, day=today)
    if start <= timezone.now():
        return start, end
    return squad_shift_window(squad=squad, day=today - timedelta(days=1))


@role_required(*LIVE_ROLES)
def squad_page(request: HttpRequest) -> HttpResponse:
    """The squad's shift: each officer's visits and dose, streaks, and the live map."""
    squads = squads_visible_to(viewer=request.user)
    form = SquadChoiceForm(request.GET or None, squads=squads)
    squad = form.cleaned_data["squad"] if form.is_valid() else squads.first()
    context: dict[str, Any] = {"squads": squads, "squad": squad, "form": form}
    if squad is None:
        return render(request, "reports/squad.html", context)
    start, end = _current_shift(squad)
    day = timezone.localdate(start)
    result = compliance_compute(first=day, last=day, by="officer", squad_ids=[squad.pk])
    by_officer = {row["key"]: row for row in result.rows()}
    members = list(
        squad.members.filter(is_active=True, role__in=[Role.OFFICER, Role.SERGEANT]).order_by(
            "last_name", "first_name", "username"
        )
    )
    visits = squad_shift_visits(squad=squad, start=start, end=end)
    streaks = streaks_for(scope=Scope.OFFICER, ids=[m.pk for m in members])
    officers = []
    for m in members:
        officers.append(
            {
                "user": m,
                "row": by_officer.get(m.pk),
                "visits": [v for v in visits if v.officer_id == m.pk],
                "streak": streaks.get(m.pk),
            }
        )
    squad_row = compliance_compute(first=day, last=day, by="squad", squad_ids=[squad.pk]).totals()
    context.update(
        shift_start=start,
        shift_end=end,
        shift_over=end <= timezone.now(),
        day=day,
        officers=officers,
        squad_totals=squad_row,
        squad_streak=streaks_for(scope=Scope.SQUAD, ids=[squad.pk]).get(squad.pk),
        live_url=f"{reverse('api-presence-live')}?squad={squad.pk}",
    )
    return render(request, "reports/squad.html", context)


@role_required(*LIVE_ROLES)
def squad_csv(request: HttpRequest) -> HttpResponse:
    """The shift's visits of the squad as CSV (an audited export of location data)."""
    squads = squads_visible_to(viewer=request.user)
    form = SquadExportForm(request.GET, squads=squads)
    if not form.is_valid():
        return bad_request(form)
    squad = form.cleaned_data["squad"]
    start, end = _current_shift(squad)
    visits = squad_shift_visits_for_export(
        viewer=request.user,
        squad=squad,
        start=start,
        end=end,
        reason=form.cleaned_data["reason"],
        ip=request_ip(request),
    )
    names = {u.pk: (u.get_full_name() or u.username, u.badge_number) for u in squad.members.all()}
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="squad-{squad.pk}-shift-{timezone.localdate(start)}.csv"'
    )
    out = csv.writer(response)
    out.writerow(
        ["officer", "badge", "hotspot_id", "hotspot_rank", "arm", "entered_at", "minutes", "koper"]
    )
    for v in visits:
        name, badge = names.get(v.officer_id, (str(v.officer_id), ""))
        out.writerow(
            [
                spreadsheet_safe(name),
                spreadsheet_safe(badge),
                v.hotspot_id,
                v.hotspot_rank,
                v.arm,
                timezone.localtime(v.entered_at).isoformat(),
                f"{v.minutes:.1f}",
                "yes" if v.koper else "no",
            ]
        )
    return response
