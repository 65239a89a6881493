"""Reads for missions, shift plans and experiments: who sees what, today's treated set and dose,
the officer's draw candidates, allocations with their balance and power.

Treatment: the running experiment whose analysis run is the active one decides which hot spots
are treated (fixed arms: its ``Allocation`` rows with no day; place-day: the rows of that day).
With no running experiment every active hot spot counts as treated: there is no control.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum, Value
from django.utils import timezone
from django.utils.translation import gettext

from backend.accounts.models import Role, Squad, User
from backend.analytics.projection import LocalProjection
from backend.analytics.randomization import (
    BalanceTable,
    MinimumDetectableEffect,
    balance_table,
    block_labels,
    blocked_allocation,
    draw_hotspot,
    generator,
    harm_tiers,
    minimum_detectable_effect,
    paired_allocation,
    placeday_allocation,
)
from backend.config.localtime import agency_zone, local_day_bounds
from backend.config.memo import Memo, hot_read_seconds
from backend.gis.layers import Layer
from backend.hotspots.models import AnalysisRun, Hotspot
from backend.hotspots.selectors import hotspots_active
from backend.missions.models import (
    OPEN_MISSION_STATUSES,
    Allocation,
    Arm,
    Blocking,
    Design,
    Experiment,
    ExperimentStatus,
    Mission,
    MissionStatus,
    MissionType,
    ShiftPlan,
)
from backend.patrols.models import Visit

DEFAULT_VISITS_PER_DAY = 3  # prescribed visits per treated hot spot per day with no experiment
DEFAULT_VISIT_MINUTES = 15
DEFAULT_DRAW_REACH_M = 2000.0
NO_DISTRICT = "(no district)"
ALLOCATION_CSV_COLUMNS = ["hotspot_id", "rank", "district", "block", "arm", "day"]


def draw_reach_m() -> float:
    """How far (metres, centroid distance) the draw looks: ``PRESENCE_DRAW_REACH_M``, 2,000."""
    return float(getattr(settings, "PRESENCE_DRAW_REACH_M", DEFAULT_DRAW_REACH_M))


# ---------------------------------------------------------------------------------------------
# Who sees what


def missions_visible_to(*, user: Any) -> QuerySet[Mission]:
    """Missions ``user`` may see: an officer their own; a sergeant their own and their squads';
    supervisors and admins all; analysts and service accounts none."""
    missions = Mission.objects.select_related(
        "hotspot", "hotspot__district", "officer", "squad", "mission_type"
    )
    role = getattr(user, "role", None)
    if not getattr(user, "is_active", False):
        return missions.none()
    if role in (Role.SUPERVISOR, Role.ADMIN):
        return missions
    if role == Role.SERGEANT:
        return missions.filter(
            Q(officer=user) | Q(squad__sergeant=user) | Q(officer__squad__sergeant=user)
        )
    if role == Role.OFFICER:
        return missions.filter(officer=user)
    return missions.none()


def squads_led_by(*, user: Any) -> QuerySet[Squad]:
    """Squads whose board ``user`` may run: a sergeant the squads they lead; supervisors and
    admins every squad; everyone else none."""
    squads = Squad.objects.select_related("district", "sergeant").order_by("name")
    if user.has_role(Role.SUPERVISOR):
        return squads
    if user.role == Role.SERGEANT:
        return squads.filter(sergeant=user)
    return squads.none()


def officers_assignable_by(*, user: Any) -> QuerySet[User]:
    """Active officers and sergeants ``user`` may give missions to: a sergeant the members of
    the squads they lead; supervisors and admins everyone in a squad."""
    people = (
        User.objects.filter(is_active=True, role__in=[Role.OFFICER, Role.SERGEANT])
        .select_related("squad")
        .order_by("last_name", "first_name", "username")
    )
    if user.has_role(Role.SUPERVISOR):
        return people
    if user.role == Role.SERGEANT:
        return people.filter(squad__sergeant=user)
    return people.none()


def squad_officers(*, squad: Squad) -> QuerySet[User]:
    """The squad's active officers (its sergeant excluded): who a shift schedule is shared by."""
    return User.objects.filter(squad=squad, is_active=True, role=Role.OFFICER).order_by("pk")


def mission_types_active() -> QuerySet[MissionType]:
    return MissionType.objects.filter(is_active=True).order_by("name")


# ---------------------------------------------------------------------------------------------
# Treatment and dose


def experiment_running() -> Experiment | None:
    """The running experiment of the active analysis run (a constraint allows one per run)."""
    return (
        Experiment.objects.filter(status=ExperimentStatus.RUNNING, run__is_active=True)
        .order_by("pk")
        .first()
    )


