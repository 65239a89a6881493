"""Reads for workload: the 24x7 matrices of a district (or citywide) over a date range, the
own-district share, CSV rows, and the ranked hours of a shift that mission schedules use.

Where the figures come from, per matrix (the page and the CSV say which):

1. **Records** in the range: calls for service (CFS hours) or roster shifts (available hours)
   that overlap the range, of the district (a call by the call's district, a shift by the
   roster's district); citywide: all of them.
2. Otherwise an **imported matrix** (a typical week: the range does not apply) of the
   district; citywide: the matrix imported as ``citywide``, else the sum of the districts'
   imported matrices (the study's citywide figures include units outside the districts, so an
   imported citywide matrix is preferred to the sum).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet

from backend.accounts.models import District, Role
from backend.analytics import workload as wl
from backend.gis.layers import spreadsheet_safe
from backend.workload.imports import CITYWIDE
from backend.workload.models import (
    CallRecord,
    MatrixKind,
    RosterShift,
    WorkloadImport,
    WorkloadMatrix,
)

CSV_HEADER = (
    "hour",
    "weekday",
    "cfs_hours",
    "available_hours",
    "pct_consumed",
    "spare_hours",
    "flag",
)
DEFAULT_DAYS = 28  # four whole weeks: every weekday occurs four times
MAX_DAYS = 400
SCHEDULE_LOOKBACK_DAYS = 28  # a shift is planned against the four weeks before its day
MATRICES = {
    "cfs": "Calls-for-service hours",
    "available": "Available hours",
    "pct": "% consumed",
    "spare": "Spare hours",
}


def targets_current() -> wl.Targets:
    """The targets the pages flag against (``PRESENCE_WORKLOAD_TARGET``)."""
    if settings.PRESENCE_WORKLOAD_TARGET == "custom":
        values: dict[str, Any] = dict(settings.PRESENCE_WORKLOAD_TARGET_VALUES)
        if "run_max_hours" in values:
            values["run_max_hours"] = int(values["run_max_hours"])
        try:
            return wl.Targets(name="Custom target", **values)
        except ValueError as exc:
            raise ImproperlyConfigured(f"PRESENCE_WORKLOAD_TARGET_CUSTOM: {exc}") from exc
    return wl.TARGET_1


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _utc_seconds(values: Iterable[datetime]) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.fromiter((int(v.timestamp()) for v in values), dtype=np.int64)


@dataclass(frozen=True)
class Source:
    kind: str  # "records", "matrix", "sum", "none"
    text: str


@dataclass(frozen=True, eq=False)
class WorkloadView:
    """Everything the workload page, its CSVs and the report command show."""

    district: District | None
    first: date
    last: date
    workload: wl.Workload
    flags: wl.Flags
    targets: wl.Targets
    cfs_source: Source
    available_source: Source
    own_share: list[dict[str, Any]] = field(default_factory=list)
    self_initiated_hours: float = 0.0

    @property
    def scope(self) -> str:
        return self.district.name if self.district else "Citywide"

    @property
    def has_data(self) -> bool:
        return self.cfs_source.kind != "none" or self.available_source.kind != "none"

    @property
    def complete(self) -> bool:
        return self.cfs_source.kind != "none" and self.available_source.kind != "none"


def _range_utc(first: date, last: date) -> tuple[datetime, datetime]:
    tz = _tz()
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    end_day = last + timedelta(days=1)
    return start, datetime(end_day.year, end_day.month, end_day.day, tzinfo=tz)


def _calls(district: District | None, first: date, last: date) -> QuerySet[CallRecord]:
    start, end = _range_utc(first, last)
    qs = CallRecord.objects.filter(en_route_at__lt=end, cleared_at__gt=start)
    return qs.filter(call_district=district) if district is not None else qs


def _shifts(district: District | None, first: date, last: date) -> QuerySet[RosterShift]:
    start, end = _range_utc(first, last)
    qs = RosterShift.objects.filter(start_at__lt=end, end_at__gt=start)
    return qs.filter(district=district) if district is not None else qs


def _imported(kind: str, district: District | None) -> tuple[np.ndarray[Any, Any], Source] | None:
    if district is not None:
        m = WorkloadMatrix.objects.filter(kind=kind, district=district).first()
        if m is None:
            return None
        return np.asarray(m.values, dtype=np.float64), Source(
            "matrix",
            f"the {MatrixKind(kind).label.lower()} matrix imported for {district.name} "
            f"(a typical week, import {m.source_import_id}): the dates do not apply",
        )
    city = WorkloadMatrix.objects.filter(kind=kind, district__isnull=True).first()
    if city is not None:
        return np.asarray(city.values, dtype=np.float64), Source(
            "matrix",
            f"the citywide {MatrixKind(kind).label.lower()} matrix (a typical week, "
            f"import {city.source_import_id}): the dates do not apply",
        )
    parts = list(
        WorkloadMatrix.objects.filter(kind=kind, district__isnull=False).select_related("district")
    )
    if not parts:
        return None
    total = sum((np.asarray(p.values, dtype=np.float64) for p in parts), np.zeros(wl.SHAPE))
    names = ", ".join(sorted(p.district.name for p in parts if p.district))
    return total, Source(
        "sum",
        f"the sum of the districts' imported {MatrixKind(kind).label.lower()} matrices "
        f"({names}; a typical week): the dates do not apply",
    )


def workload_for(
    *, district: District | None, first: date, last: date, targets: wl.Targets | None = None
) -> WorkloadView:
    """The matrices of ``district`` (None: citywide) over local days ``first``..``last``."""
    targets = targets or targets_current()
    bins = wl.local_hour_bins(first, last, _tz())
    empty = np.full(wl.SHAPE, np.nan)
    calls = list(
        _calls(district, first, last).values_list(
            "call_id",
            "call_district_id",
            "unit_district_id",
            "en_route_at",
            "cleared_at",
            "self_initiated",
        )
    )
    own: list[dict[str, Any]] = []
    self_hours = 0.0
    if calls:
        call_id, call_d, unit_d, en_route, cleared, self_init = zip(*calls, strict=True)
        start_s, end_s = _utc_seconds(en_route), _utc_seconds(cleared)
        self_mask = np.asarray(self_init, dtype=np.bool_)
        cfs = wl.cfs_hours_matrix(start_s, end_s, self_mask, bins)
        self_hours = float(
            np.nansum(wl.cfs_hours_matrix(start_s, end_s, ~self_mask, bins) * _weeks(bins))
        )
        n_self = int(self_mask.sum())
        cfs_source = Source(
            "records",
            f"{len(calls) - n_self} unit responses to calls from the CAD records of "
            f"these days (en route to clear, every unit counted; {n_self} self-initiated "
            "activities left out)",
        )
        keys = {k: i for i, k in enumerate(sorted(set(call_id)))}
        shares = wl.own_district_share(
            [keys[c] for c in call_id],
            call_d,
            [u if u is not None else -1 for u in unit_d],
            start_s,
            end_s,
            self_mask,
        )
        names = dict(District.objects.values_list("pk", "name"))
        for s in shares:
            own.append(
                {
                    "district": names.get(s.district, "?"),
                    "calls": s.calls,
                    "own_calls": s.own_calls,
                    "pct_calls": s.pct_calls,
                    "unit_hours": s.unit_hours,
                    "own_unit_hours": s.own_unit_hours,
                    "pct_unit_hours": s.pct_unit_hours,
                    "in_target": targets.own_min_pct <= s.pct_calls <= targets.own_max_pct
                    if s.calls
                    else None,
                    "below_target": s.calls > 0 and s.pct_calls < targets.own_min_pct,
                }
            )
    else:
        found = _imported(MatrixKind.CFS, district)
        cfs, cfs_source = found if found else (empty, Source("none", "no calls for service"))
    shifts = list(
        _shifts(district, first, last).values_list(
            "start_at", "end_at", "meal_minutes", "court_minutes"
        )
    )
    if shifts:
        s_start, s_end, meal, court = zip(*shifts, strict=True)
        available = wl.available_hours_matrix(
            _utc_seconds(s_start), _utc_seconds(s_end), meal, court, bins
        )
        available_source = Source(
            "records",
            f"{len(shifts)} roster shifts of these days (on duty minus meal and court "
            "minutes, spread evenly over each shift)",
        )
    else:
        found = _imported(MatrixKind.AVAILABLE, district)
        available, available_source = (
            found if found else (empty, Source("none", "no available hours"))
        )
    w = wl.workload(cfs, available)
    return WorkloadView(
        district=district,
        first=first,
        last=last,
        workload=w,
        flags=wl.flags(w, targets),
        targets=targets,
        cfs_source=cfs_source,
        available_source=available_source,
        own_share=own,
        self_initiated_hours=self_hours,
    )


def _weeks(bins: wl.HourBins) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(24, 7) weekday occurrences, to turn per-week averages back into totals."""
    return np.broadcast_to(bins.days_per_weekday.astype(np.float64), wl.SHAPE)


