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

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import F, FloatField, Func, IntegerField, Q, Value
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from backend.accounts.models import District, Squad, User
from backend.analytics.compliance import (
    ARM_CONTROL,
    ARM_NONE,
    ARM_TREATED,
    ComplianceTable,
    compliance_table,
    on_target_by_group,
)
from backend.analytics.timeparts import local_parts
from backend.config.localtime import agency_zone
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
    "on_target_visits",
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


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# A group's key: an id (officer, squad, hot spot; 0 for "no squad"), a name (district, arm,
# shift) or, for the ``*-day`` groupings, an (id, local day) pair.
GroupKey = int | str | tuple[int, date]


@dataclass(frozen=True)
class ComplianceResult:
    """Groups (keys, in report order) and their sums."""

    by: str
    first: date
    last: date
    keys: list[GroupKey]
    labels: list[str]
    table: ComplianceTable
    arms: DayArms

    def id_keys(self) -> list[int]:
        """The keys of a grouping by id (``officer``, ``squad``, ``hotspot``)."""
        out = []
        for key in self.keys:
            if not isinstance(key, int):
                raise TypeError(f"a grouping by {self.by} has no id keys")
            out.append(key)
        return out

    def day_keys(self) -> list[tuple[int, date]]:
        """The keys of a ``*-day`` grouping: (id, agency-local day)."""
        out = []
        for key in self.keys:
            if not isinstance(key, tuple):
                raise TypeError(f"a grouping by {self.by} has no (id, day) keys")
            out.append(key)
        return out

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
        row["pct_delivered"] = 100.0 * row["on_target_visits"] / pv if pv else None
        return row


def _shift_label(squad: Squad | None) -> str:
    if squad is None:
        return "No squad"
    end = (
        datetime.combine(date(2000, 1, 1), squad.shift_start) + timedelta(hours=squad.shift_hours)
    ).time()
    return f"{squad.shift_start:%H:%M}-{end:%H:%M}"


def _epoch(field: str) -> Func:
    """SQL for a datetime column as UTC epoch seconds (float), so rows load as plain numbers."""
    if connection.vendor == "postgresql":
        template = "EXTRACT(EPOCH FROM %(expressions)s)::float8"
    else:  # SQLite stores UTC text
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
    return Func(F(field), template=template, output_field=FloatField())


def _ordinal(field: str) -> Func:
    """SQL for a date column as its proleptic Gregorian ordinal (``date.toordinal()``)."""
    if connection.vendor == "postgresql":
        template = "(%(expressions)s - DATE '0001-01-01' + 1)"
    else:
        template = "CAST(julianday(%(expressions)s) - 1721424.5 AS INTEGER)"
    return Func(F(field), template=template, output_field=IntegerField())


def _rows(qs: Any, *fields: Any) -> np.ndarray:
    """``qs`` as a float64 (n, len(fields)) array. Pass numeric expressions only: ids (NULL
    becomes 0), ``_epoch`` (rounded to the millisecond: julianday arithmetic leaves
    microsecond noise) and ``_ordinal``."""
    exprs = [
        (Coalesce(F(f), Value(0)) if f.endswith("_id") else F(f)) if isinstance(f, str) else f
        for f in fields
    ]
    names = [f"c{j}" for j in range(len(fields))]
    rows = qs.annotate(**dict(zip(names, exprs, strict=True))).values_list(*names)
    out = np.array(list(rows), dtype=np.float64).reshape(-1, len(fields))
    for j, f in enumerate(fields):
        if isinstance(f, Func) and isinstance(f.output_field, FloatField):
            out[:, j] = np.round(out[:, j], 3)
    return out


