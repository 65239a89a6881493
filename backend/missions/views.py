"""Mission pages: the officer's missions, the sergeant's board and Mission Menu, experiments.

Pages parse the form, call one service, and report the outcome as a message; every rule lives
in ``services.py`` and ``selectors.py``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from backend.accounts.models import Role
from backend.accounts.permissions import SignedInRequest, role_required
from backend.analytics.randomization import BalanceRow
from backend.config.localtime import local_day_bounds
from backend.gis.layers import spreadsheet_safe
from backend.hotspots.selectors import analysis_run_active, hotspots_active
from backend.missions.api import allocation_csv_response
from backend.missions.forms import (
    AssignForm,
    BoardQueryForm,
    CancelForm,
    MissionActForm,
    ScheduleForm,
    officer_label,
)
from backend.missions.models import (
    OPEN_MISSION_STATUSES,
    Blocking,
    DeclineReason,
    Design,
    ExperimentStatus,
    MissionStatus,
    MissionType,
)
from backend.missions.selectors import (
    allocation_rows,
    board_missions,
    experiment_reproduce,
    experiment_summary,
    experiments_list,
    hotspot_dose_today,
    mission_deliveries,
    mission_types_active,
    missions_visible_to,
    no_treated_reason,
    officer_day_visits,
    shift_plan_for,
    squad_assignable_officers,
    squad_shift_window,
    squads_led_by,
    treatment_on,
    treatment_sentence,
)
from backend.missions.services import (
    MissionConflict,
    experiment_create,
    experiment_end,
    experiment_randomize,
    experiment_start,
    mission_accept,
    mission_arrive,
    mission_assign,
    mission_cancel,
    mission_complete,
    mission_decline,
    mission_interrupt,
    mission_type_create,
    mission_type_update,
    shift_plan_generate,
)

FIELD_ROLES = (Role.OFFICER, Role.SERGEANT)
BOARD_ROLES = (Role.SERGEANT, Role.SUPERVISOR)
EXPERIMENT_ROLES = (Role.ANALYST, Role.SUPERVISOR)
BOARD_PAGE_SIZE = 100  # a 10-hour shift of 20 hot spots x 3 visits fits on one page
ALLOCATION_PAGE_SIZE = 50


def _error_messages(request: HttpRequest, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field == "__all__":
                messages.error(request, " ".join(errors))
            else:
                label = field.replace("_", " ").capitalize()
                messages.error(request, f"{label}: {' '.join(errors)}")
    else:
        for m in exc.messages:
            messages.error(request, m)


# ---------------------------------------------------------------------------------------------
# The officer's missions


@role_required(*FIELD_ROLES)
def my_missions(request: SignedInRequest) -> HttpResponse:
    """Today's missions and the dose delivered so far, with the buttons to work them."""
    today = timezone.localdate()
    start, end = local_day_bounds(today)
    mine = missions_visible_to(user=request.user).filter(officer=request.user)
    open_missions = mine.filter(status__in=OPEN_MISSION_STATUSES).order_by("window_start")
    done_today = mine.filter(ended_at__gte=start, ended_at__lt=end).exclude(
        status__in=OPEN_MISSION_STATUSES
    )
    visits = officer_day_visits(officer=request.user, day=today)
    return render(
        request,
        "missions/mine.html",
        {
            "open_missions": open_missions,
            "done_today": done_today.order_by("-ended_at"),
            "visits_today": visits.visits,
            "minutes_today": visits.minutes,
            "completed_today": done_today.filter(status=MissionStatus.COMPLETED).count(),
            "decline_reasons": DeclineReason.choices,
        },
    )


MY_ACTIONS: dict[str, Callable[..., Any]] = {
    "accept": mission_accept,
    "arrive": mission_arrive,
    "complete": mission_complete,
    "interrupt": mission_interrupt,
}


