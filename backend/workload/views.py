"""Workload pages: 24x7 heatmaps per district or citywide, the own-district share, CSVs, and
the imports page. Analysts and supervisors read; analysts import."""

from __future__ import annotations

import csv
import math
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.analytics import workload as wl
from backend.workload.forms import WorkloadFilterForm, WorkloadUploadForm
from backend.workload.imports import (
    CITYWIDE,
    ImportRejected,
    calls_import,
    district_find,
    matrix_import,
    roster_import,
)
from backend.workload.models import ImportKind, MatrixKind
from backend.workload.selectors import (
    MATRICES,
    WorkloadView,
    matrix_csv_rows,
    own_share_csv_rows,
    report_csv_rows,
    workload_for,
    workload_imports_for,
)

READ_ROLES = (Role.SUPERVISOR, Role.ANALYST)
IMPORTS_PAGE_SIZE = 50
MATRIX_DIGITS = {"cfs": 1, "available": 1, "pct": 1, "spare": 1}


def _band(pct: float, peak: bool, t: wl.Targets) -> tuple[str, str]:
    """(CSS class, words) of a cell's % consumed against the targets."""
    if math.isnan(pct):
        return "none", "no figures"
    if pct > 100:
        return "over", "over 100%: calls take more than the time available"
    if pct >= t.high_pct:
        return "high", f"at or above {t.high_pct:g}%: out of target"
    ceiling = t.peak_max_pct if peak else t.offpeak_max_pct
    if pct > ceiling:
        return "above", f"above the {'peak' if peak else 'off-peak'} ceiling of {ceiling:g}%"
    if pct <= t.low_pct:
        return "low", f"at or below {t.low_pct:g}%: out of target (under-used)"
    return "ok", "within target"


def _value(x: float, digits: int) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞"
    return f"{x:.{digits}f}"


def _heatmaps(view: WorkloadView) -> list[dict[str, Any]]:
    w, f, t = view.workload, view.flags, view.targets
    bands = [
        [_band(float(w.pct[h, d]), bool(f.peak[h, d]), t) for d in range(7)] for h in range(24)
    ]
    out = []
    for key, title in MATRICES.items():
        values = getattr(w, key)
        rows = []
        for h in range(24):
            cells = []
            for d in range(7):
                cls, words = bands[h][d]
                marks = []
                if f.long_run[h, d]:
                    marks.append(
                        (
                            "▲",
                            f"part of a run above {t.run_pct:g}% for more than "
                            f"{t.run_max_hours} hours",
                        )
                    )
                if f.over_100[h, d]:
                    marks.append(("!", "over 100%"))
                text = _value(float(values[h, d]), MATRIX_DIGITS[key])
                if key == "pct" and text not in {"—", "∞"}:
                    text += "%"
                cells.append(
                    {
                        "text": text,
                        "cls": cls,
                        "marks": marks,
                        "title": f"{wl.WEEKDAY_NAMES[d]} {h:02d}:00 — "
                        f"{_value(float(w.pct[h, d]), 1)}% consumed, {words}"
                        + "".join(f"; {m[1]}" for m in marks),
                    }
                )
            rows.append({"hour": f"{h:02d}:00", "cells": cells})
        total = float(values.sum()) if key != "pct" else float("nan")
        out.append({"key": key, "title": title, "rows": rows, "total": total})
    return out


def _summary(view: WorkloadView) -> dict[str, Any]:
    w, f = view.workload, view.flags
    cfs, avail = float(w.cfs.sum()), float(w.available.sum())
    return {
        "cfs": cfs,
        "available": avail,
        "spare": avail - cfs,
        "pct": 100 * cfs / avail if avail > 0 and math.isfinite(cfs) else None,
        "high": int(f.high.sum()),
        "low": int(f.low.sum()),
        "over": int(f.over_100.sum()),
        "runs": [r.label() for r in f.runs],
    }


def _query(form: WorkloadFilterForm) -> str:
    d = form.cleaned_data
    return f"district={d['district']}&from={d['from'].isoformat()}&to={d['to'].isoformat()}"


