"""Report reads: snapshots, compliance scoped to the viewer's role, dose by hour, stored daily
rows and streaks. The squad's shift and live presence: ``presence.py``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from backend.accounts.models import Role, Squad
from backend.analytics.compliance import covered_seconds, streak_days
from backend.config.celery import RESEND_AFTER
from backend.hotspots.models import Hotspot
from backend.patrols.models import Visit
from backend.reports.compliance import (
    HOTSPOT_GROUPINGS,
    ComplianceResult,
    compliance_compute,
    day_arms,
)
from backend.reports.models import (
    ComplianceDay,
    ComplianceRecompute,
    DailySnapshot,
    RecomputeStatus,
    Scope,
)

COMPLIANCE_VIEW_ROLES = (Role.SERGEANT, Role.SUPERVISOR, Role.ANALYST)
RECOMPUTE_ROLES = (Role.SUPERVISOR, Role.ANALYST)
LIVE_ROLES = (Role.SERGEANT, Role.SUPERVISOR)  # analysts read aggregates, never positions
STREAK_LOOKBACK_DAYS = 180  # a streak longer than half a year is reported as 180 days


def snapshot_list() -> QuerySet[DailySnapshot]:
    return DailySnapshot.objects.order_by("-day")


# ---------------------------------------------------------------------------------------------
# Who sees what


@dataclass(frozen=True)
class ComplianceScope:
    """What a viewer's compliance reads are limited to: ``squad_ids`` None means every squad
    (supervisors, analysts, admins); a sergeant gets the squads they lead (possibly none)."""

    squad_ids: tuple[int, ...] | None

    @property
    def restricted(self) -> bool:
        return self.squad_ids is not None


def compliance_scope_for(*, viewer: Any) -> ComplianceScope:
    """Raises ``PermissionError`` for roles that may not read compliance (officers)."""
    if viewer.has_role(Role.SUPERVISOR, Role.ANALYST):
        return ComplianceScope(squad_ids=None)
    if viewer.has_role(Role.SERGEANT):
        return ComplianceScope(
            squad_ids=tuple(Squad.objects.filter(sergeant=viewer).values_list("pk", flat=True))
        )
    raise PermissionError("Your role does not give access to compliance reports.")


def squads_visible_to(*, viewer: Any) -> QuerySet[Squad]:
    """Squads whose compliance and live presence ``viewer`` may see."""
    squads = Squad.objects.select_related("district", "sergeant").order_by("name")
    if viewer.has_role(Role.SUPERVISOR, Role.ANALYST):
        return squads
    if viewer.has_role(Role.SERGEANT):
        return squads.filter(sergeant=viewer)
    return squads.none()


def compliance_report(*, viewer: Any, first: date, last: date, by: str) -> ComplianceResult:
    """``compliance_compute`` limited to what ``viewer`` may see: hot spot groupings are
    everyone's dose; officer groupings of a sergeant hold only their squads' officers."""
    scope = compliance_scope_for(viewer=viewer)
    if by in HOTSPOT_GROUPINGS or not scope.restricted:
        return compliance_compute(first=first, last=last, by=by)
    return compliance_compute(first=first, last=last, by=by, squad_ids=scope.squad_ids)


def compliance_sentence(*, first: date, last: date, totals: dict[str, Any]) -> str:
    """One plain sentence about the range's totals."""
    days = (last - first).days + 1
    span = f"On {last:%-d %b %Y}" if days == 1 else f"In the {days} days to {last:%-d %b %Y}"
    pv, dv, kv = totals["prescribed_visits"], totals["delivered_visits"], totals["koper_visits"]
    on_target = totals["on_target_visits"]
    if not pv and not dv:
        return f"{span}, no visit was prescribed and none was recorded."
    if not pv:
        return (
            f"{span}, nothing was prescribed; officers made {dv} visit{'s' if dv != 1 else ''} "
            f"to treated hot spots ({kv} Koper-compliant, 10-16 min)."
        )
    pct = round(100 * on_target / pv)
    extra = dv - on_target
    beyond = f" ({extra} more went beyond a day's prescription)" if extra > 0 else ""
    return (
        f"{span}, officers delivered {on_target} of {pv} prescribed visits ({pct}%){beyond}; "
        f"{kv} {'was' if kv == 1 else 'were'} Koper-compliant (10-16 min)."
    )