def _fmt(x: float, digits: int) -> str:
    if np.isnan(x):
        return ""
    if np.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def report_csv_rows(view: WorkloadView) -> Iterable[list[str]]:
    """The 168 rows (header first) of ``workload_report``: week order, Monday 00 to Sunday 23.

    ``pct_consumed`` is empty where unknown and ``inf`` where calls took time and nobody was
    available; ``flag`` is the ``;``-joined flags of the cell (``ok`` when none)."""
    yield list(CSV_HEADER)
    w, labels = view.workload, view.flags.labels()
    for d in range(wl.DAYS):
        for h in range(wl.HOURS):
            yield [
                str(h),
                wl.WEEKDAYS[d],
                _fmt(w.cfs[h, d], 2),
                _fmt(w.available[h, d], 2),
                _fmt(w.pct[h, d], 1),
                _fmt(w.spare[h, d], 2),
                labels[h][d],
            ]


def matrix_csv_rows(view: WorkloadView, matrix: str) -> Iterable[list[str]]:
    """One matrix in the study's 24x7 layout (``hour,MON..SUN``), re-importable."""
    values = getattr(view.workload, matrix)
    yield ["hour", *wl.WEEKDAYS]
    for h in range(wl.HOURS):
        yield [
            f"{h:02d}00",
            *(_fmt(values[h, d], 1 if matrix == "pct" else 2) for d in range(wl.DAYS)),
        ]