@role_required(*READ_ROLES)
def index(request: HttpRequest) -> HttpResponse:
    form = WorkloadFilterForm.from_query(request.GET)
    context: dict[str, Any] = {"form": form, "can_import": request.user.has_role(Role.ANALYST)}  # type: ignore[union-attr]
    if form.is_valid():
        district = district_find(form.cleaned_data["district"])
        view = workload_for(
            district=district, first=form.cleaned_data["from"], last=form.cleaned_data["to"]
        )
        context.update(
            view=view,
            heatmaps=_heatmaps(view) if view.has_data else [],
            summary=_summary(view),
            query=_query(form),
            matrices=MATRICES,
        )
    return render(request, "workload/index.html", context)


@role_required(*READ_ROLES)
def export_csv(request: HttpRequest, what: str) -> HttpResponse:
    """``what``: one of the four matrices (24x7 layout), ``report`` (the 168 rows of
    ``workload_report``) or ``own`` (the own-district share)."""
    if what not in {*MATRICES, "report", "own"}:
        return HttpResponse("Unknown export.", status=404, content_type="text/plain")
    form = WorkloadFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            "Choose a district and days: " + form.errors.as_text(),
            status=400,
            content_type="text/plain",
        )
    district = district_find(form.cleaned_data["district"])
    first, last = form.cleaned_data["from"], form.cleaned_data["to"]
    view = workload_for(district=district, first=first, last=last)
    scope = district.code if district else CITYWIDE
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="workload-{what}-{scope}-{first.isoformat()}-{last.isoformat()}.csv"'
    )
    writer = csv.writer(response)
    if what == "report":
        writer.writerows(report_csv_rows(view))
    elif what == "own":
        writer.writerows(own_share_csv_rows(view))
    else:
        writer.writerows(matrix_csv_rows(view, what))
    return response


@role_required(Role.ANALYST)
def imports(request: HttpRequest) -> HttpResponse:
    problems: list[dict[str, Any]] = []
    problems_total = 0
    if request.method == "POST":
        form = WorkloadUploadForm(request.POST, request.FILES)
        if form.is_valid():
            d = form.cleaned_data
            data = d["file"].read()
            common = {
                "data": data,
                "file_name": d["file"].name,
                "actor": request.user,
                "client_uuid": d["client_uuid"],
            }
            try:
                if d["kind"] == ImportKind.CALLS:
                    result = calls_import(**common)
                elif d["kind"] == ImportKind.ROSTER:
                    result = roster_import(**common)
                else:
                    kind = (
                        MatrixKind.CFS
                        if d["kind"] == ImportKind.MATRIX_CFS
                        else (MatrixKind.AVAILABLE)
                    )
                    result = matrix_import(
                        kind=kind, district=district_find(d["district"] or CITYWIDE), **common
                    )
            except ImportRejected as exc:
                problems, problems_total = exc.problems, exc.total
                messages.error(
                    request,
                    f"{d['file'].name} was not imported: {problems_total} "
                    f"problem{'s' if problems_total != 1 else ''} (listed below). Fix them and "
                    "upload the file again.",
                )
            else:
                imp = result.imp
                if result.created:
                    messages.success(
                        request,
                        f"{imp.file_name}: {imp.rows} rows read, {imp.imported} "
                        f"imported, {imp.duplicates} already stored.",
                    )
                else:
                    messages.info(
                        request,
                        f"{imp.file_name} was already imported (import "
                        f"{imp.pk}); nothing was stored twice.",
                    )
                return redirect("workload:imports")
        if problems:
            # A fresh form (and UUID): the corrected file is a new upload, not a retry.
            form = WorkloadUploadForm(
                initial={
                    "client_uuid": uuid.uuid4(),
                    "kind": request.POST.get("kind"),
                    "district": request.POST.get("district") or CITYWIDE,
                }
            )
    else:
        form = WorkloadUploadForm(initial={"client_uuid": uuid.uuid4(), "district": CITYWIDE})
    listed = workload_imports_for(user=request.user)[:IMPORTS_PAGE_SIZE]
    return render(
        request,
        "workload/imports.html",
        {
            "form": form,
            "imports": listed,
            "problems": problems,
            "problems_total": problems_total,
        },
    )