ARM_KEYS = {"treatment": 1, "control": 2, "": 3}  # group codes of the arm grouping; 0 = none
ARM_KEY_NAMES = {0: "none", 1: "treatment", 2: "control", 3: ""}
ARM_LABELS = {
    "treatment": "Treatment",
    "control": "Control",
    "": "Treated (no experiment)",
    "none": "Not in the experiment",
}


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
    gaps, missions and the experiments' allocations of the range, each once; rows load as
    numbers and are grouped with numpy.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    if last < first:
        raise ValueError("the range ends before it starts")
    hotspot_based = by in HOTSPOT_GROUPINGS
    day0, n_days = first.toordinal(), (last - first).days + 1

    visits_qs = Visit.objects.filter(day__gte=first, day__lte=last)
    gaps_qs = DeviceGap.objects.filter(day__gte=first, day__lte=last, officer__isnull=False)
    # A local day starts at most 14 hours either side of the UTC date: a day's margin suffices.
    missions_qs = Mission.objects.filter(
        window_start__gte=datetime.combine(first - timedelta(days=1), dtime.min, tzinfo=UTC),
        window_start__lt=datetime.combine(last + timedelta(days=2), dtime.min, tzinfo=UTC),
    ).exclude(status=MissionStatus.CANCELLED)
    if hotspot_based:
        gaps_qs = gaps_qs.filter(hotspot__isnull=False)
    else:
        visits_qs = visits_qs.filter(officer__isnull=False)
        if officer_ids is not None or squad_ids is not None:
            who = Q(pk__in=[])
            if officer_ids is not None:
                who |= Q(officer_id__in=list(officer_ids))
            if squad_ids is not None:
                who |= Q(officer__squad_id__in=list(squad_ids))
            visits_qs, gaps_qs, missions_qs = (
                visits_qs.filter(who),
                gaps_qs.filter(who),
                missions_qs.filter(who),
            )
    v = _rows(
        visits_qs,
        "hotspot_id",
        "officer_id",
        _ordinal("day"),
        _epoch("entered_at"),
        _epoch("exited_at"),
        "dwell_s",
        Cast("koper_compliant", IntegerField()),
    )
    g = _rows(
        gaps_qs,
        "hotspot_id",
        "officer_id",
        _ordinal("day"),
        _epoch("started_at"),
        _epoch("ended_at"),
    )
    v_hid, v_oid = v[:, 0].astype(np.int64), v[:, 1].astype(np.int64)
    v_day = v[:, 2].astype(np.int64) - day0
    g_hid, g_oid = g[:, 0].astype(np.int64), g[:, 1].astype(np.int64)
    g_day = g[:, 2].astype(np.int64) - day0

    arms = day_arms(
        first=first, last=last, hotspot_ids=set(v_hid.tolist()) | set(g_hid[g_hid > 0].tolist())
    )
    hids = np.unique(np.concatenate([v_hid, g_hid[g_hid > 0], [h for h, _ in arms.arms]]))
    hids = hids.astype(np.int64)
    arm_of = np.zeros((hids.size, n_days), dtype=np.int64)  # ARM_KEYS codes, 0 = none
    rx_of = np.zeros((hids.size, n_days, 2), dtype=np.float64)
    for (hid, d), arm in arms.arms.items():
        i, k = int(np.searchsorted(hids, hid)), d.toordinal() - day0
        arm_of[i, k] = ARM_KEYS[arm]
        visits_rx, minutes_rx = arms.dose.get((hid, d), (0, 0))
        rx_of[i, k] = (visits_rx, visits_rx * minutes_rx)
    v_arm_key = arm_of[np.searchsorted(hids, v_hid), v_day] if v_hid.size else v_hid
    v_arm = np.choose(v_arm_key, [ARM_NONE, ARM_TREATED, ARM_CONTROL, ARM_TREATED])

    if hotspot_based:
        hotspots = Hotspot.objects.select_related("district").in_bulk(hids.tolist())
        district = np.array(
            [hotspots[int(h)].district_id or 0 if int(h) in hotspots else 0 for h in hids],
            dtype=np.int64,
        )
        ri, rk = np.nonzero(arm_of)  # every (hot spot, day) with an arm: prescribed or not

        def keys(idx: np.ndarray, didx: np.ndarray) -> np.ndarray:
            # idx: positions in hids
            if by == "hotspot":
                return idx
            if by == "hotspot-day":
                return np.asarray(idx * n_days + didx)
            if by == "district":
                return np.asarray(district[idx])
            return np.asarray(arm_of[idx, didx])  # arm

        v_key = keys(np.searchsorted(hids, v_hid), v_day)
        g_key = keys(np.searchsorted(hids, g_hid), g_day)
        rx_key = keys(ri, rk)
        rx_visits, rx_minutes = rx_of[ri, rk, 0], rx_of[ri, rk, 1]
        v_unit = np.searchsorted(hids, v_hid) * n_days + v_day  # a hot spot-day
        rx_unit = ri * n_days + rk
        names = dict(District.objects.values_list("pk", "name")) if by == "district" else {}

        def decode(k: int) -> tuple[GroupKey, str]:
            if by == "hotspot":
                return int(hids[k]), _hotspot_label(hotspots, int(hids[k]))
            if by == "hotspot-day":
                hid = int(hids[k // n_days])
                return (hid, first + timedelta(days=k % n_days)), _hotspot_label(hotspots, hid)
            if by == "district":
                name = names.get(k, "No district")
                return name, name
            return ARM_KEY_NAMES[k], ARM_LABELS[ARM_KEY_NAMES[k]]
    else:
        m = _rows(missions_qs, "officer_id", _epoch("window_start"), "target_minutes")
        m_oid = m[:, 0].astype(np.int64)
        m_day = local_parts(m[:, 1], agency_zone().key).day + EPOCH_ORDINAL - day0
        keep = (m_day >= 0) & (m_day < n_days)
        m_oid, m_day, m_minutes = m_oid[keep], m_day[keep], m[keep, 2]
        oids = np.unique(np.concatenate([v_oid, g_oid, m_oid])).astype(np.int64)
        officers = User.objects.select_related("squad").in_bulk(oids.tolist())
        squad = np.array(
            [officers[int(o)].squad_id or 0 if int(o) in officers else 0 for o in oids],
            dtype=np.int64,
        )
        squads = {u.squad_id: u.squad for u in officers.values() if u.squad_id and u.squad}
        shift_labels = sorted({_shift_label(squads.get(int(s))) for s in squad} or {"No squad"})
        shift = np.array(
            [shift_labels.index(_shift_label(squads.get(int(s)))) for s in squad], dtype=np.int64
        )

        def keys(idx: np.ndarray, didx: np.ndarray) -> np.ndarray:
            # idx: positions in oids
            if by == "officer":
                return idx
            if by == "officer-day":
                return np.asarray(idx * n_days + didx)
            if by == "squad":
                return np.asarray(squad[idx])
            if by == "squad-day":
                return np.asarray(squad[idx] * n_days + didx)
            return np.asarray(shift[idx])  # shift

        v_key = keys(np.searchsorted(oids, v_oid), v_day)
        g_key = keys(np.searchsorted(oids, g_oid), g_day)
        rx_key = keys(np.searchsorted(oids, m_oid), m_day)
        rx_visits, rx_minutes = np.ones(m_oid.size), m_minutes
        v_unit = np.searchsorted(oids, v_oid) * n_days + v_day  # an officer-day
        rx_unit = np.searchsorted(oids, m_oid) * n_days + m_day

        def decode(k: int) -> tuple[GroupKey, str]:
            if by == "officer":
                return int(oids[k]), _officer_label(officers, int(oids[k]))
            if by == "officer-day":
                oid = int(oids[k // n_days])
                return (oid, first + timedelta(days=k % n_days)), _officer_label(officers, oid)
            if by == "squad":
                return k, squads[k].name if k in squads else "No squad"
            if by == "squad-day":
                sid = k // n_days
                label = squads[sid].name if sid in squads else "No squad"
                return (sid, first + timedelta(days=k % n_days)), label
            return shift_labels[k], shift_labels[k]

    all_keys = np.concatenate([v_key, g_key, rx_key]).astype(np.int64)
    uniq, inverse = np.unique(all_keys, return_inverse=True)
    inverse = inverse.ravel()
    nv, ng = v_key.size, g_key.size
    n = uniq.size
    delivered = (v_oid != 0) & (v_arm == ARM_TREATED)
    on_target = on_target_by_group(
        n_groups=n,
        visit_unit=v_unit[delivered],
        rx_unit=rx_unit,
        rx_visits=rx_visits,
        rx_group=inverse[nv + ng :],
    )
    table = compliance_table(
        n_groups=n,
        visit_group=inverse[:nv],
        visit_hotspot=v_hid,
        visit_start_s=v[:, 3],
        visit_end_s=v[:, 4],
        visit_dwell_s=v[:, 5],
        visit_koper=v[:, 6].astype(bool),
        visit_avl=v_oid == 0,
        visit_arm=v_arm,
        gap_group=inverse[nv : nv + ng],
        gap_s=g[:, 4] - g[:, 3],
        prescribed_visits=np.bincount(inverse[nv + ng :], weights=rx_visits, minlength=n),
        prescribed_minutes=np.bincount(inverse[nv + ng :], weights=rx_minutes, minlength=n),
        on_target_visits=on_target,
    )
    decoded = [decode(int(k)) for k in uniq]
    order = sorted(range(n), key=lambda i: _sort_key(decoded[i][0], decoded[i][1]))
    return ComplianceResult(
        by=by,
        first=first,
        last=last,
        keys=[decoded[i][0] for i in order],
        labels=[decoded[i][1] for i in order],
        table=_take(table, np.asarray(order, dtype=np.int64)),
        arms=arms,
    )


def _hotspot_label(hotspots: dict[int, Hotspot], hid: int) -> str:
    h = hotspots.get(hid)
    if h is None:
        return f"Hot spot #{hid}"
    return f"Hot spot {h.rank}" + (f" ({h.district.name})" if h.district else "")


def _officer_label(officers: dict[int, User], oid: int) -> str:
    u = officers.get(oid)
    if u is None:
        return f"Officer #{oid}"
    return f"{u.get_full_name() or u.username} ({u.username})"


def _sort_key(key: GroupKey, label: str) -> tuple[Any, ...]:
    if isinstance(key, tuple):
        return (str(key[1]), label)
    return (label,)


def _take(t: ComplianceTable, order: np.ndarray) -> ComplianceTable:
    return ComplianceTable(**{f: getattr(t, f)[order] for f in t.__dataclass_fields__})