def own_share_csv_rows(view: WorkloadView) -> Iterable[list[object]]:
    yield [
        "district",
        "calls",
        "own_calls",
        "pct_calls",
        "unit_hours",
        "own_unit_hours",
        "pct_unit_hours",
    ]
    for r in view.own_share:
        yield [
            spreadsheet_safe(r["district"]),
            r["calls"],
            r["own_calls"],
            _fmt(r["pct_calls"], 1),
            _fmt(r["unit_hours"], 2),
            _fmt(r["own_unit_hours"], 2),
            _fmt(r["pct_unit_hours"], 1),
        ]


def workload_imports_for(*, user: Any) -> QuerySet[WorkloadImport]:
    """Imports ``user`` may see: analysts, supervisors and admins all; anyone else none."""
    if not (
        getattr(user, "is_authenticated", False)
        and (user.has_role(Role.ANALYST) or user.has_role(Role.SUPERVISOR))
    ):
        return WorkloadImport.objects.none()
    return WorkloadImport.objects.select_related("district", "uploaded_by")


def district_choices() -> list[tuple[str, str]]:
    return [(CITYWIDE, "Citywide"), *((d.code, d.name) for d in District.objects.all())]


# --- Hours of a shift, for the mission schedule -----------------------------------------------


@dataclass(frozen=True)
class Tier:
    """Minutes of a shift a schedule may use: ``minutes`` None means the whole shift."""

    label: str
    minutes: np.ndarray[Any, np.dtype[np.bool_]] | None