@dataclass(frozen=True)
class Treatment:
    """Which hot spots are treated on ``day``.

    ``treated_ids`` is None when no experiment runs: then every active hot spot is treated.
    """

    day: date
    experiment: Experiment | None
    treated_ids: frozenset[int] | None

    def is_treated(self, hotspot_id: int) -> bool:
        return self.treated_ids is None or hotspot_id in self.treated_ids

    def arm(self, hotspot_id: int) -> str:
        """``"treatment"``, ``"control"``, or ``""`` when no experiment runs."""
        if self.treated_ids is None:
            return ""
        return Arm.TREATMENT if hotspot_id in self.treated_ids else Arm.CONTROL

    @property
    def visits_per_day(self) -> int:
        return self.experiment.visits_per_shift if self.experiment else DEFAULT_VISITS_PER_DAY

    @property
    def visit_minutes(self) -> int:
        return self.experiment.minutes_per_visit if self.experiment else DEFAULT_VISIT_MINUTES


def treatment_on(*, day: date, hotspot_ids: Iterable[int] | None = None) -> Treatment:
    """The treated set of agency-local ``day`` (optionally only among ``hotspot_ids``).

    A place-day experiment treats the hot spots allocated to treatment on that day; on a day
    outside its allocation nothing is treated (never a control hot spot by mistake).
    """
    experiment = experiment_running()
    if experiment is None:
        return Treatment(day=day, experiment=None, treated_ids=None)
    rows = Allocation.objects.filter(experiment=experiment, arm=Arm.TREATMENT)
    rows = rows.filter(day=day) if experiment.design == Design.PLACEDAY else rows.filter(day=None)
    if hotspot_ids is not None:
        rows = rows.filter(hotspot_id__in=list(hotspot_ids))
    treated = frozenset(rows.values_list("hotspot_id", flat=True))
    return Treatment(day=day, experiment=experiment, treated_ids=treated)


@dataclass(frozen=True)
class HotspotDose:
    """One hot spot's dose on one day, in visits.

    ``prescribed`` is the experiment's visits per shift (3 with no experiment) for a treated hot
    spot and 0 for a control one. ``delivered`` is ``visits``: officers' ``Visit`` rows of the
    day, measured from GPS dwell by the patrol rollup (AVL drive-bys are background, not dose).
    ``completed_missions`` (missions marked completed that day) is shown beside it but never
    counted: dose is measured, not claimed by a button.
    """

    hotspot_id: int
    arm: str
    prescribed: int
    visits: int
    completed_missions: int

    @property
    def delivered(self) -> int:
        return self.visits

    @property
    def deficit(self) -> int:
        return max(0, self.prescribed - self.delivered)

    @property
    def treated(self) -> bool:
        return self.arm != Arm.CONTROL

    @property
    def visit_due(self) -> str:
        """For the nearby list: ``"due"``, ``"done"`` (dose delivered) or ``"control"``."""
        if not self.treated:
            return "control"
        return "due" if self.deficit > 0 else "done"


VISIT, COMPLETED, TAKEN = "visit", "completed", "taken"


def _hotspot_events(
    ids: list[int], day: date, taken_at: datetime | None = None
) -> dict[tuple[int, str], int]:
    """{(hot spot id, kind): count} of today's officer visits, missions completed today and,
    with ``taken_at``, open missions making a hot spot taken then; one query (UNION ALL)."""
    start, end = local_day_bounds(day)
    visits = Visit.objects.filter(hotspot_id__in=ids, day=day, officer__isnull=False).values_list(
        "hotspot_id", Value(VISIT)
    )
    completed = Mission.objects.filter(
        hotspot_id__in=ids, status=MissionStatus.COMPLETED, ended_at__gte=start, ended_at__lt=end
    ).values_list("hotspot_id", Value(COMPLETED))
    parts = [completed]
    if taken_at is not None:
        taken = (
            Mission.objects.filter(hotspot_id__in=ids, status__in=OPEN_MISSION_STATUSES)
            .filter(
                Q(status__in=[MissionStatus.ACCEPTED, MissionStatus.ON_SCENE])
                | Q(window_start__lte=taken_at, window_end__gt=taken_at)
            )
            .values_list("hotspot_id", Value(TAKEN))
        )
        parts.append(taken)
    return Counter(visits.order_by().union(*(q.order_by() for q in parts), all=True))


def _doses(
    ids: list[int], treatment: Treatment, events: dict[tuple[int, str], int]
) -> dict[int, HotspotDose]:
    out = {}
    for hid in ids:
        arm = treatment.arm(hid)
        out[hid] = HotspotDose(
            hotspot_id=hid,
            arm=arm,
            prescribed=0 if arm == Arm.CONTROL else treatment.visits_per_day,
            visits=events.get((hid, VISIT), 0),
            completed_missions=events.get((hid, COMPLETED), 0),
        )
    return out


