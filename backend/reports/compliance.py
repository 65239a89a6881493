"""Compliance reads: load visits, device gaps and prescriptions of a range of days as arrays,
group them, and sum them with ``backend.analytics.compliance``.

One engine serves every grouping (hot spot, officer, squad, shift, district, experiment arm,
and the per-day scopes the stored rows use), so the stored daily rows, the pages, the API and
``compliance_report`` agree by construction. Reads only; ``services.compliance_day_rebuild``
writes the stored rows from ``compliance_compute(by="hotspot-day" | "officer-day" |
"squad-day")``.

Prescriptions:
* a hot spot-day is prescribed the dose of the experiment covering that day (its visits per
  shift x minutes per visit) when the hot spot is in its treatment arm (that day's arm for
  place-day designs), nothing when control; on a day no experiment covers, every hot spot of
  the active analysis is treated with the default dose (3 x 15 minutes), as the draw does;
* an officer-day is prescribed the missions assigned to the officer in windows starting that
  day (cancelled ones excepted): one visit of ``target_minutes`` each; a squad-day is the sum
  of its officers'.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from django.db.models import Q
from django.utils import timezone

from backend.accounts.models import Squad, User
from backend.analytics.compliance import (
    ARM_CONTROL,
    ARM_NONE,
    ARM_TREATED,
    ComplianceTable,
    compliance_table,
)
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import analysis_run_active
from backend.missions.models import (
    Allocation,
    Arm,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionStatus,
)
from backend.missions.selectors import DEFAULT_VISIT_MINUTES, DEFAULT_VISITS_PER_DAY
from backend.patrols.models import DeviceGap, Visit

HOTSPOT_GROUPINGS = ("hotspot", "district", "arm", "hotspot-day")
OFFICER_GROUPINGS = ("officer", "squad", "shift", "officer-day", "squad-day")
GROUPINGS = HOTSPOT_GROUPINGS + OFFICER_GROUPINGS
REPORT_GROUPINGS = ("hotspot", "officer", "squad", "shift", "district", "arm")
MAX_REPORT_DAYS = 400  # a bound on one request: a year and a bit of daily rows

COLUMNS = (
    "prescribed_visits",
    "delivered_visits",
    "pct_delivered",
    "prescribed_minutes",
    "delivered_minutes",
    "koper_visits",
    "officer_minutes",
    "patrol_minutes",
    "avl_minutes",
    "gap_minutes",
    "contamination_minutes",
)


@dataclass(frozen=True)
class DayArms:
    """Arms and doses of hot spots on each day of a range."""

    arms: dict[tuple[int, date], str]  # (hot spot id, day) -> "treatment" | "control" | ""
    dose: dict[tuple[int, date], tuple[int, int]]  # treated (hot spot, day) -> (visits, minutes)


def _experiment_last_day(e: Experiment) -> date:
    if e.status == ExperimentStatus.ENDED and e.ended_at is not None:
        return min(e.ends_on, timezone.localtime(e.ended_at).date())
    return e.ends_on


def day_arms(*, first: date, last: date, hotspot_ids: Iterable[int]) -> DayArms:
    """Who was treated, and with what dose, on each day of ``[first, last]`` (module docstring)."""
    ids = set(hotspot_ids)
    arms: dict[tuple[int, date], str] = {}
    dose: dict[tuple[int, date], tuple[int, int]] = {}
    covered: set[date] = set()
    experiments = Experiment.objects.filter(
        status__in=[ExperimentStatus.RUNNING, ExperimentStatus.ENDED],
        starts_on__lte=last,
        ends_on__gte=first,
    ).order_by("pk")
    for e in experiments:
        lo, hi = max(first, e.starts_on), min(last, _experiment_last_day(e))
        if hi < lo:
            continue
        days = [lo + timedelta(days=k) for k in range((hi - lo).days + 1)]
        covered.update(days)
        rows = Allocation.objects.filter(experiment=e).values_list("hotspot_id", "day", "arm")
        if e.design == Design.PLACEDAY:
            rows = rows.filter(day__gte=lo, day__lte=hi)
        for hid, alloc_day, arm in rows:
            ids.add(hid)
            for d in [alloc_day] if alloc_day else days:
                arms[(hid, d)] = arm
                if arm == Arm.TREATMENT:
                    dose[(hid, d)] = (e.visits_per_shift, e.minutes_per_visit)
    run = analysis_run_active()
    active = set(Hotspot.objects.filter(run=run).values_list("pk", flat=True)) if run else set()
    d = first
    while d <= last:
        if d not in covered:
            for hid in active:
                arms[(hid, d)] = ""
                dose[(hid, d)] = (DEFAULT_VISITS_PER_DAY, DEFAULT_VISIT_MINUTES)
        d += timedelta(days=1)
    return DayArms(arms=arms, dose=dose)


def _epoch(dt: datetime) -> float:
    return dt.timestamp()


@dataclass(frozen=True)
class ComplianceResult:
    """Groups (keys, in report order) and their sums."""

    by: str
    first: date
    last: date
    keys: list[Hashable]
    labels: list[str]
    table: ComplianceTable
    arms: DayArms

    def rows(self) -> list[dict[str, Any]]:
        """One dict per group: ``key``, ``label`` and every column of ``COLUMNS``."""
        pct = self.table.pct_delivered
        out = []
        for i, (key, label) in enumerate(zip(self.keys, self.labels, strict=True)):
            row: dict[str, Any] = {"key": key, "label": label}
            for col in COLUMNS:
                if col == "pct_delivered":
                    row[col] = None if np.isnan(pct[i]) else float(pct[i])
                else:
                    value = getattr(self.table, col)[i]
                    row[col] = int(value) if col.endswith("visits") else float(value)
            out.append(row)
        return out

    def totals(self) -> dict[str, Any]:
        """The whole range as one row (``pct_delivered`` from the summed visits)."""
        t = self.table
        row: dict[str, Any] = {}
        for col in COLUMNS:
            if col != "pct_delivered":
                value = getattr(t, col).sum()
                row[col] = int(value) if col.endswith("visits") else float(value)
        pv = row["prescribed_visits"]
        row["pct_delivered"] = 100.0 * row["delivered_visits"] / pv if pv else None
        return row


def _shift_label(squad: Squad | None) -> str:
    if squad is None:
        return "No squad"
    end = (
        datetime.combine(date(2000, 1, 1), squad.shift_start) + timedelta(hours=squad.shift_hours)
    ).time()
    return f"{squad.shift_start:%H:%M}-{end:%H:%M}"


def compliance_compute(
    *,
    first: date,
    last: date,
    by: str,
    officer_ids: Iterable[int] | None = None,
    squad_ids: Iterable[int] | None = None,
) -> ComplianceResult:
    """Compliance of agency-local days ``[first, last]`` grouped ``by`` one of ``GROUPINGS``.

    ``officer_ids`` / ``squad_ids`` restrict officer groupings (a sergeant's squad); hot spot
    groupings are never restricted (a hot spot's dose is everyone's). Queries: visits, device
    gaps, missions and the experiments' allocations of the range, each once.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    if last < first:
        raise ValueError("the range ends before it starts")
    hotspot_based = by in HOTSPOT_GROUPINGS

    visits_qs = Visit.objects.filter(day__gte=first, day__lte=last)
    gaps_qs = DeviceGap.objects.filter(day__gte=first, day__lte=last, officer__isnull=False)
    missions_qs = Mission.objects.filter(
        window_start__date__gte=first - timedelta(days=1),
        window_start__date__lte=last + timedelta(days=1),
    ).exclude(status=MissionStatus.CANCELLED)
    if hotspot_based:
        gaps_qs = gaps_qs.filter(hotspot__isnull=False)
    else:
        visits_qs = visits_qs.filter(officer__isnull=False)
        if officer_ids is not None or squad_ids is not None:
            who = Q()
            if officer_ids is not None:
                who |= Q(officer_id__in=list(officer_ids))
            if squad_ids is not None:
                who |= Q(officer__squad_id__in=list(squad_ids))
            visits_qs, gaps_qs, missions_qs = (
                visits_qs.filter(who),
                gaps_qs.filter(who),
                missions_qs.filter(who),
            )
    visits = list(
        visits_qs.values_list(
            "hotspot_id", "officer_id", "unit_id", "day", "entered_at", "exited_at", "dwell_s",
            "koper_compliant",
        )
    )  # fmt: skip
    gaps = list(gaps_qs.values_list("hotspot_id", "officer_id", "day", "started_at", "ended_at"))

    hotspot_ids = {v[0] for v in visits} | {g[0] for g in gaps if g[0]}
    arms = day_arms(first=first, last=last, hotspot_ids=hotspot_ids)
    arm_code = {"treatment": ARM_TREATED, "control": ARM_CONTROL, "": ARM_TREATED}

    def visit_arm(hid: int, d: date) -> int:
        a = arms.arms.get((hid, d))
        return ARM_NONE if a is None else arm_code[a]

    # Officer prescriptions: missions whose window starts on a local day of the range.
    officer_rx: dict[tuple[int, date], list[float]] = defaultdict(lambda: [0.0, 0.0])
    if not hotspot_based:
        for officer_id, start, minutes in missions_qs.values_list(
            "officer_id", "window_start", "target_minutes"
        ):
            d = timezone.localtime(start).date()
            if first <= d <= last:
                rx = officer_rx[(officer_id, d)]
                rx[0] += 1
                rx[1] += minutes

    officers: dict[int, User] = {}
    if not hotspot_based:
        wanted = {v[1] for v in visits} | {g[1] for g in gaps} | {k[0] for k in officer_rx}
        officers = User.objects.select_related("squad").in_bulk(list(wanted))

    hotspots: dict[int, Hotspot] = {}
    if hotspot_based:
        wanted_h = hotspot_ids | {k[0] for k in arms.arms}
        hotspots = Hotspot.objects.select_related("district").in_bulk(list(wanted_h))

    key_of, label_of = _grouping(by, officers, hotspots, arms)

    index: dict[Hashable, int] = {}

    def gid(key: Hashable) -> int:
        if key not in index:
            index[key] = len(index)
        return index[key]

    # Seed the groups with every prescribed unit so an undelivered prescription shows as 0%.
    rx_pairs: list[tuple[int, float, float]] = []
    if hotspot_based:
        for hid, d in sorted(arms.arms, key=lambda k: (k[1], k[0])):
            if hid not in hotspots:
                continue
            visits_rx, minutes_rx = arms.dose.get((hid, d), (0, 0))
            rx_pairs.append((gid(key_of(hid, d)), visits_rx, visits_rx * minutes_rx))
    else:
        for (oid, d), (n, minutes) in sorted(
            officer_rx.items(), key=lambda kv: (kv[0][1], kv[0][0])
        ):
            if oid in officers:
                rx_pairs.append((gid(key_of(oid, d)), n, minutes))

    vg, vh, vs, ve, vd, vk, va, varm = [], [], [], [], [], [], [], []
    for hid, oid, _uid, d, entered, exited, dwell, koper in visits:
        if hotspot_based and hid not in hotspots:
            continue
        vg.append(gid(key_of(hid, d) if hotspot_based else key_of(oid, d)))
        vh.append(hid)
        vs.append(_epoch(entered))
        ve.append(_epoch(exited))
        vd.append(dwell)
        vk.append(koper)
        va.append(oid is None)
        varm.append(visit_arm(hid, d))
    gg, gs = [], []
    for hid, oid, d, started, ended in gaps:
        if hotspot_based and hid not in hotspots:
            continue
        gg.append(gid(key_of(hid, d) if hotspot_based else key_of(oid, d)))
        gs.append((ended - started).total_seconds())

    n = len(index)
    pv = np.zeros(n)
    pm = np.zeros(n)
    for g, visits_rx, minutes_rx in rx_pairs:
        pv[g] += visits_rx
        pm[g] += minutes_rx
    table = compliance_table(
        n_groups=n,
        visit_group=np.asarray(vg, dtype=np.int64),
        visit_hotspot=np.asarray(vh, dtype=np.int64),
        visit_start_s=np.asarray(vs, dtype=np.float64),
        visit_end_s=np.asarray(ve, dtype=np.float64),
        visit_dwell_s=np.asarray(vd, dtype=np.float64),
        visit_koper=np.asarray(vk, dtype=bool),
        visit_avl=np.asarray(va, dtype=bool),
        visit_arm=np.asarray(varm, dtype=np.int64),
        gap_group=np.asarray(gg, dtype=np.int64),
        gap_s=np.asarray(gs, dtype=np.float64),
        prescribed_visits=pv,
        prescribed_minutes=pm,
    )
    keys = list(index)
    labels = [label_of(k) for k in keys]
    order = sorted(range(n), key=lambda i: _sort_key(keys[i], labels[i]))
    return ComplianceResult(
        by=by,
        first=first,
        last=last,
        keys=[keys[i] for i in order],
        labels=[labels[i] for i in order],
        table=_take(table, np.asarray(order, dtype=np.int64)),
        arms=arms,
    )


def _sort_key(key: Hashable, label: str) -> tuple[Any, ...]:
    if isinstance(key, tuple):
        return (str(key[1]), label) if len(key) == 2 else (label,)
    return (label,)


def _take(t: ComplianceTable, order: np.ndarray) -> ComplianceTable:
    return ComplianceTable(**{f: getattr(t, f)[order] for f in t.__dataclass_fields__})


def _grouping(
    by: str, officers: dict[int, User], hotspots: dict[int, Hotspot], arms: DayArms
) -> tuple[Callable[[int, date], Hashable], Callable[[Hashable], str]]:
    """``(key_of(id, day), label_of(key))`` for a grouping; ``id`` is a hot spot id for hot
    spot groupings and an officer id for officer groupings."""

    def hotspot_label(hid: int) -> str:
        h = hotspots.get(hid)
        if h is None:
            return f"Hot spot #{hid}"
        return f"Hot spot {h.rank}" + (f" ({h.district.name})" if h.district else "")

    def officer_label(oid: int) -> str:
        u = officers.get(oid)
        if u is None:
            return f"Officer #{oid}"
        name = u.get_full_name() or u.username
        return f"{name} ({u.badge_number or u.username})"

    def squad_of(oid: int) -> Squad | None:
        u = officers.get(oid)
        return u.squad if u else None

    if by == "hotspot":
        return (lambda hid, d: hid), lambda k: hotspot_label(int(k))  # type: ignore[arg-type]
    if by == "hotspot-day":
        return (lambda hid, d: (hid, d)), lambda k: hotspot_label(k[0])  # type: ignore[index]
    if by == "district":

        def district_key(hid: int, d: date) -> Hashable:
            h = hotspots.get(hid)
            return h.district.name if h and h.district else "No district"

        return district_key, str
    if by == "arm":
        names = {"treatment": "Treatment", "control": "Control", "": "Treated (no experiment)"}

        def arm_key(hid: int, d: date) -> Hashable:
            return arms.arms.get((hid, d), "none")

        return arm_key, lambda k: names.get(str(k), "Not in the experiment")
    if by == "officer":
        return (lambda oid, d: oid), lambda k: officer_label(int(k))  # type: ignore[arg-type]
    if by == "officer-day":
        return (lambda oid, d: (oid, d)), lambda k: officer_label(k[0])  # type: ignore[index]
    if by == "squad":

        def squad_key(oid: int, d: date) -> Hashable:
            s = squad_of(oid)
            return s.pk if s else 0

        names = {u.squad.pk: u.squad.name for u in officers.values() if u.squad}
        return squad_key, lambda k: names.get(int(k), "No squad")  # type: ignore[arg-type]
    if by == "squad-day":

        def squad_day_key(oid: int, d: date) -> Hashable:
            s = squad_of(oid)
            return (s.pk if s else 0, d)

        names = {u.squad.pk: u.squad.name for u in officers.values() if u.squad}
        return squad_day_key, lambda k: names.get(k[0], "No squad")  # type: ignore[index]
    # shift
    return (lambda oid, d: _shift_label(squad_of(oid))), str


def _cell_safe(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _key_text(by: str, key: Hashable, label: str) -> str:
    """The grouping column's value: a hot spot's id, an officer's username, an arm's code;
    names for squads, shifts and districts."""
    if by == "officer":
        return label.rsplit("(", 1)[-1].rstrip(")") if "(" in label else label
    if by in ("hotspot", "arm"):
        return str(key)
    return label


def compliance_csv_rows(result: ComplianceResult) -> list[list[Any]]:
    """Header and one row per group: the grouping key (column named after ``by``), its label,
    then ``COLUMNS`` (minutes to 0.01, % to 0.1, empty % where nothing was prescribed)."""
    out: list[list[Any]] = [[result.by, "label", *COLUMNS]]
    for key, row in zip(result.keys, result.rows(), strict=True):
        cells: list[Any] = [
            _cell_safe(_key_text(result.by, key, row["label"])),
            _cell_safe(row["label"]),
        ]
        for col in COLUMNS:
            v = row[col]
            if v is None:
                cells.append("")
            elif col.endswith("visits"):
                cells.append(v)
            else:
                cells.append(f"{v:.1f}" if col == "pct_delivered" else f"{v:.2f}")
        out.append(cells)
    return out