@require_POST
@role_required(*FIELD_ROLES)
def my_mission_act(request: SignedInRequest, pk: int) -> HttpResponse:
    get_object_or_404(missions_visible_to(user=request.user), pk=pk, officer=request.user)
    form = MissionActForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Unknown action.")
        return redirect("missions:mine")
    action = form.cleaned_data["action"]
    try:
        if action == "decline":
            mission_decline(
                mission_id=pk,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        else:
            MY_ACTIONS[action](mission_id=pk, actor=request.user)
    except (MissionConflict, PermissionError) as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        messages.success(request, f"Mission {pk}: done.")
    return redirect("missions:mine")


# ---------------------------------------------------------------------------------------------
# The board


def _board_url(squad_id: int, day: date) -> str:
    return f"{reverse('missions:board')}?squad={squad_id}&date={day.isoformat()}"


def _form_errors(request: HttpRequest, form: forms.Form) -> None:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        text = " ".join(str(e) for e in errors)
        messages.error(
            request,
            f"{label or field.replace('_', ' ').capitalize()}: {text}"
            if field != "__all__"
            else text,
        )


@role_required(*BOARD_ROLES)
def board(request: SignedInRequest) -> HttpResponse:
    """The sergeant's squad and shift: generate the Koper schedule, assign by hand, watch."""
    squads = squads_led_by(user=request.user)
    query = BoardQueryForm(request.GET)
    squad = query.squad_in(squads)
    day = query.day()
    context: dict[str, Any] = {"squads": squads, "squad": squad, "day": day}
    if squad is not None:
        shift_start, shift_end = squad_shift_window(squad=squad, day=day)
        district_hotspots = list(hotspots_active().filter(district=squad.district).order_by("rank"))
        treatment = treatment_on(day=day, hotspot_ids=[h.pk for h in district_hotspots])
        doses = hotspot_dose_today(
            hotspot_ids=[h.pk for h in district_hotspots], day=day, treatment=treatment
        )
        missions = Paginator(board_missions(squad=squad, day=day), BOARD_PAGE_SIZE).get_page(
            query.page_number()
        )
        treated_count = sum(1 for h in district_hotspots if treatment.is_treated(h.pk))
        officers = squad_assignable_officers(user=request.user).filter(squad=squad)
        assign = AssignForm(
            squads=squads,
            officers=officers,
            initial={
                "squad": squad.pk,
                "date": day,
                "minutes": treatment.visit_minutes,
                "window_start": (
                    timezone.localtime().replace(second=0, microsecond=0)
                    if day == timezone.localdate()
                    else shift_start
                ).strftime("%Y-%m-%dT%H:%M"),
            },
        )
        deliveries = mission_deliveries(missions.object_list)
        for m in missions.object_list:
            # "completed" and "delivered" are shown apart; a view-only attribute for the template
            m.delivery = deliveries[m.pk]  # type: ignore[attr-defined]
        context.update(
            shift_start=shift_start,
            shift_end=shift_end,
            plan=shift_plan_for(squad=squad, day=day),
            missions=missions,
            treatment_note=treatment_sentence(),
            hotspots=[(h, doses[h.pk]) for h in district_hotspots],
            treated_count=treated_count,
            no_treated=no_treated_reason(
                squad=squad, district_hotspots=len(district_hotspots), treated=treated_count
            ),
            officers=officers,
            assign=assign,
            mission_types=mission_types_active(),
            visits_per_day=treatment.visits_per_day,
            visit_minutes=treatment.visit_minutes,
        )
    return render(request, "missions/board.html", context)


@require_POST
@role_required(*BOARD_ROLES)
def board_schedule(request: HttpRequest) -> HttpResponse:
    form = ScheduleForm(request.POST, squads=squads_led_by(user=request.user))
    if not form.is_valid():
        if "squad" in form.errors:
            raise Http404("No squad of yours.")
        _form_errors(request, form)
        return redirect(_board_url(form.cleaned_data["squad"].pk, timezone.localdate()))
    squad, day = form.cleaned_data["squad"], form.cleaned_data["date"]
    mission_type = form.cleaned_data.get("mission_type")
    try:
        result = shift_plan_generate(
            squad_id=squad.pk,
            day=day,
            actor=request.user,  # type: ignore[arg-type]
            mission_type_id=mission_type.pk if mission_type else None,
            replace=bool(form.cleaned_data.get("replace")),
        )
    except (MissionConflict, PermissionError) as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        n = result.plan.missions.count()
        if result.created:
            messages.success(request, _("Shift schedule generated: %(n)d missions.") % {"n": n})
            if result.capacity_note:
                messages.info(request, result.capacity_note)
            for warning in result.capacity_warnings:
                messages.warning(request, _("Over capacity: %(warning)s.") % {"warning": warning})
        else:
            messages.info(
                request,
                _(
                    "This shift already has a schedule (%(n)d missions); it was not doubled. "
                    "Use “Replace the schedule” to draw a new one."
                )
                % {"n": n},
            )
    return redirect(_board_url(squad.pk, day))


@require_POST
@role_required(*BOARD_ROLES)
def board_assign(request: HttpRequest) -> HttpResponse:
    squads = squads_led_by(user=request.user)
    form = AssignForm(
        request.POST, squads=squads, officers=squad_assignable_officers(user=request.user)
    )
    if not form.is_valid():
        if "squad" in form.errors:
            raise Http404("No squad of yours.")
        _form_errors(request, form)
        day = form.cleaned_data.get("date") or timezone.localdate()
        return redirect(_board_url(form.cleaned_data["squad"].pk, day))
    data = form.cleaned_data
    squad, day = data["squad"], data["date"]
    start = data["window_start"]
    if timezone.is_naive(start):  # a datetime-local value is agency-local wall time
        start = start.replace(tzinfo=ZoneInfo(settings.TIME_ZONE))
    try:
        written = mission_assign(
            actor=request.user,  # type: ignore[arg-type]
            officer_id=data["officer"].pk,
            hotspot_id=data["hotspot"],
            window_start=start,
            window_end=start + timedelta(minutes=data["minutes"]),
            mission_type_id=data["mission_type"].pk if data.get("mission_type") else None,
        )
    except MissionConflict as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        m = written.mission
        messages.success(
            request,
            _("Mission %(id)d assigned to %(officer)s at hot spot %(rank)d.")
            % {"id": m.pk, "officer": officer_label(m.officer), "rank": m.hotspot.rank},
        )
    return redirect(_board_url(squad.pk, day))


@require_POST
@role_required(*BOARD_ROLES)
def board_cancel(request: SignedInRequest, pk: int) -> HttpResponse:
    mission = get_object_or_404(missions_visible_to(user=request.user), pk=pk)
    form = CancelForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        mission_cancel(mission_id=pk, actor=request.user, note=note)
    except (MissionConflict, PermissionError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Mission %(id)d cancelled.") % {"id": pk})
    day = timezone.localdate(mission.window_start)
    return redirect(
        _board_url(mission.squad_id or 0, day) if mission.squad_id else "missions:board"
    )


@role_required(*BOARD_ROLES)
def board_csv(request: HttpRequest) -> HttpResponse:
    query = BoardQueryForm(request.GET)
    if not query.is_valid() or not query.cleaned_data.get("squad"):
        raise Http404("Choose one of your squads.")
    squad = get_object_or_404(squads_led_by(user=request.user), pk=query.cleaned_data["squad"])
    day = query.day()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="board-{squad.pk}-{day}.csv"'
    out = csv.writer(response)
    out.writerow(
        [
            "mission_id",
            "window_start",
            "window_end",
            "officer",
            "badge",
            "hotspot_id",
            "hotspot_rank",
            "address",
            "mission_type",
            "source",
            "status",
            "decline_reason",
            "note",
            "delivered",
            "dwell_minutes",
            "outcome",
        ]
    )
    missions = list(board_missions(squad=squad, day=day))
    deliveries = mission_deliveries(missions)
    for m in missions:
        d = deliveries[m.pk]
        out.writerow(
            [
                m.pk,
                timezone.localtime(m.window_start).isoformat(),
                timezone.localtime(m.window_end).isoformat(),
                spreadsheet_safe(m.officer.username),
                spreadsheet_safe(m.officer.badge_number),
                m.hotspot_id,
                m.hotspot.rank,
                spreadsheet_safe(m.hotspot.place),
                spreadsheet_safe(m.mission_type.name if m.mission_type else ""),
                m.source,
                m.status,
                m.decline_reason,
                spreadsheet_safe(m.status_note),
                int(d.delivered),
                d.dwell_minutes,
                d.outcome,
            ]
        )
    return response


# ---------------------------------------------------------------------------------------------
# Mission Menu


def _mission_type_fields(request: HttpRequest) -> dict[str, Any]:
    p = request.POST
    try:
        minutes = int(p.get("target_minutes") or 15)
    except ValueError:
        minutes = 0
    return {
        "name": p.get("name", ""),
        "objective": p.get("objective", ""),
        "target_minutes": minutes,
        "tactics": p.get("tactics", ""),
        "is_active": p.get("is_active") == "1",
    }


@role_required(*BOARD_ROLES)
def menu(request: SignedInRequest) -> HttpResponse:
    """The Mission Menu: every entry, and a form to add one."""
    form: dict[str, Any] = {"target_minutes": 15, "is_active": True}
    if request.method == "POST":
        form = _mission_type_fields(request)
        try:
            created = mission_type_create(actor=request.user, **form)
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            messages.success(request, f"Added “{created.name}” to the Mission Menu.")
            return redirect("missions:menu")
    page = Paginator(MissionType.objects.order_by("-is_active", "name"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "missions/menu.html", {"page": page, "form": form})


@role_required(*BOARD_ROLES)
def menu_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    mission_type = get_object_or_404(MissionType, pk=pk)
    form: dict[str, Any] = {
        f: getattr(mission_type, f)
        for f in ("name", "objective", "target_minutes", "tactics", "is_active")
    }
    if request.method == "POST":
        form = _mission_type_fields(request)
        try:
            mission_type_update(actor=request.user, mission_type_id=pk, **form)
        except ValidationError as exc:
            _error_messages(request, exc)
        else:
            messages.success(request, f"Saved “{form['name'].strip()}”.")
            return redirect("missions:menu")
    return render(request, "missions/menu_edit.html", {"mission_type": mission_type, "form": form})


# ---------------------------------------------------------------------------------------------
# Experiments


@role_required(*EXPERIMENT_ROLES)
def experiments(request: SignedInRequest) -> HttpResponse:
    """Experiments, and the form to set one up on the active hot spots."""
    today = timezone.localdate()
    form: dict[str, Any] = {
        "design": Design.BLOCKED,
        "starts_on": today + timedelta(days=7),
        "ends_on": today + timedelta(days=7 + 89),
        "visits_per_shift": 3,
        "minutes_per_visit": 15,
        "blocking": Blocking.DISTRICT_TIER,
        "harm_tiers": 2,
        "name": "",
    }
    if request.method == "POST":
        p = request.POST
        try:
            form.update(
                name=p.get("name", ""),
                design=p.get("design", ""),
                starts_on=date.fromisoformat(p.get("starts_on", "")),
                ends_on=date.fromisoformat(p.get("ends_on", "")),
                visits_per_shift=int(p.get("visits_per_shift") or 3),
                minutes_per_visit=int(p.get("minutes_per_visit") or 15),
                blocking=p.get("blocking") or Blocking.DISTRICT_TIER,
                harm_tiers=int(p.get("harm_tiers") or 2),
            )
        except ValueError:
            messages.error(request, "Dates must be dates; visits, minutes and tiers numbers.")
        else:
            try:
                experiment = experiment_create(actor=request.user, **form)
            except ValidationError as exc:
                _error_messages(request, exc)
            else:
                messages.success(request, f"Experiment “{experiment.name}” created: randomize it.")
                return redirect("missions:experiment", pk=experiment.pk)
    page = Paginator(experiments_list(), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "missions/experiments.html",
        {
            "page": page,
            "form": form,
            "active_run": analysis_run_active(),
            "designs": Design.choices,
            "blockings": Blocking.choices,
        },
    )


def _fmt(x: float, digits: int = 1) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:,.{digits}f}"


def _balance_display(row: BalanceRow) -> dict[str, Any]:
    return {
        "block": row.block,
        "n_t": row.treatment.n,
        "n_c": row.control.n,
        "count_t": _fmt(row.treatment.count_mean),
        "count_c": _fmt(row.control.count_mean),
        "count_d": _fmt(row.count_std_diff, 2),
        "harm_t": _fmt(row.treatment.harm_mean, 0),
        "harm_c": _fmt(row.control.harm_mean, 0),
        "harm_d": _fmt(row.harm_std_diff, 2),
        "flag": any(
            math.isfinite(d) and abs(d) > 0.1 for d in (row.count_std_diff, row.harm_std_diff)
        ),
    }


@role_required(*EXPERIMENT_ROLES)
def experiment_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    """Allocation, balance, power, the map of arms; randomize, start, end, export, reproduce."""
    experiment = get_object_or_404(experiments_list(), pk=pk)
    summary = experiment_summary(experiment=experiment)
    rows = allocation_rows(experiment=experiment)
    days = sorted({r.day for r in rows if r.day})
    return render(
        request,
        "missions/experiment.html",
        {
            "e": experiment,
            "summary": summary,
            "balance": [_balance_display(r) for r in summary.balance.blocks]
            if summary.balance
            else [],
            "overall": _balance_display(summary.balance.overall) if summary.balance else None,
            "allocation": Paginator(rows, ALLOCATION_PAGE_SIZE).get_page(request.GET.get("page")),
            "days": days,
            "is_draft": experiment.status == ExperimentStatus.DRAFT,
            "is_running": experiment.status == ExperimentStatus.RUNNING,
            "seed": str(experiment.seed) if experiment.seed is not None else "",
        },
    )


@require_POST
@role_required(*EXPERIMENT_ROLES)
def experiment_randomize_view(request: SignedInRequest, pk: int) -> HttpResponse:
    try:
        experiment = experiment_randomize(experiment_id=pk, actor=request.user)
    except MissionConflict as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        _error_messages(request, exc)
    else:
        messages.success(request, f"Randomized with seed {experiment.seed}.")
    return redirect("missions:experiment", pk=pk)


@require_POST
@role_required(*EXPERIMENT_ROLES)
def experiment_start_view(request: SignedInRequest, pk: int) -> HttpResponse:
    try:
        experiment = experiment_start(experiment_id=pk, actor=request.user)
    except MissionConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"“{experiment.name}” is running: its allocation is locked and decides which hot "
            "spots get missions.",
        )
    return redirect("missions:experiment", pk=pk)


@require_POST
@role_required(*EXPERIMENT_ROLES)
def experiment_end_view(request: SignedInRequest, pk: int) -> HttpResponse:
    try:
        experiment_end(experiment_id=pk, actor=request.user)
    except MissionConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Experiment ended.")
    return redirect("missions:experiment", pk=pk)


@role_required(*EXPERIMENT_ROLES)
def experiment_csv(request: SignedInRequest, pk: int) -> HttpResponse:
    return allocation_csv_response(get_object_or_404(experiments_list(), pk=pk))


@require_POST
@role_required(*EXPERIMENT_ROLES)
def experiment_reproduce_view(request: SignedInRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(experiments_list(), pk=pk)
    result = experiment_reproduce(experiment=experiment)
    if result.identical:
        messages.success(
            request,
            f"Re-run from seed {result.seed}: identical ({result.compared} allocation rows).",
        )
    elif result.seed is None:
        messages.error(request, "Not randomized yet: there is no seed to re-run.")
    else:
        messages.error(
            request,
            f"Re-run from seed {result.seed}: {result.differences} rows differ from the stored "
            "allocation.",
        )
    return redirect("missions:experiment", pk=pk)