# ---------------------------------------------------------------------------------------------
# Stored daily rows


def compliance_days(
    *, viewer: Any, first: date, last: date, scope: str | None = None
) -> QuerySet[ComplianceDay]:
    """Stored daily rows of ``[first, last]``: hot spot rows for everyone allowed; officer and
    squad rows limited to a sergeant's squads."""
    allowed = compliance_scope_for(viewer=viewer)
    rows = ComplianceDay.objects.filter(day__gte=first, day__lte=last)
    if scope:
        rows = rows.filter(scope=scope)
    if allowed.squad_ids is not None:
        ids = list(allowed.squad_ids)
        rows = rows.filter(
            Q(scope=Scope.HOTSPOT)
            | Q(scope=Scope.OFFICER, officer__squad_id__in=ids)
            | Q(scope=Scope.SQUAD, squad_id__in=ids)
        )
    return rows.order_by("day", "scope", "hotspot_id", "officer_id", "squad_id", "pk")


@dataclass(frozen=True)
class Staleness:
    """How old the stored daily rows of a range are."""

    oldest: datetime | None  # the oldest ``computed_at`` of the range's rows
    newest: datetime | None
    days_total: int
    days_stored: int

    @property
    def minutes_ago(self) -> int | None:
        if self.oldest is None:
            return None
        return max(0, int((timezone.now() - self.oldest).total_seconds() // 60))

    @property
    def days_missing(self) -> int:
        return self.days_total - self.days_stored


def compliance_staleness(*, first: date, last: date) -> Staleness:
    rows = ComplianceDay.objects.filter(day__gte=first, day__lte=last)
    agg = rows.aggregate(oldest=Min("computed_at"), newest=Max("computed_at"))
    return Staleness(
        oldest=agg["oldest"],
        newest=agg["newest"],
        days_total=(last - first).days + 1,
        days_stored=rows.order_by().values("day").distinct().count(),
    )


def recompute_job_latest(*, first: date, last: date) -> ComplianceRecompute | None:
    """The newest unfinished recompute covering ``[first, last]``, if any."""
    return (
        ComplianceRecompute.objects.filter(
            first_day__lte=first, last_day__gte=last, status__in=["queued", "running"]
        )
        .order_by("-created_at")
        .first()
    )


def recompute_jobs() -> QuerySet[ComplianceRecompute]:
    return ComplianceRecompute.objects.order_by("-created_at")


@dataclass(frozen=True)
class DayTrend:
    """Per day of a range, from the stored hot spot rows (oldest first)."""

    days: list[date]
    treatment_minutes: list[float]  # dose delivered in treated hot spots
    control_minutes: list[float]  # presence in control hot spots (contamination)


def compliance_trend(*, first: date, last: date) -> DayTrend:
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    treated: dict[date, float] = defaultdict(float)
    control: dict[date, float] = defaultdict(float)
    rows = ComplianceDay.objects.filter(scope=Scope.HOTSPOT, day__gte=first, day__lte=last)
    for day, delivered, contamination in rows.values_list(
        "day", "delivered_minutes", "contamination_minutes"
    ):
        treated[day] += delivered
        control[day] += contamination
    return DayTrend(
        days=days,
        treatment_minutes=[treated[d] for d in days],
        control_minutes=[control[d] for d in days],
    )


@dataclass(frozen=True)
class SquadDose:
    squad_id: int
    name: str
    prescribed_visits: int
    delivered_visits: int
    on_target_visits: int

    @property
    def pct(self) -> float | None:
        if not self.prescribed_visits:
            return None
        return 100.0 * self.on_target_visits / self.prescribed_visits


def compliance_by_squad_stored(
    *, first: date, last: date, squad_ids: Iterable[int] | None = None
) -> list[SquadDose]:
    """Each squad's visits over the range, summed from the stored squad rows."""
    rows = ComplianceDay.objects.filter(scope=Scope.SQUAD, day__gte=first, day__lte=last)
    if squad_ids is not None:
        rows = rows.filter(squad_id__in=list(squad_ids))
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for sid, *values in rows.values_list(
        "squad_id", "prescribed_visits", "delivered_visits", "on_target_visits"
    ):
        for k, v in enumerate(values):
            sums[sid][k] += v
    names = dict(Squad.objects.filter(pk__in=list(sums)).values_list("pk", "name"))
    out = [SquadDose(sid, names.get(sid, f"Squad {sid}"), *v) for sid, v in sums.items()]
    return sorted(out, key=lambda s: s.name)


# ---------------------------------------------------------------------------------------------
# Dose by hour of day


def dose_by_hour(*, first: date, last: date, squad_ids: Iterable[int] | None = None) -> np.ndarray:
    """Delivered minutes per agency-local hour of day, float64 (24,).

    Delivered as in ``backend.analytics.compliance``: officers' (not AVL) visits to hot spots
    treated that day, two officers together counting once (each visit's share of the union of
    its hot spot-day, from ``covered_seconds``), spread over the visit's span by the minutes
    it has in each hour. ``squad_ids`` limits the visits to those squads' officers.
    """
    qs = Visit.objects.filter(day__gte=first, day__lte=last, officer__isnull=False)
    if squad_ids is not None:
        qs = qs.filter(officer__squad_id__in=list(squad_ids))
    rows = list(qs.values_list("hotspot_id", "day", "entered_at", "exited_at", "dwell_s"))
    out = np.zeros(24, dtype=np.float64)
    if not rows:
        return out
    arms = day_arms(first=first, last=last, hotspot_ids={r[0] for r in rows})
    rows = [r for r in rows if arms.arms.get((r[0], r[1])) in ("treatment", "")]
    if not rows:
        return out
    segment_of: dict[tuple[int, date], int] = {}
    seg = [segment_of.setdefault((r[0], r[1]), len(segment_of)) for r in rows]
    start = np.array([r[2].timestamp() for r in rows])
    end = np.array([r[3].timestamp() for r in rows])
    dwell = np.array([r[4] for r in rows], dtype=np.float64)
    seconds = covered_seconds(seg, start, end, dwell)
    for (_, _, entered, exited, _), sec in zip(rows, seconds, strict=True):
        span = (exited - entered).total_seconds()
        if span <= 0 or sec <= 0:
            continue
        t = timezone.localtime(entered)
        stop = timezone.localtime(exited)
        while t < stop:
            next_hour = (t + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            piece = (min(next_hour, stop) - t).total_seconds()
            out[t.hour] += sec * piece / span / 60.0
            t = next_hour
    return out


# ---------------------------------------------------------------------------------------------
# Streaks (positive feedback)


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int


def _met_days(rows: Iterable[tuple[Any, date, int, int]], today: date) -> dict[Any, list[bool]]:
    """Per key, oldest first: was the prescription met on each day that had one. Today counts
    only once met (a shift in progress does not break a streak)."""
    out: dict[Any, list[bool]] = defaultdict(list)
    for key, day, prescribed, delivered in rows:
        if prescribed <= 0:
            continue  # nothing prescribed: neither breaks nor extends a streak
        met = delivered >= prescribed
        if day >= today and not met:
            continue
        out[key].append(met)
    return out


def streaks_for(*, scope: str, ids: Iterable[int], last: date | None = None) -> dict[int, Streak]:
    """Current and longest streaks (``backend.analytics.compliance.streak_days``) of officers
    or squads (``scope``), from the stored daily rows of the ``STREAK_LOOKBACK_DAYS`` to
    ``last`` (default today)."""
    today = timezone.localdate()
    last = last or today
    field_name = "officer_id" if scope == Scope.OFFICER else "squad_id"
    ids = list(ids)
    rows = (
        ComplianceDay.objects.filter(
            scope=scope,
            day__gt=last - timedelta(days=STREAK_LOOKBACK_DAYS),
            day__lte=last,
            **{f"{field_name}__in": ids},
        )
        .order_by("day")
        .values_list(field_name, "day", "prescribed_visits", "delivered_visits")
    )
    met = _met_days(rows, today)
    out = {}
    for key in ids:
        current, longest = streak_days(np.asarray(met.get(key, []), dtype=bool))
        out[key] = Streak(current=current, longest=longest)
    return out


@dataclass(frozen=True)
class MyDay:
    day: date
    prescribed_visits: int
    delivered_visits: int
    prescribed_minutes: float
    delivered_minutes: float
    koper_visits: int

    @property
    def met(self) -> bool | None:
        if not self.prescribed_visits:
            return None
        return self.delivered_visits >= self.prescribed_visits


@dataclass(frozen=True)
class MyCompliance:
    today: MyDay
    days: list[MyDay]  # the last ``days`` days, oldest first, today last
    streak: Streak
    squad_name: str | None
    squad_streak: Streak | None


def compliance_for_officer(*, officer: Any, days: int = 14) -> MyCompliance:
    """An officer's own dose: today's (computed now from the visits, so a visit shows as soon
    as it is rolled up), the last ``days`` days and the streaks (stored rows, with today's
    fresh figures in place of today's stored row)."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    live = compliance_compute(first=first, last=today, by="officer-day", officer_ids=[officer.pk])
    by_day: dict[date, MyDay] = {}
    for (officer_id, d), row in zip(live.day_keys(), live.rows(), strict=True):
        if officer_id != officer.pk:
            continue
        by_day[d] = MyDay(
            day=d,
            prescribed_visits=row["prescribed_visits"],
            delivered_visits=row["delivered_visits"],
            prescribed_minutes=row["prescribed_minutes"],
            delivered_minutes=row["delivered_minutes"],
            koper_visits=row["koper_visits"],
        )
    series = [
        by_day.get(d) or MyDay(d, 0, 0, 0.0, 0.0, 0)
        for d in (first + timedelta(days=k) for k in range(days))
    ]
    stored = ComplianceDay.objects.filter(
        scope=Scope.OFFICER,
        officer=officer,
        day__gt=today - timedelta(days=STREAK_LOOKBACK_DAYS),
        day__lt=first,
    ).order_by("day")
    rows: list[tuple[Any, date, int, int]] = [
        (officer.pk, d, pv, dv)
        for d, pv, dv in stored.values_list("day", "prescribed_visits", "delivered_visits")
    ]
    rows += [(officer.pk, m.day, m.prescribed_visits, m.delivered_visits) for m in series]
    met = _met_days(rows, today).get(officer.pk, [])
    current, longest = streak_days(np.asarray(met, dtype=bool))
    squad_streak = None
    if officer.squad_id:
        squad_streak = streaks_for(scope=Scope.SQUAD, ids=[officer.squad_id])[officer.squad_id]
    return MyCompliance(
        today=series[-1],
        days=series,
        streak=Streak(current=current, longest=longest),
        squad_name=officer.squad.name if officer.squad_id else None,
        squad_streak=squad_streak,
    )


def hotspot_features(*, hotspot_ids: Iterable[int]) -> dict[int, Hotspot]:
    return Hotspot.objects.select_related("district").in_bulk(list(hotspot_ids))


def recomputes_due(*, now: datetime | None = None) -> list[int]:
    """Compliance recomputations still queued ``RESEND_AFTER`` after they were requested (their
    message was lost). Oldest first, at most 100 a sweep."""
    before = (now or timezone.now()) - RESEND_AFTER
    return list(
        ComplianceRecompute.objects.filter(status=RecomputeStatus.QUEUED, created_at__lt=before)
        .order_by("created_at")
        .values_list("pk", flat=True)[:100]
    )