def hotspot_dose_today(
    *,
    hotspot_ids: Iterable[int] | None = None,
    day: date | None = None,
    treatment: Treatment | None = None,
) -> dict[int, HotspotDose]:
    """{hot spot id: its dose} on agency-local ``day`` (default today) for ``hotspot_ids``
    (default: every active hot spot). Three queries (the treated set, then visits and
    completed missions together) whatever the number of hot spots.

    Due = treated and ``deficit = max(0, prescribed - delivered) > 0``.
    """
    day = day or timezone.localdate()
    ids = (
        list(hotspots_active().values_list("pk", flat=True))
        if hotspot_ids is None
        else [int(i) for i in hotspot_ids]
    )
    if not ids:
        return {}
    treatment = treatment or treatment_on(day=day, hotspot_ids=ids)
    return _doses(ids, treatment, _hotspot_events(ids, day))


def _dose_of_active_load(day: Hashable) -> dict[int, HotspotDose]:
    assert isinstance(day, date)
    return hotspot_dose_today(day=day)


# Every phone's nearby look-up shows today's dose; a process reuses one read of every active
# hot spot's dose for PRESENCE_HOT_READ_SECONDS (visits arrive through the rollup, minutes late).
_DOSE_OF_ACTIVE: Memo[dict[int, HotspotDose]] = Memo(_dose_of_active_load)


def hotspot_dose_today_shared(*, hotspot_ids: Iterable[int]) -> dict[int, HotspotDose]:
    """``hotspot_dose_today(hotspot_ids=...)`` for today, taken from this process's read of
    every active hot spot's dose made at most ``PRESENCE_HOT_READ_SECONDS`` ago (no query
    while it is fresh). A hot spot that read does not know (a run published since) is read
    now. For what phones display; a draw reads the dose afresh under its lock."""
    day = timezone.localdate()
    ids = [int(i) for i in hotspot_ids]
    if hot_read_seconds() <= 0:  # every active hot spot's dose each call would cost more
        return hotspot_dose_today(hotspot_ids=ids, day=day)
    doses = _DOSE_OF_ACTIVE.get(day)
    if all(i in doses for i in ids):
        return {i: doses[i] for i in ids}
    return hotspot_dose_today(hotspot_ids=ids, day=day)


@dataclass(frozen=True)
class DrawCandidates:
    """The hot spots near an officer, as parallel arrays (one entry per candidate).

    Candidates are the active hot spots whose centroid lies in the square of half-side
    ``reach_m`` around the officer; ``in_reach`` marks those within ``reach_m`` metres
    (centroid distance in a local projection centred on the officer). ``weights`` are dose
    deficits in visits; ``taken``: someone is at or heading to it right now.
    """

    hotspot_ids: np.ndarray
    ranks: np.ndarray
    distance_m: np.ndarray
    weights: np.ndarray
    treated: np.ndarray
    in_reach: np.ndarray
    taken: np.ndarray
    treatment: Treatment
    reach_m: float
    now: datetime

    @property
    def due(self) -> np.ndarray:
        """Bool per candidate: treated, in reach and with a dose deficit."""
        return np.asarray(self.treated & self.in_reach & (self.weights > 0))

    def pick(self, rng: np.random.Generator) -> int | None:
        """A candidate index drawn by ``analytics.randomization.draw_hotspot``, or None."""
        return draw_hotspot(
            rng, self.weights, treated=self.treated, in_reach=self.in_reach, taken=self.taken
        )