@dataclass(frozen=True, eq=False)
class ShiftCapacity:
    """The hours of one shift with their workload figures (time order) and where they came
    from; ``ranked`` puts the most spare capacity first (lowest % consumed)."""

    district: District
    start: datetime
    end: datetime
    hours: tuple[wl.HourCapacity, ...]
    source: str
    targets: wl.Targets

    @property
    def ranked(self) -> list[wl.HourCapacity]:
        known = [h for h in self.hours if not np.isnan(h.pct)]
        return sorted(known, key=lambda h: (h.pct, -h.spare, h.start_s))

    def tiers(self) -> list[Tier]:
        """Where a schedule should go, best first: the hours consumed below the target's
        ``high_pct`` (in target, most spare), then below 100% (some spare), then the whole
        shift. Hours without figures are only in the last."""
        s, e = int(self.start.timestamp()), int(self.end.timestamp())
        out: list[Tier] = []
        for label, ceiling in (
            (
                f"hours with spare capacity (calls under {self.targets.high_pct:g}% of available "
                "time)",
                self.targets.high_pct,
            ),
            ("hours with spare capacity (calls under 100% of available time)", 100.0),
        ):
            mask = wl.minutes_below(self.hours, s, e, ceiling)
            if mask.any() and not any(
                t.minutes is not None and np.array_equal(mask, t.minutes) for t in out
            ):
                out.append(Tier(label, mask))
        out.append(Tier("", None))
        return out

    def hour_at(self, instant: datetime) -> wl.HourCapacity | None:
        t = int(instant.timestamp())
        found = None
        for h in self.hours:
            if h.start_s <= t:
                found = h
        return found

    def overloaded(self, windows: Iterable[tuple[datetime, datetime]]) -> list[str]:
        """One sentence per window that touches an hour at or over 100% consumed."""
        out = []
        tz = _tz()
        for start, end in windows:
            t = start
            while t < end:
                h = self.hour_at(t)
                if h is not None and not np.isnan(h.pct) and h.pct >= 100.0:
                    out.append(
                        f"the mission at {start.astimezone(tz):%H:%M} lands in "
                        f"{wl.WEEKDAY_NAMES[h.weekday]} {h.hour:02d}:00, where calls take "
                        f"{'all' if np.isinf(h.pct) else f'{h.pct:.0f}%'} of available time"
                    )
                    break
                t = t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        return out


def shift_capacity(*, district: District, start: datetime, end: datetime) -> ShiftCapacity | None:
    """The hours of ``district``'s shift ``[start, end)`` ranked by spare capacity, from the
    records of the ``SCHEDULE_LOOKBACK_DAYS`` days before the shift's day (or the imported
    matrices); None when the district has no figures for both calls and available hours."""
    tz = _tz()
    day = start.astimezone(tz).date()
    view = workload_for(
        district=district,
        first=day - timedelta(days=SCHEDULE_LOOKBACK_DAYS),
        last=day - timedelta(days=1),
    )
    if not view.complete:
        return None
    bins = wl.local_hour_bins(day, end.astimezone(tz).date(), tz)
    hours = wl.shift_hours(view.workload, bins, int(start.timestamp()), int(end.timestamp()))
    source = (
        f"calls: {view.cfs_source.text}; available: {view.available_source.text}"
        if view.cfs_source.kind == "records" or view.available_source.kind == "records"
        else f"{view.cfs_source.text}; {view.available_source.text}"
    )
    return ShiftCapacity(
        district=district,
        start=start,
        end=end,
        hours=hours,
        source=source,
        targets=view.targets,
    )
