"""Hot spot pages: active hot spots, analyses, a hot spot's briefing, the harm index."""

from __future__ import annotations

import csv
import json
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from backend.accounts.models import District, Role
from backend.accounts.permissions import role_required
from backend.analytics.briefing import DAY_NAMES
from backend.hotspots.charts import hotspot_heatmap_png
from backend.hotspots.enqueue import analysis_submit
from backend.hotspots.exports import grid_csv_rows, hotspots_csv_rows, hotspots_geojson
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import analysis_run_active, analysis_runs
from backend.hotspots.services import AnalysisParams, analysis_publish

VIEW_ROLES = (Role.SERGEANT, Role.SUPERVISOR, Role.ANALYST)
ANALYSE_ROLES = (Role.ANALYST, Role.SUPERVISOR)


def _csv_response(rows: Any, filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(rows)
    return response


@role_required(*VIEW_ROLES)
def hotspots_index(request: HttpRequest) -> HttpResponse:
    active = analysis_run_active()
    runs = Paginator(analysis_runs().order_by("-created_at"), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "hotspots/index.html",
        {
            "active": active,
            "hotspots": active.hotspots.select_related("district").order_by("rank")
            if active
            else [],
            "runs": runs,
            "districts": District.objects.order_by("name"),
            "can_analyse": request.user.has_role(*ANALYSE_ROLES),  # type: ignore[union-attr]
            "can_draw": request.user.has_role(Role.ANALYST),  # type: ignore[union-attr]
            "default_as_of": timezone.localdate(),
        },
    )


@require_POST
@role_required(*ANALYSE_ROLES)
def analysis_new(request: HttpRequest) -> HttpResponse:
    p = request.POST
    try:
        params = AnalysisParams(
            as_of=date.fromisoformat(p.get("as_of", "")),
            lookback_days=int(p.get("lookback_days") or 365),
            cell_size_m=float(p.get("cell_size_m") or 150),
            top_k=int(p.get("top_k") or 20),
            window=p.get("window", "").strip(),
            district_id=int(p["district"]) if p.get("district") else None,
        )
        run = analysis_submit(params=params, actor=request.user, publish=bool(p.get("publish")))
    except ValueError:
        messages.error(request, "As of must be a date; look-back, cell size and top K numbers.")
        return redirect("hotspots:index")
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            messages.error(request, f"{field.replace('_', ' ').capitalize()}: {' '.join(errors)}")
        return redirect("hotspots:index")
    return redirect("hotspots:run", pk=run.pk)


@role_required(*VIEW_ROLES)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(analysis_runs(), pk=pk)
    return render(
        request,
        "hotspots/run.html",
        {
            "run": run,
            "hotspots": run.hotspots.select_related("district").order_by("rank"),
            "can_publish": request.user.has_role(*ANALYSE_ROLES),  # type: ignore[union-attr]
        },
    )


@role_required(*VIEW_ROLES)
def run_status(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(analysis_runs(), pk=pk)
    return JsonResponse({"status": run.status, "error": run.error})


@require_POST
@role_required(*ANALYSE_ROLES)
def run_publish(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        analysis_publish(run_id=pk, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Published: these are now the active hot spots.")
    return redirect("hotspots:run", pk=pk)


@role_required(*VIEW_ROLES)
def run_geojson(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(analysis_runs(), pk=pk)
    response = HttpResponse(json.dumps(hotspots_geojson(run)), content_type="application/geo+json")
    response["Content-Disposition"] = f'attachment; filename="hotspots-{run.pk}.geojson"'
    return response


@role_required(*VIEW_ROLES)
def run_csv(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(analysis_runs(), pk=pk)
    return _csv_response(hotspots_csv_rows(run), f"hotspots-{run.pk}.csv")


@role_required(*VIEW_ROLES)
def run_grid_csv(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(analysis_runs(), pk=pk)
    return _csv_response(grid_csv_rows(run), f"grid-{run.pk}.csv")


@role_required(*VIEW_ROLES)
def hotspot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    hotspot = get_object_or_404(Hotspot.objects.select_related("run", "district"), pk=pk)
    profile = hotspot.profile_24x7 or [[0] * 24 for _ in range(7)]
    return render(
        request,
        "hotspots/hotspot.html",
        {
            "h": hotspot,
            "b": hotspot.briefing,
            "profile_rows": list(zip(DAY_NAMES, profile, strict=True)),
            "hours": range(24),
            "offences": sorted(hotspot.counts_by_offence.items(), key=lambda kv: -kv[1]),
        },
    )


@cache_control(private=True, max_age=3600)
@role_required(*VIEW_ROLES)
def hotspot_heatmap(request: HttpRequest, pk: int) -> HttpResponse:
    """The hot spot's 24x7 incident profile as a PNG heatmap."""
    hotspot = get_object_or_404(Hotspot, pk=pk)
    return HttpResponse(hotspot_heatmap_png(hotspot), content_type="image/png")