def draw_candidates(
    *,
    lat: float,
    lon: float,
    now: datetime | None = None,
    reach_m: float | None = None,
    for_update: bool = False,
) -> DrawCandidates:
    """The candidates of a draw at (``lat``, ``lon``) at ``now``; see ``DrawCandidates``.

    ``for_update``: lock the candidate hot spot rows (``SELECT ... FOR UPDATE`` in id order, so
    two draws never deadlock) in the caller's transaction before anything else is read; two
    draws with overlapping candidates then run one after the other and the second sees the
    first's mission as taken. Draws far apart do not wait for each other. ``now`` defaults to
    the time the lock was obtained (``DrawCandidates.now``): a time taken before waiting would
    precede the window of the mission the other draw just made, which would not look taken.
    """
    reach = draw_reach_m() if reach_m is None else float(reach_m)
    proj = LocalProjection(lat, lon)
    dlat = reach / proj.metres_per_degree_lat
    dlon = reach / proj.metres_per_degree_lon
    rows = (
        hotspots_active()
        .filter(
            centroid_lat__gte=lat - dlat,
            centroid_lat__lte=lat + dlat,
            centroid_lon__gte=lon - dlon,
            centroid_lon__lte=lon + dlon,
        )
        .order_by("pk")
    )
    if for_update:
        # of=self: lock the hot spot rows only, never the joined (shared) analysis run row.
        rows = rows.select_for_update(of=("self",))
    found = list(rows.values_list("pk", "rank", "centroid_lat", "centroid_lon"))
    now = now or timezone.now()
    day = timezone.localdate(now)
    n = len(found)
    ids = np.fromiter((r[0] for r in found), dtype=np.int64, count=n)
    ranks = np.fromiter((r[1] for r in found), dtype=np.int64, count=n)
    x, y = proj.to_xy(
        np.fromiter((r[2] for r in found), dtype=np.float64, count=n),
        np.fromiter((r[3] for r in found), dtype=np.float64, count=n),
    )
    distance = np.hypot(x, y)
    id_list = ids.tolist()
    treatment = treatment_on(day=day, hotspot_ids=id_list)
    events = _hotspot_events(id_list, day, now) if id_list else {}
    doses = _doses(id_list, treatment, events)
    taken = {hid for (hid, kind) in events if kind == TAKEN}
    return DrawCandidates(
        hotspot_ids=ids,
        ranks=ranks,
        distance_m=distance,
        weights=np.array([float(doses[h].deficit) for h in id_list], dtype=np.float64),
        treated=np.array([doses[h].treated for h in id_list], dtype=np.bool_),
        in_reach=distance <= reach,
        taken=np.array([h in taken for h in id_list], dtype=np.bool_),
        treatment=treatment,
        reach_m=reach,
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Shifts and the board


def squad_shift_window(*, squad: Squad, day: date) -> tuple[datetime, datetime]:
    """The aware ``[start, end)`` of ``squad``'s shift starting on local ``day``
    (``shift_start`` local wall time, then ``shift_hours`` of elapsed time)."""
    tz = agency_zone()
    start = datetime.combine(day, squad.shift_start, tzinfo=tz)
    end = (start.astimezone(ZoneInfo("UTC")) + timedelta(hours=squad.shift_hours)).astimezone(tz)
    return start, end


_EXPERIMENT_RUNNING: Memo[Experiment | None] = Memo(lambda _key: experiment_running())


def treatment_sentence() -> str:
    """How treatment is decided, for the board (in the active language). The board polls every
    10 s: the running experiment is this process's read of at most ``PRESENCE_HOT_READ_SECONDS``
    ago."""
    experiment = _EXPERIMENT_RUNNING.get("running")
    if experiment is None:
        return gettext(
            "No experiment is running on the active hot spots: every hot spot is treated "
            "(there is no control)."
        )
    if experiment.design == Design.PLACEDAY:
        return gettext(
            "Experiment '%(name)s' is running: only its treated hot spots (today's arms) get "
            "missions; control hot spots are never scheduled or drawn."
        ) % {"name": experiment.name}
    return gettext(
        "Experiment '%(name)s' is running: only its treated hot spots get missions; control "
        "hot spots are never scheduled or drawn."
    ) % {"name": experiment.name}


def shift_plan_for(*, squad: Squad, day: date) -> ShiftPlan | None:
    return (
        ShiftPlan.objects.filter(squad=squad, day=day)
        .select_related("created_by", "mission_type", "experiment")
        .first()
    )


def board_plan(*, squad: Squad, day: date) -> ShiftPlan | None:
    """``shift_plan_for`` as the board API shows it, in one query: the creator's row for its
    username and ``mission_count`` (all the plan's missions) counted alongside, instead of a
    second query per poll. Its mission type and experiment are shown by id, so not joined."""
    return (
        ShiftPlan.objects.filter(squad=squad, day=day)
        .select_related("created_by")
        .annotate(mission_count=Count("missions"))
        .order_by()
        .first()
    )


def board_missions(*, squad: Squad, day: date) -> QuerySet[Mission]:
    """The squad's missions for the board of ``day``: starting within the local day or the
    shift that starts on it (a night shift runs past midnight), by time."""
    shift_start, shift_end = squad_shift_window(squad=squad, day=day)
    day_start, day_end = local_day_bounds(day)
    return (
        Mission.objects.filter(
            Q(squad=squad) | Q(officer__squad=squad),
            window_start__gte=min(shift_start, day_start),
            window_start__lt=max(shift_end, day_end),
        )
        .select_related("hotspot", "officer", "mission_type")
        .order_by("window_start", "hotspot__rank", "pk")
    )


# ---------------------------------------------------------------------------------------------
# Experiments: allocation, balance, power


@dataclass(frozen=True)
class HotspotUnit:
    """A hot spot as an experiment sees it: pre-period count and harm from its analysis."""

    id: int
    rank: int
    district: str
    count: float
    harm: float


@dataclass(frozen=True)
class AllocationRow:
    hotspot_id: int
    rank: int
    district: str
    block: str
    arm: str
    day: date | None


def experiment_units(*, run: AnalysisRun) -> list[HotspotUnit]:
    """The hot spots of ``run`` by rank; their pre-period is the run's look-back."""
    rows = (
        Hotspot.objects.filter(run=run)
        .order_by("rank")
        .values_list("pk", "rank", "district__name", "incident_count", "harm")
    )
    return [
        HotspotUnit(id=pk, rank=rank, district=name or NO_DISTRICT, count=float(n), harm=harm)
        for pk, rank, name, n, harm in rows
    ]


def _blocks_for(units: Sequence[HotspotUnit], blocking: str, n_tiers: int) -> tuple[str, ...]:
    districts = [u.district for u in units]
    if blocking == Blocking.NONE:
        return ("all",) * len(units)
    if blocking == Blocking.DISTRICT:
        return tuple(districts)
    harm = [u.harm for u in units]
    if blocking == Blocking.TIER:
        return tuple(f"tier {int(t)}" for t in harm_tiers(harm, n_tiers))
    return block_labels(districts, harm_tiers(harm, n_tiers, groups=districts))


def allocation_compute(
    *,
    design: str,
    seed: int,
    units: Sequence[HotspotUnit],
    starts_on: date,
    ends_on: date,
    blocking: str = Blocking.DISTRICT_TIER,
    n_tiers: int = 2,
) -> list[AllocationRow]:
    """The allocation of ``units`` under ``design`` from ``seed`` (no writes).

    Blocked: ``blocking`` labels (``"district|tier"`` by default, harm tiers cut within each
    district); paired: ranks 1-2, 3-4, ...; place-day: every day from ``starts_on`` to
    ``ends_on`` re-randomized within the blocks. Rows come by (day, rank). The same inputs and
    seed always give the same rows (``backend.analytics.randomization``).
    """
    rng = generator(seed)
    ids = [u.id for u in units]
    if not ids:
        return []
    by_id = {u.id: u for u in units}
    if design == Design.PAIRED:
        alloc = paired_allocation(rng, ids, [u.rank for u in units])
        pairs: Iterable[tuple[int, bool, str, date | None]] = (
            (int(h), bool(t), b, None)
            for h, t, b in zip(alloc.hotspot_ids, alloc.treated, alloc.blocks, strict=True)
        )
    elif design == Design.BLOCKED:
        alloc = blocked_allocation(rng, ids, _blocks_for(units, blocking, n_tiers))
        pairs = (
            (int(h), bool(t), b, None)
            for h, t, b in zip(alloc.hotspot_ids, alloc.treated, alloc.blocks, strict=True)
        )
    elif design == Design.PLACEDAY:
        blocks = _blocks_for(units, blocking, n_tiers)
        pd = placeday_allocation(rng, ids, starts_on, ends_on, blocks)
        pairs = (
            (int(pd.hotspot_ids[i]), bool(pd.treated[d, i]), pd.blocks[i], day)
            for d, day in enumerate(pd.days)
            for i in range(len(ids))
        )
    else:
        raise ValueError(f"unknown design {design!r}")
    rows = [
        AllocationRow(
            hotspot_id=h,
            rank=by_id[h].rank,
            district=by_id[h].district,
            block=block,
            arm=Arm.TREATMENT if treated else Arm.CONTROL,
            day=day,
        )
        for h, treated, block, day in pairs
    ]
    rows.sort(key=lambda r: (r.day or date.min, r.rank, r.hotspot_id))
    return rows


def allocation_rows(*, experiment: Experiment) -> list[AllocationRow]:
    """The stored allocation of ``experiment`` by (day, rank)."""
    stored = (
        Allocation.objects.filter(experiment=experiment)
        .order_by("day", "hotspot__rank", "hotspot_id")
        .values_list(
            "hotspot_id", "hotspot__rank", "hotspot__district__name", "block", "arm", "day"
        )
    )
    return [
        AllocationRow(hotspot_id=h, rank=r, district=d or NO_DISTRICT, block=b, arm=a, day=day)
        for h, r, d, b, a, day in stored
    ]


def allocation_csv_rows(rows: Iterable[AllocationRow]) -> Iterator[list[Any]]:
    """``hotspot_id,rank,district,block,arm,day`` (day empty for fixed arms), then the rows."""
    yield ALLOCATION_CSV_COLUMNS
    for r in rows:
        yield [r.hotspot_id, r.rank, r.district, r.block, r.arm, r.day.isoformat() if r.day else ""]


@dataclass(frozen=True)
class Reproduction:
    identical: bool
    compared: int
    differences: int
    seed: int | None


def experiment_reproduce(*, experiment: Experiment) -> Reproduction:
    """Re-run ``experiment``'s randomization from its stored seed on its run's hot spots and
    compare it, row by row, with the stored allocation."""
    stored = allocation_rows(experiment=experiment)
    if experiment.seed is None:
        return Reproduction(identical=False, compared=0, differences=len(stored), seed=None)
    again = allocation_compute(
        design=experiment.design,
        seed=experiment.seed,
        units=experiment_units(run=experiment.run),
        starts_on=experiment.starts_on,
        ends_on=experiment.ends_on,
        blocking=experiment.blocking,
        n_tiers=experiment.harm_tiers,
    )

    def key(r: AllocationRow) -> tuple[Any, ...]:
        return (r.hotspot_id, r.day, r.arm, r.block)

    a, b = {key(r) for r in stored}, {key(r) for r in again}
    diff = len(a ^ b)
    return Reproduction(
        identical=diff == 0 and len(stored) == len(again) > 0,
        compared=len(again),
        differences=diff,
        seed=experiment.seed,
    )


@dataclass(frozen=True)
class AllocationSummary:
    """Arms, balance and power of an allocation (stored or computed)."""

    hotspots: int
    days: int
    treated_units: int
    control_units: int
    unit: str  # "hot spot" or "place-day"
    balance: BalanceTable | None
    mde: MinimumDetectableEffect | None
    mde_sentence: str


def allocation_summary(
    *,
    rows: Sequence[AllocationRow],
    units: Sequence[HotspotUnit],
    design: str,
    starts_on: date,
    ends_on: date,
    pre_days: int,
    alpha: float = 0.05,
    power: float = 0.8,
) -> AllocationSummary:
    """Balance (pre-period counts and harm per arm and block; for place-day every place-day is
    a unit) and the minimum detectable effect of ``rows`` over the experiment's length."""
    days = (ends_on - starts_on).days + 1
    by_id = {u.id: u for u in units}
    rows = [r for r in rows if r.hotspot_id in by_id]
    placeday = design == Design.PLACEDAY
    unit = "place-day" if placeday else "hot spot"
    treated = np.array([r.arm == Arm.TREATMENT for r in rows], dtype=np.bool_)
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    hotspots = len({r.hotspot_id for r in rows})
    if not rows:
        return AllocationSummary(0, days, 0, 0, unit, None, None, "Randomize to see the power.")
    balance = balance_table(
        treated,
        [r.block for r in rows],
        [by_id[r.hotspot_id].count for r in rows],
        [by_id[r.hotspot_id].harm for r in rows],
    )
    pre = [u.count for u in units if u.id in {r.hotspot_id for r in rows}]
    mde = None
    sentence = ""
    try:
        if n_t and n_c:
            mde = minimum_detectable_effect(
                pre,
                n_t,
                n_c,
                pre_days=pre_days,
                experiment_days=1 if placeday else days,
                alpha=alpha,
                power=power,
            )
    except ValueError as exc:
        sentence = f"No minimum detectable effect: {exc}."
    if mde is not None and math.isnan(mde.rate_ratio):
        sentence = (
            f"Too few incidents are expected ({mde.mean_count:.2f} per {unit}) for a "
            f"{days}-day experiment to detect any reduction with {power:.0%} power: "
            "run it longer or include more hot spots."
        )
    elif mde is not None:
        sentence = (
            f"With {n_t} treated and {n_c} control {unit}s over {days} days, the experiment can "
            f"detect a {mde.reduction:.0%} reduction in incidents (rate ratio "
            f"{mde.rate_ratio:.2f}) with {power:.0%} power at the {alpha:.0%} level "
            f"(expected {mde.mean_count:.2f} incidents per {unit}, dispersion "
            f"{mde.dispersion:.2f}, from {pre_days} pre-period days)."
        )
    elif not sentence:
        sentence = "One arm is empty: no effect is detectable."
    return AllocationSummary(hotspots, days, n_t, n_c, unit, balance, mde, sentence)


def experiment_summary(*, experiment: Experiment) -> AllocationSummary:
    return allocation_summary(
        rows=allocation_rows(experiment=experiment),
        units=experiment_units(run=experiment.run),
        design=experiment.design,
        starts_on=experiment.starts_on,
        ends_on=experiment.ends_on,
        pre_days=experiment.run.lookback_days,
    )


def experiments_list() -> QuerySet[Experiment]:
    return (
        Experiment.objects.select_related("run", "created_by")
        .annotate(n_allocations=Count("allocations"))
        .order_by("-created_at")
    )


def experiment_arms_geojson(*, experiment: Experiment, day: date | None = None) -> dict[str, Any]:
    """The experiment's hot spots as GeoJSON with ``arm`` and ``block`` properties (for a
    place-day design, the arms of ``day``, default its first day)."""
    rows = Allocation.objects.filter(experiment=experiment)
    if experiment.design == Design.PLACEDAY:
        rows = rows.filter(day=day or experiment.starts_on)
    arms = {h: (arm, block) for h, arm, block in rows.values_list("hotspot_id", "arm", "block")}
    features = []
    for h in Hotspot.objects.filter(run=experiment.run).select_related("district").order_by("rank"):
        arm, block = arms.get(h.pk, ("", ""))
        features.append(
            {
                "type": "Feature",
                "id": h.pk,
                "geometry": h.geometry,
                "properties": {
                    "rank": h.rank,
                    "arm": arm,
                    "block": block,
                    "district": h.district.name if h.district else None,
                    "harm": h.harm,
                    "count": h.incident_count,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "properties": {
            "experiment": experiment.pk,
            "design": experiment.design,
            "day": (day or experiment.starts_on).isoformat()
            if experiment.design == Design.PLACEDAY
            else None,
        },
    }


ARM_LAYER_FIELDS = [
    "hotspot_id",
    "rank",
    "arm",
    "block",
    "district",
    "harm",
    "incidents",
    "hand_drawn",
    "experiment_id",
    "design",
    "day",
]


def experiment_arms_layer(*, experiment: Experiment, day: date | None = None) -> Layer:
    """The experiment's hot spots with their arm as a GIS layer (``backend.gis``); for a
    place-day design, the arms of ``day`` (default the first day)."""
    from shapely.geometry import shape

    fc = experiment_arms_geojson(experiment=experiment, day=day)
    hand_drawn = set(
        Hotspot.objects.filter(run=experiment.run, hand_drawn=True).values_list("pk", flat=True)
    )
    the_day = fc["properties"]["day"] or ""
    features = [
        (
            shape(f["geometry"]),
            {
                "hotspot_id": f["id"],
                "rank": f["properties"]["rank"],
                "arm": f["properties"]["arm"],
                "block": f["properties"]["block"],
                "district": f["properties"]["district"] or "",
                "harm": round(float(f["properties"]["harm"]), 3),
                "incidents": f["properties"]["count"],
                "hand_drawn": f["id"] in hand_drawn,
                "experiment_id": experiment.pk,
                "design": experiment.design,
                "day": the_day,
            },
        )
        for f in fc["features"]
    ]
    return Layer(name="arms", fields=ARM_LAYER_FIELDS, features=features)


# ---------------------------------------------------------------------------------------------
# A mission's delivery: measured from GPS dwell, never claimed by "Done"


class Outcome:
    OPEN = "open"  # still assigned, accepted or on scene, target not yet reached
    DELIVERED = "delivered"  # at least the target minutes inside the hot spot
    SHORT = "short"  # completed ("Done") with too little dwell
    ENDED = "ended"  # declined, cancelled or interrupted without the dwell


@dataclass(frozen=True)
class MissionDelivery:
    """``dwell_s``: seconds the mission's officer spent inside its hot spot during the mission
    (from their ``Visit`` rows, built by the patrol rollup from GPS pings), clipped to the span
    from the earliest of window start, acceptance and arrival to the mission's end (open: now).
    ``delivered`` when that reaches ``target_minutes``; "Done" with less is ``short``."""

    mission_id: int
    target_minutes: int
    dwell_s: float
    status: str

    @property
    def dwell_minutes(self) -> int:
        return int(self.dwell_s // 60)

    @property
    def delivered(self) -> bool:
        return self.dwell_s >= self.target_minutes * 60

    @property
    def outcome(self) -> str:
        if self.delivered:
            return Outcome.DELIVERED
        if self.status in OPEN_MISSION_STATUSES:
            return Outcome.OPEN
        return Outcome.SHORT if self.status == MissionStatus.COMPLETED else Outcome.ENDED

    @property
    def label(self) -> str:
        """For the board, beside the status: "delivered · 15 min", "short · 1 min" or ""."""
        if self.outcome in (Outcome.DELIVERED, Outcome.SHORT):
            return f"{self.outcome} · {self.dwell_minutes} min"
        return ""


def mission_span(m: Mission, now: datetime) -> tuple[datetime, datetime]:
    starts = [t for t in (m.window_start, m.accepted_at, m.on_scene_at) if t is not None]
    return min(starts), (m.ended_at or now)


def mission_deliveries(
    missions: Iterable[Mission], *, now: datetime | None = None
) -> dict[int, MissionDelivery]:
    """{mission id: its delivery} in one query of the officers' visits to those hot spots.

    A visit counts for the part of it that overlaps the mission's span (its ``dwell_s`` scaled
    by the overlap fraction, so device gaps inside a visit stay uncounted). Visits are rebuilt
    when a patrol ends, every 10 minutes while on patrol, and when a mission is completed."""
    missions = list(missions)
    if not missions:
        return {}
    now = now or timezone.now()
    spans = {m.pk: mission_span(m, now) for m in missions}
    lo = min(s for s, _ in spans.values())
    hi = max(e for _, e in spans.values())
    pairs = {(m.officer_id, m.hotspot_id) for m in missions}
    visits: dict[tuple[int, int], list[tuple[datetime, datetime, float]]] = {}
    rows = Visit.objects.filter(
        officer_id__in={o for o, _ in pairs},
        hotspot_id__in={h for _, h in pairs},
        exited_at__gte=lo,
        entered_at__lte=hi,
    ).values_list("officer_id", "hotspot_id", "entered_at", "exited_at", "dwell_s")
    for officer_id, hotspot_id, entered, exited, dwell in rows:
        visits.setdefault((officer_id, hotspot_id), []).append((entered, exited, dwell))
    out = {}
    for m in missions:
        start, end = spans[m.pk]
        total = 0.0
        for entered, exited, dwell in visits.get((m.officer_id, m.hotspot_id), []):
            overlap = (min(exited, end) - max(entered, start)).total_seconds()
            length = (exited - entered).total_seconds()
            if overlap > 0:
                total += dwell * (overlap / length if length > 0 else 1.0)
        out[m.pk] = MissionDelivery(
            mission_id=m.pk, target_minutes=int(m.target_minutes), dwell_s=total, status=m.status
        )
    return out


# Which Mission Menu entry suits a hot spot, by the offence group with the most harm.
TACTICS_BY_GROUP = {
    "violent": "Violence reduction",
    "property": "Problem solving",
    "qol": "Visible presence",
}


def mission_type_tactics(group: str) -> list[str]:
    """The tactics (one a line) of the active Mission Menu entry for offence ``group``; empty
    when there is none. Registered as the hot spot briefings' tactics provider."""
    name = TACTICS_BY_GROUP.get(group)
    mission = MissionType.objects.filter(name=name, is_active=True).first() if name else None
    if mission is None:
        return []
    return [line.strip() for line in mission.tactics.splitlines() if line.strip()]


def mission_is_officers(officer: Any, mission_id: int) -> bool:
    """Whether mission ``mission_id`` is assigned to ``officer`` (an activity may name it)."""
    return Mission.objects.filter(pk=mission_id, officer=officer).exists()


# ---------------------------------------------------------------------------------------------
# The sergeant's board


@dataclass(frozen=True)
class DayVisits:
    """An officer's visits of one local day: how many, and minutes on scene (rounded)."""

    visits: int
    minutes: int


def officer_day_visits(*, officer: User, day: date) -> DayVisits:
    """The officer's own ``Visit`` rows of ``day`` (one aggregate query)."""
    agg = Visit.objects.filter(officer=officer, day=day).aggregate(
        n=Count("pk"), seconds=Sum("dwell_s")
    )
    return DayVisits(visits=agg["n"] or 0, minutes=round((agg["seconds"] or 0) / 60))


def squad_assignable_officers(*, user: Any) -> QuerySet[User]:
    """The officers (role officer, active) of the squads ``user`` leads (all squads for a
    supervisor): who "assign to" may name. A form narrows it to the chosen squad."""
    squads = squads_led_by(user=user)
    return (
        User.objects.filter(is_active=True, role=Role.OFFICER, squad__in=squads)
        .select_related("squad")
        .order_by("last_name", "first_name", "username")
    )


@dataclass(frozen=True)
class NoTreatedReason:
    """Why a squad's district has no treated hot spot today, in a sentence and a code:
    ``no_analysis`` (nothing published), ``none_in_district`` (hot spots, but none in this
    district), ``all_control`` (a running experiment made every one of them control)."""

    code: str
    sentence: str


def no_treated_reason(
    *, squad: Squad, district_hotspots: int, treated: int
) -> NoTreatedReason | None:
    """None when the squad has at least one treated hot spot to schedule."""
    if treated:
        return None
    district = squad.district.name
    if not hotspots_active().exists():
        return NoTreatedReason(
            "no_analysis",
            gettext(
                "There are no hot spots yet: no hot spot analysis has been published. "
                "An analyst runs and publishes one; then its hot spots get missions."
            ),
        )
    if not district_hotspots:
        return NoTreatedReason(
            "none_in_district",
            gettext(
                "None of the published hot spots lies in %(district)s, so this squad has none "
                "to patrol. Its officers can still draw nearby hot spots in other districts."
            )
            % {"district": district},
        )
    experiment = experiment_running()
    return NoTreatedReason(
        "all_control",
        gettext(
            "Every hot spot in %(district)s is a control place of the running experiment "
            "'%(name)s' today: control places are never scheduled, so the experiment can "
            "measure what patrols change."
        )
        % {"district": district, "name": experiment.name if experiment else ""},
    )
