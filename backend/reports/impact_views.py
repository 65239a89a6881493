"""Impact pages: the list of experiments, one experiment's impact with its figures and
sentences, its weekly chart (matplotlib SVG), and the per-hot-spot table as CSV and JSON.

Supervisors and analysts (and admins); officers and sergeants get 403.
"""

from __future__ import annotations

import io
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control

from backend.accounts.models import Role
from backend.accounts.permissions import role_required
from backend.gis.layers import layer_response
from backend.missions.models import Experiment, ExperimentStatus
from backend.reports.impact import experiment_impact_cached, impact_csv, impact_layer

IMPACT_ROLES = (Role.SUPERVISOR, Role.ANALYST)


def _experiment(pk: int) -> Experiment:
    return get_object_or_404(Experiment.objects.select_related("run"), pk=pk)


@role_required(*IMPACT_ROLES)
def impact_index(request: HttpRequest) -> HttpResponse:
    experiments = Experiment.objects.exclude(status=ExperimentStatus.DRAFT).order_by("-starts_on")
    return render(request, "reports/impact_index.html", {"experiments": experiments})


@role_required(*IMPACT_ROLES)
def experiment_impact_page(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = _experiment(pk)
    result = experiment_impact_cached(experiment=experiment)
    return render(
        request,
        "reports/impact.html",
        {"e": experiment, "r": result, "arm_rows": _arm_rows(result)},
    )


def _arm_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the before/during table: incidents and harm per arm, totals and per hot spot."""
    if not result.get("supported") or "counts" not in result:
        return []
    rows = []
    for arm in ("treatment", "control"):
        counts, harm = result["counts"], result["harm"]
        rows.append(
            {
                "arm": arm.capitalize(),
                "n": counts[f"n_{arm}"],
                "count_before": counts["totals"][arm]["before"],
                "count_during": counts["totals"][arm]["during"],
                "count_before_mean": counts["means"][arm]["before"],
                "count_during_mean": counts["means"][arm]["during"],
                "harm_before": harm["totals"][arm]["before"],
                "harm_during": harm["totals"][arm]["during"],
            }
        )
    return rows


@cache_control(private=True, max_age=600)
@role_required(*IMPACT_ROLES)
def experiment_impact_chart(request: HttpRequest, pk: int) -> HttpResponse:
    """Weekly incidents per hot spot, treatment vs control, before and during (SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    experiment = _experiment(pk)
    result = experiment_impact_cached(experiment=experiment)
    weeks = result.get("weekly", {}).get("weeks", []) if result.get("supported") else []
    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    if weeks:
        x = list(range(len(weeks)))
        ax.plot(
            x,
            [w["treatment_per_hotspot_week"] for w in weeks],
            marker="o",
            color="#1d4ed8",
            label="Treatment",
        )
        ax.plot(
            x,
            [w["control_per_hotspot_week"] for w in weeks],
            marker="s",
            color="#6b7280",
            label="Control",
        )
        start = next((i for i, w in enumerate(weeks) if w["period"] == "during"), None)
        if start is not None:
            ax.axvline(start - 0.5, color="#111827", linestyle="--", linewidth=1)
            ax.text(start - 0.4, ax.get_ylim()[1] * 0.95, "experiment starts", fontsize=8, va="top")
        step = max(1, len(weeks) // 8)
        ax.set_xticks(x[::step], [w["week_start"][5:] for w in weeks][::step])
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False)
    else:
        ax.text(
            0.5,
            0.5,
            result.get("message") or "No data yet",
            ha="center",
            va="center",
            wrap=True,
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("Week starting (month-day)")
    ax.set_ylabel("Incidents per hot spot per week")
    ax.set_title(f"{experiment.name}: treated vs control hot spots")
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    return HttpResponse(buf.getvalue(), content_type="image/svg+xml")


@role_required(*IMPACT_ROLES)
def experiment_impact_csv(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = _experiment(pk)
    result = experiment_impact_cached(experiment=experiment)
    response = HttpResponse(impact_csv(result), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="impact-experiment-{pk}.csv"'
    return response


@role_required(*IMPACT_ROLES)
def experiment_impact_gpkg(request: HttpRequest, pk: int) -> HttpResponse:
    """The per-hot-spot table with polygons as a GeoPackage (ArcGIS, QGIS)."""
    result = experiment_impact_cached(experiment=_experiment(pk))
    return layer_response(impact_layer(result), fmt="gpkg", filename=f"impact-experiment-{pk}")


@role_required(*IMPACT_ROLES)
def experiment_impact_json(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = _experiment(pk)
    result = experiment_impact_cached(experiment=experiment)
    response = JsonResponse(result, json_dumps_params={"indent": 2, "allow_nan": False})
    response["Content-Disposition"] = f'attachment; filename="impact-experiment-{pk}.json"'
    return response


__all__ = [
    "experiment_impact_chart",
    "experiment_impact_csv",
    "experiment_impact_gpkg",
    "experiment_impact_json",
    "experiment_impact_page",
    "impact_index",
]
