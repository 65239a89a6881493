"""The demo city's history: a running experiment, its true effect, and weeks of patrols.

``seed_demo`` builds the city (``backend.hotspots.demo``), publishes a hot spot analysis as of
the experiment's start, and then, from here:

* **Experiment** (``demo_experiment_ensure``): a blocked design (district + harm tier) on the
  published hot spots, created, randomized with a seed derived from ``--seed`` and started
  through the missions services. The services stamp "now" on ``created_at``,
  ``randomized_at`` and ``started_at``; those three are then moved back to the start day,
  because the demo pretends the experiment was set up weeks ago and reports read them.
* **True effect** (``demo_effect``): applied where incidents are generated. The city holds
  back its incidents from the start day on until the allocation exists; then
  ``demo_incidents_release`` writes them except a deterministic ``EFFECT_SHARE`` of those that
  fall inside a TREATMENT hot spot, which are never written. Control hot spots and the rest
  of the city are untouched, and nothing read the held-back incidents before.
* **Patrols** (``demo_history_simulate``): for every day from the start to the day before
  ``end``, each squad's shift plan (``shift_plan_generate``, seed derived from ``--seed``),
  then for each officer who works that day (about 5 days in 7) patrol sessions through
  ``session_start`` / ``session_end`` (one around each run of their missions, from 10-25
  minutes before to 45-75 minutes after; without missions one of 1.5-2.5 hours), pings every
  15-30 s through the API's ingest (``pings_ingest``), activities through
  ``activity_record``, and the missions moved through their transitions with historical
  ``at=`` times (``session_*`` take a simulated server clock, ``now=``, as they refuse times
  more than 12 hours old; missions left alone expire as assigned). Officers drive between
  places at 8-12 m/s and walk inside hot spots at about 1 m/s with a few metres of GPS noise;
  how much of the prescribed dose they deliver depends on the officer, the squad and the
  day. A few
  sessions lose the signal for 3-10 minutes (device gaps), some inside a hot spot; a few
  stops fall in control hot spots (contamination). AVL units drive their districts and park
  in hot spots of both arms (``avl_ingest``). Visits come from the product's rollup: ending a
  session rolls up its officer-day, then ``visits_rebuild_day`` reconciles each day and
  ``visit_rebuild_for_unit_day`` rolls up the AVL units.

Deterministic for a given (seed, end): every random draw comes from a generator seeded by
``seed`` and stable keys (usernames, squad names, ranks, dates), every write carries a client
UUID derived the same way, so a second run with the same arguments adds nothing.
"""

from __future__ import annotations

import hashlib
import math
import time as clock
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from shapely.geometry import Polygon, shape

from backend.accounts.models import Role, Squad, User
from backend.analytics.projection import LocalProjection
from backend.config.localtime import agency_zone
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import analysis_run_active
from backend.missions.models import (
    Allocation,
    Arm,
    Blocking,
    DeclineReason,
    Design,
    Experiment,
    Mission,
    MissionStatus,
)
from backend.missions.services import (
    experiment_create,
    experiment_randomize,
    experiment_start,
    mission_accept,
    mission_arrive,
    mission_complete,
    mission_decline,
    mission_interrupt,
    shift_plan_generate,
)
from backend.patrols.ingest import MAX_BATCH, avl_ingest, pings_ingest
from backend.patrols.models import ActivityType, AvlUnit
from backend.patrols.rollup import visit_rebuild_for_unit_day, visits_rebuild_day
from backend.patrols.services import activity_record, session_end, session_start
from backend.reports.services import compliance_days_rebuild, snapshot_build
from backend.reports.signals import compliance_rebuilds_deferred

HISTORY_DAYS = 28
EFFECT_SHARE = 0.22  # incidents in treatment hot spots after the start that never happen
EXPERIMENT_NAME = "Demo city: hot spot patrol trial"
EXPERIMENT_WEEKS = 12

WORK_PROBABILITY = 5 / 7  # an officer works about 5 days in 7
PATROL_HOURS = (1.5, 2.5)  # on patrol with the app on, without missions (keeps pings down)
PING_EVERY_S = (15.0, 30.0)
AVL_EVERY_S = (25.0, 35.0)
AVL_HOURS = (1.5, 2.5)
DRIVE_MPS = (8.0, 12.0)
WALK_MPS = (0.8, 1.3)
ACCURACY_M = (4.0, 14.0)
BAD_FIX_SHARE = 0.01  # fixes with accuracy worse than the 50 m the rollup keeps
GAP_SESSION_SHARE = 0.15  # sessions with one device gap of 3-10 minutes
CONTROL_STOP_SHARE = 0.15  # sessions with a stop in a control hot spot (contamination)
SELF_VISITS = 0.8  # mean self-initiated visits to treated hot spots per session
INNER_MARGIN_M = 20.0  # walk this far inside a hot spot's edge: GPS noise stays inside
# Squads differ, and so do days (calls for service eat patrol time).
SQUAD_FACTOR = {"Alpha": 1.05, "Bravo": 0.9, "Charlie": 0.8}
DAY_FACTOR = (0.8, 1.15)
# (call sign, district code): AVL units of the squads' districts.
AVL_UNITS = [
    ("CAR-11", "liberty-city"),
    ("CAR-12", "liberty-city"),
    ("CAR-21", "allapattah"),
    ("CAR-31", "little-haiti"),
]
ACTIVITY_MIX = [
    ("foot-patrol", 0.34, "Walked the block."),
    ("community-contact", 0.24, "Spoke with a store owner about late-night loitering."),
    ("stop-engagement", 0.15, "Engaged a group at the corner; no further action."),
    ("problem-noted", 0.12, "Street light out at the corner; reported."),
    ("intelligence-report", 0.09, "Resident reported drug sales after 22:00."),
    ("search", 0.04, "Consent search; nothing found."),
    ("arrest", 0.02, "Arrest on an outstanding warrant."),
]
DECLINE_NOTES = ["Court appearance.", "Vehicle out of service.", "Covering the front desk."]


def derived_seed(seed: int, *parts: object) -> int:
    """A seed in [0, 2**63) derived from the demo's ``seed`` and ``parts`` (stable across runs
    and platforms, unlike ``hash``)."""
    key = ":".join(str(p) for p in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") & (2**63 - 1)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(derived_seed(seed, *parts))


def _uuid(seed: int, *parts: object) -> uuid.UUID:
    return uuid.UUID(
        bytes=hashlib.sha256(":".join(str(p) for p in (seed, *parts)).encode()).digest()[:16],
        version=4,
    )


# ---------------------------------------------------------------------------------------------
# Experiment and true effect


def demo_experiment_ensure(*, seed: int, starts_on: date) -> Experiment | None:
    """The demo's running experiment on the active analysis run, created if missing.

    Blocked by district and harm tier, randomized with ``derived_seed(seed, "experiment")``,
    started, and dated as if set up before ``starts_on`` (see the module docstring). None when
    no analysis with hot spots is active.
    """
    existing = Experiment.objects.filter(name=EXPERIMENT_NAME).first()
    if existing is not None:
        return existing
    run = analysis_run_active()
    if run is None or not run.hotspots.exists():
        return None
    analyst = User.objects.get(username="analyst")
    experiment = experiment_create(
        actor=analyst,
        name=EXPERIMENT_NAME,
        design=Design.BLOCKED,
        starts_on=starts_on,
        ends_on=starts_on + timedelta(weeks=EXPERIMENT_WEEKS, days=-1),
        blocking=Blocking.DISTRICT_TIER,
        harm_tiers=2,
    )
    experiment_randomize(
        experiment_id=experiment.pk, actor=analyst, seed=derived_seed(seed, "experiment")
    )
    experiment_start(experiment_id=experiment.pk, actor=analyst)
    tz = agency_zone()
    started = datetime.combine(starts_on, time.min, tzinfo=tz)
    Experiment.objects.filter(pk=experiment.pk).update(
        created_at=started - timedelta(days=3) + timedelta(hours=10),  # 10:00, 3 days before
        randomized_at=started - timedelta(days=2) + timedelta(hours=11),
        started_at=started,  # the start day's first minute: treatment decides from then
    )
    experiment.refresh_from_db()
    return experiment


def _arm_shapes(experiment: Experiment, arm: str) -> shapely.Geometry:
    geometries = Hotspot.objects.filter(
        pk__in=Allocation.objects.filter(experiment=experiment, arm=arm, day=None).values(
            "hotspot_id"
        )
    ).values_list("geometry", flat=True)
    return shapely.union_all([shape(g) for g in geometries])


def demo_effect(
    *, seed: int, experiment: Experiment
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The ``withhold`` of ``demo_incidents_release``: True for a deterministic
    ``EFFECT_SHARE`` of the incidents inside the experiment's treatment hot spots.

    ``lon``, ``lat``: degrees, the held-back incidents (all on or after the start day) in
    source-id order; one uniform per incident from ``derived_seed(seed, "effect")``.
    """
    treated = _arm_shapes(experiment, Arm.TREATMENT)
    shapely.prepare(treated)

    def withhold(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        u = _rng(seed, "effect").random(lon.size)
        return np.asarray(shapely.contains_xy(treated, lon, lat) & (u < EFFECT_SHARE))

    return withhold


# ---------------------------------------------------------------------------------------------
# Movement


@dataclass(frozen=True, eq=False)
class _Place:
    """A hot spot in the local projection (metres)."""

    id: int
    rank: int
    arm: str
    district_id: int | None
    inner: Polygon  # the polygon shrunk by INNER_MARGIN_M (or less for small shapes)


def _inner(polygon: Polygon) -> Polygon:
    for margin in (INNER_MARGIN_M, 10.0, 3.0):
        inner = polygon.buffer(-margin)
        if not inner.is_empty and inner.area > 100:
            return inner
    return polygon


def _point_in(rng: np.random.Generator, area: Any) -> tuple[float, float]:
    """A uniform point inside ``area`` (rejection sampling in its bounds)."""
    x0, y0, x1, y1 = area.bounds
    for _ in range(50):
        x = rng.uniform(x0, x1, 16)
        y = rng.uniform(y0, y1, 16)
        ok = np.flatnonzero(shapely.contains_xy(area, x, y))
        if ok.size:
            return float(x[ok[0]]), float(y[ok[0]])
    p = area.representative_point()
    return float(p.x), float(p.y)


def _streets(proj: LocalProjection, boundary: Any, places: dict[int, _Place]) -> Any:
    """Where patrol legs end and stops on the way happen: the district (100 m in from its
    edge) outside every hot spot, so that hot spot visits are the ones the simulation means
    (a car crossing a hot spot on the way is in it for well under the minute a visit needs)."""
    district = proj.geometry_to_xy(shape(boundary)).buffer(-100)
    hot = shapely.union_all([p.inner.buffer(INNER_MARGIN_M + 40) for p in places.values()])
    streets = district.difference(hot)
    return district if streets.is_empty else streets


class _Path:
    """A piecewise-linear trajectory: knots of (epoch seconds, x, y) in metres."""

    def __init__(self, t: float, x: float, y: float) -> None:
        self.t = [t]
        self.x = [x]
        self.y = [y]

    @property
    def now(self) -> float:
        return self.t[-1]

    def go(self, x: float, y: float, speed: float) -> None:
        d = math.hypot(x - self.x[-1], y - self.y[-1])
        self.t.append(self.t[-1] + max(d / speed, 1.0))
        self.x.append(x)
        self.y.append(y)

    def drive_time(self, x: float, y: float) -> float:
        return math.hypot(x - self.x[-1], y - self.y[-1]) / 10.0

    def stay(self, seconds: float) -> None:
        if seconds > 0:
            self.t.append(self.t[-1] + seconds)
            self.x.append(self.x[-1])
            self.y.append(self.y[-1])

    def walk_in(self, rng: np.random.Generator, area: Any, seconds: float) -> None:
        """Walk between random points of ``area`` at about 1 m/s, with pauses, for
        ``seconds``."""
        end = self.now + seconds
        while self.now < end - 1:
            if rng.random() < 0.3:
                self.stay(min(rng.uniform(20, 120), end - self.now))
                continue
            x, y = _point_in(rng, area)
            speed = rng.uniform(*WALK_MPS)
            d = math.hypot(x - self.x[-1], y - self.y[-1])
            dt = max(d / speed, 1.0)
            if self.now + dt > end:
                f = (end - self.now) / dt
                x = self.x[-1] + f * (x - self.x[-1])
                y = self.y[-1] + f * (y - self.y[-1])
                dt = end - self.now
            self.t.append(self.now + dt)
            self.x.append(x)
            self.y.append(y)

    def position(self, t: float) -> tuple[float, float]:
        return float(np.interp(t, self.t, self.x)), float(np.interp(t, self.t, self.y))

    def fixes(
        self,
        rng: np.random.Generator,
        every: tuple[float, float],
        gaps: Sequence[tuple[float, float]] = (),
    ) -> dict[str, np.ndarray]:
        """Fixes every ``every`` seconds (uniform) along the path, none inside ``gaps``;
        positions with GPS noise of about a third of the reported accuracy."""
        t = np.asarray(self.t)
        x = np.asarray(self.x)
        y = np.asarray(self.y)
        n = int((t[-1] - t[0]) / every[0]) + 2
        ts = t[0] + np.concatenate([[0.0], np.cumsum(rng.uniform(*every, n))])
        ts = np.round(ts[ts <= t[-1]], 3)
        for g0, g1 in gaps:
            ts = ts[(ts < g0) | (ts > g1)]
        seg = np.clip(np.searchsorted(t, ts, side="right") - 1, 0, max(t.size - 2, 0))
        nxt = np.minimum(seg + 1, t.size - 1)
        dx, dy, dt = x[nxt] - x[seg], y[nxt] - y[seg], np.maximum(t[nxt] - t[seg], 1e-9)
        speed = np.hypot(dx, dy) / dt
        heading = np.degrees(np.arctan2(dx, dy)) % 360.0
        acc = rng.uniform(*ACCURACY_M, ts.size)
        bad = rng.random(ts.size) < BAD_FIX_SHARE
        acc[bad] = rng.uniform(60, 150, int(bad.sum()))
        sigma = acc / 3.0
        return {
            "t": ts,
            "x": np.interp(ts, t, x) + rng.normal(0, 1, ts.size) * sigma,
            "y": np.interp(ts, t, y) + rng.normal(0, 1, ts.size) * sigma,
            "accuracy": np.round(acc, 1),
            "speed": np.round(np.maximum(speed + rng.normal(0, 0.2, ts.size), 0.0), 2),
            "heading": np.where(speed > 0.5, np.round(heading, 1) % 360.0, np.nan),
        }


def _items(
    proj: LocalProjection, f: dict[str, np.ndarray], uuid_base: int, extra: dict[str, str]
) -> list[dict[str, Any]]:
    """Fixes as the API's ping items (ISO-8601 times with an offset, degrees)."""
    lat, lon = proj.to_latlon(f["x"], f["y"])
    out = []
    for k in range(f["t"].size):
        heading = float(f["heading"][k])
        out.append(
            {
                **extra,
                "client_uuid": str(uuid.UUID(int=(uuid_base + k) % 2**128)),
                "recorded_at": datetime.fromtimestamp(float(f["t"][k]), tz=UTC).isoformat(),
                "lat": round(float(lat[k]), 7),
                "lon": round(float(lon[k]), 7),
                "accuracy_m": float(f["accuracy"][k]),
                "speed_mps": float(f["speed"][k]),
                "heading_deg": None if math.isnan(heading) else heading,
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# One patrol session


@dataclass
class _Dwell:
    place: _Place
    start: float
    end: float
    mission: Mission | None = None


@dataclass
class _Session:
    """What an officer did in one patrol session, before anything is written."""

    path: _Path
    dwells: list[_Dwell] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    declined: list[tuple[Mission, float, str, str]] = field(default_factory=list)


def _dwell_seconds(rng: np.random.Generator, diligence: float) -> float:
    """Mostly a Koper dose (10.5-15.5 min), some drive-bys (2-5), some long stays (20-30)."""
    r = rng.random()
    if r < 0.08 + 0.25 * (1 - diligence):
        return rng.uniform(2, 5) * 60
    if r < 0.85:
        return rng.uniform(10.5, 15.5) * 60
    return rng.uniform(20, 30) * 60


def _plan_session(
    rng: np.random.Generator,
    *,
    start: float,
    end: float,
    missions: list[Mission],
    p_do: float,
    diligence: float,
    district: Any,
    treated: list[_Place],
    control: list[_Place],
    places: dict[int, _Place],
) -> _Session:
    """One patrol session from ``start`` to about ``end`` (epoch seconds): drive the district,
    deliver the ``missions`` the officer takes (each with probability ``p_do``; most others
    are declined), fill the time between with patrol legs and a few self-initiated visits;
    one device gap in some sessions."""
    x, y = _point_in(rng, district)
    path = _Path(start, x, y)
    patrol = _Session(path)
    todo: list[tuple[float, Mission | None, _Place]] = []
    for m in missions:
        ws = m.window_start.timestamp()
        if rng.random() < p_do:
            todo.append((ws + rng.uniform(-4, 6) * 60, m, places[m.hotspot_id]))
        elif rng.random() < 0.8:  # declined; the others are ignored and expire
            reason = rng.choice(
                [DeclineReason.DISPATCHED, DeclineReason.UNSAFE, DeclineReason.OTHER],
                p=[0.65, 0.1, 0.25],
            )
            note = str(rng.choice(DECLINE_NOTES)) if reason == DeclineReason.OTHER else ""
            patrol.declined.append((m, ws - rng.uniform(1, 10) * 60, str(reason), note))
    n_self = rng.poisson(SELF_VISITS * (0.5 + diligence)) if treated else 0
    for _ in range(n_self):
        todo.append(
            (rng.uniform(start + 300, end - 900), None, treated[rng.integers(len(treated))])
        )
    if control and rng.random() < CONTROL_STOP_SHARE:
        todo.append(
            (rng.uniform(start + 300, end - 900), None, control[rng.integers(len(control))])
        )
    todo.sort(key=lambda e: e[0])

    for arrive_at, mission, place in todo:
        # Patrol legs until it is time to head for the place.
        tx, ty = _point_in(rng, place.inner)
        while path.now + path.drive_time(tx, ty) + 300 < arrive_at:
            if rng.random() < 0.15:
                path.stay(rng.uniform(60, 240))  # a stop on the way: a word with someone
            else:
                path.go(*_point_in(rng, district), rng.uniform(*DRIVE_MPS))
        lead = arrive_at - path.now - path.drive_time(tx, ty)
        path.stay(min(lead, 300))
        path.go(tx, ty, rng.uniform(*DRIVE_MPS))
        if place.arm == Arm.CONTROL:
            seconds = rng.uniform(2, 8) * 60
        elif mission is None:
            seconds = _dwell_seconds(rng, diligence * 0.6)
        else:
            seconds = _dwell_seconds(rng, diligence)
        begin = path.now
        path.walk_in(rng, place.inner, seconds)
        patrol.dwells.append(_Dwell(place, begin, path.now, mission))
    while path.now < end:
        path.go(*_point_in(rng, district), rng.uniform(*DRIVE_MPS))
    if rng.random() < GAP_SESSION_SHARE:
        length = rng.uniform(3, 10) * 60
        long_dwells = [d for d in patrol.dwells if d.end - d.start > length + 180]
        if long_dwells and rng.random() < 0.5:
            d = long_dwells[rng.integers(len(long_dwells))]
            g0 = rng.uniform(d.start + 60, d.end - length - 60)
        else:
            g0 = rng.uniform(start + 300, path.now - length - 120)
        patrol.gaps.append((g0, g0 + length))
    return patrol


# ---------------------------------------------------------------------------------------------
# The simulation


@dataclass(frozen=True)
class HistoryResult:
    days: int
    sessions: int
    pings: int
    avl_pings: int
    visits: int
    avl_visits: int
    missions: dict[str, int]
    activities: int
    seconds: dict[str, float]


def _aware(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def _ingest(
    officer: User | None, session_id: int | None, items: list[dict[str, Any]]
) -> tuple[int, int]:
    accepted = rejected = 0
    for lo in range(0, len(items), MAX_BATCH):
        batch = items[lo : lo + MAX_BATCH]
        if officer is None:
            result = avl_ingest(items=batch)
        else:
            result = pings_ingest(officer=officer, items=batch, session_id=session_id)
        counts = result.counts()
        accepted += counts["accepted"]
        rejected += counts["rejected"]
    return accepted, rejected


def _officer_key(user: User) -> int:
    return zlib.crc32(user.username.encode())


def _diligence(seed: int, officer: User) -> float:
    """How much of their dose an officer delivers: a quarter diligent, a quarter not."""
    rng = _rng(seed, "diligence", officer.username)
    tier = rng.random()
    if tier < 0.25:
        return float(rng.uniform(0.85, 0.97))
    if tier < 0.75:
        return float(rng.uniform(0.5, 0.8))
    return float(rng.uniform(0.12, 0.35))


@compliance_rebuilds_deferred()
def demo_history_simulate(
    *, seed: int, experiment: Experiment, end: date, now: datetime | None = None
) -> HistoryResult:
    """Simulate patrols, missions and activities from ``experiment.starts_on`` to the day
    before ``end`` (see the module docstring); idempotent. Sessions that would end after
    ``now`` (default: the real clock) are not simulated: history is in the past.
    """
    started = clock.perf_counter()
    now = now or timezone.now()
    tz = agency_zone()
    proj = LocalProjection(*settings.PRESENCE_ORIGIN)
    arms = dict(
        Allocation.objects.filter(experiment=experiment, day=None).values_list("hotspot_id", "arm")
    )
    places = {
        h.pk: _Place(
            h.pk,
            h.rank,
            arms.get(h.pk, Arm.CONTROL),
            h.district_id,
            _inner(proj.geometry_to_xy(shape(h.geometry))),
        )
        for h in Hotspot.objects.filter(run=experiment.run).order_by("rank")
    }
    kinds = set(ActivityType.objects.filter(is_active=True).values_list("code", flat=True))
    activity_mix = [(k, p, note) for k, p, note in ACTIVITY_MIX if k in kinds]
    squads = list(Squad.objects.select_related("district", "sergeant").order_by("name"))
    days = [
        experiment.starts_on + timedelta(days=d) for d in range((end - experiment.starts_on).days)
    ]
    counts: Counter[str] = Counter()
    timing: dict[str, float] = defaultdict(float)

    for day in days:
        for squad in squads:
            t0 = clock.perf_counter()
            if squad.district is None or squad.sergeant is None:
                continue
            district = _streets(proj, squad.district.boundary, places)
            in_district = [p for p in places.values() if p.district_id == squad.district_id]
            treated = [p for p in in_district if p.arm == Arm.TREATMENT]
            control = [p for p in in_district if p.arm == Arm.CONTROL]
            try:
                plan = shift_plan_generate(
                    squad_id=squad.pk,
                    day=day,
                    actor=squad.sergeant,
                    seed=derived_seed(seed, "plan", squad.name, day),
                ).plan
                missions = list(plan.missions.select_related("officer").order_by("window_start"))
            except ValidationError:
                plan, missions = None, []  # no treated hot spot in the district: patrol only
            t_move = clock.perf_counter()
            timing["plans"] += t_move - t0
            shift_start = datetime.combine(day, squad.shift_start, tzinfo=tz).timestamp()
            shift_hours = float(squad.shift_hours)
            day_factor = _rng(seed, "day", squad.name, day).uniform(*DAY_FACTOR)
            officers = list(
                User.objects.filter(squad=squad, role=Role.OFFICER, is_active=True).order_by(
                    "username"
                )
            )
            patrols: list[tuple[User, int, _Session]] = []
            for officer in officers:
                rng = _rng(seed, "shift", officer.username, day)
                if rng.random() >= WORK_PROBABILITY:
                    continue  # off duty: their missions stay assigned and expire
                diligence = _diligence(seed, officer)
                p_do = min(
                    0.97, max(0.05, diligence * SQUAD_FACTOR.get(squad.name, 0.8) * day_factor)
                )
                mine = [m for m in missions if m.officer_id == officer.pk]
                for k, (start, finish, theirs) in enumerate(
                    _sessions(rng, mine, shift_start, shift_hours)
                ):
                    patrol = _plan_session(
                        rng,
                        start=start,
                        end=finish,
                        missions=theirs,
                        p_do=p_do,
                        diligence=diligence,
                        district=district,
                        treated=treated,
                        control=control,
                        places=places,
                    )
                    if patrol.path.now > now.timestamp() - 60:
                        continue  # would end in the future
                    patrols.append((officer, k, patrol))
            timing["movement"] += clock.perf_counter() - t_move

            t1 = clock.perf_counter()
            # One commit for the squad-day's sessions, pings and activities (SQLite pays a sync
            # per commit); the rollups that ending a session queues run after it.
            with transaction.atomic():
                for officer, k, patrol in patrols:
                    _patrol(
                        seed,
                        officer,
                        (officer.username, day.isoformat(), str(k)),
                        patrol,
                        proj,
                        activity_mix,
                        counts,
                    )
            timing["sessions"] += clock.perf_counter() - t1

            t2 = clock.perf_counter()
            for officer, _, patrol in patrols:
                _transitions(officer, patrol)
            timing["missions"] += clock.perf_counter() - t2

        t3 = clock.perf_counter()
        counts["avl_pings"] += _avl_day(seed, day, proj, places, now)
        timing["avl"] += clock.perf_counter() - t3

    t4 = clock.perf_counter()
    visits = avl_visits = 0
    units = list(AvlUnit.objects.filter(call_sign__in=[c for c, _ in AVL_UNITS]).order_by("pk"))
    for day in [*days, end]:
        visits += visits_rebuild_day(day=day)
        for unit in units:
            avl_visits += visit_rebuild_for_unit_day(unit_id=unit.pk, day=day)
    timing["rollup"] += clock.perf_counter() - t4

    # Compliance and the snapshot: each day once, after all its rollups (compliance rebuilds
    # were deferred meanwhile).
    t5 = clock.perf_counter()
    if days:
        compliance_days_rebuild(first=days[0], last=days[-1])
    for day in days:
        snapshot_build(day=day)  # the Chief's snapshot of each past day, as the 06:00 job does
    timing["compliance"] += clock.perf_counter() - t5

    statuses = Counter(Mission.objects.filter(plan__day__in=days).values_list("status", flat=True))
    timing["total"] = clock.perf_counter() - started
    return HistoryResult(
        days=len(days),
        sessions=counts["sessions"],
        pings=counts["pings"],
        avl_pings=counts["avl_pings"],
        visits=visits,
        avl_visits=avl_visits,
        missions=dict(statuses),
        activities=counts["activities"],
        seconds={k: round(v, 1) for k, v in timing.items()},
    )


def _sessions(
    rng: np.random.Generator, missions: list[Mission], shift_start: float, shift_hours: float
) -> list[tuple[float, float, list[Mission]]]:
    """When the officer is on patrol with the app on: (start, end, missions) per session.

    A session opens 10-25 minutes before a mission's window and closes 45-75 minutes after
    it, taking in the next mission when its window opens before then; an officer without
    missions patrols once for ``PATROL_HOURS`` at a random time of the shift.
    """
    if not missions:
        hours = rng.uniform(*PATROL_HOURS)
        start = shift_start + rng.uniform(0.25, max(shift_hours - hours - 0.25, 0.5)) * 3600
        return [(start, start + hours * 3600, [])]
    out: list[tuple[float, float, list[Mission]]] = []
    for m in missions:
        ws = m.window_start.timestamp()
        if out and ws - 25 * 60 < out[-1][1] + 600:
            start, _, theirs = out[-1]
            out[-1] = (start, ws + rng.uniform(45, 75) * 60, [*theirs, m])
        else:
            start = max(ws - rng.uniform(10, 25) * 60, shift_start + 60)
            out.append((start, ws + rng.uniform(45, 75) * 60, [m]))
    return out


def _patrol(
    seed: int,
    officer: User,
    key: tuple[str, str, str],
    patrol: _Session,
    proj: LocalProjection,
    activity_mix: list[tuple[str, float, str]],
    counts: Counter[str],
) -> None:
    """The officer's session as the phone would send it: start, pings, end, activities."""
    begin, finish = _aware(patrol.path.t[0]), _aware(patrol.path.now)
    written = session_start(
        officer=officer, client_uuid=_uuid(seed, "session", *key), started_at=begin, now=begin
    )
    session = written.obj
    fixes = patrol.path.fixes(_rng(seed, "fixes", *key), PING_EVERY_S, patrol.gaps)
    items = _items(proj, fixes, _uuid(seed, "pings", *key).int, {})
    counts["pings"] += _ingest(officer, session.pk, items)[0]
    session_end(officer=officer, session_id=session.pk, ended_at=finish, now=finish)
    counts["sessions"] += int(written.created)
    counts["activities"] += _activities(seed, officer, patrol, proj, activity_mix, key)


def _activities(
    seed: int,
    officer: User,
    patrol: _Session,
    proj: LocalProjection,
    mix: list[tuple[str, float, str]],
    key: tuple[str, str, str],
) -> int:
    """One to three activities logged during most treated-hot-spot dwells of 8+ minutes."""
    if not mix:
        return 0
    rng = _rng(seed, "activities", *key)
    codes = [k for k, _, _ in mix]
    p = np.array([w for _, w, _ in mix])
    notes = {k: note for k, _, note in mix}
    n = 0
    for d, dwell in enumerate(patrol.dwells):
        if dwell.place.arm != Arm.TREATMENT or dwell.end - dwell.start < 480 or rng.random() > 0.8:
            continue
        for a in range(int(rng.integers(1, 4))):
            at = rng.uniform(dwell.start + 60, dwell.end - 30)
            lat, lon = proj.to_latlon(*patrol.path.position(at))
            kind = str(rng.choice(codes, p=p / p.sum()))
            written = activity_record(
                officer=officer,
                client_uuid=_uuid(seed, "activity", *key, d, a),
                kind=kind,
                recorded_at=_aware(at),
                note=notes[kind],
                lat=round(float(lat), 7),
                lon=round(float(lon), 7),
                mission_id=dwell.mission.pk if dwell.mission is not None else None,
            )
            n += int(written.created)
    return n


def _transitions(officer: User, patrol: _Session) -> None:
    """Move the patrol's missions as the officer did, at the simulated times.

    A mission already moved (a second run) is left alone: its transitions are done.
    """
    for mission, at, reason, note in patrol.declined:
        if Mission.objects.filter(pk=mission.pk, status=MissionStatus.ASSIGNED).exists():
            mission_decline(
                mission_id=mission.pk, actor=officer, reason=reason, note=note, at=_aware(at)
            )
    for dwell in patrol.dwells:
        m = dwell.mission
        if m is None or not Mission.objects.filter(pk=m.pk, status=MissionStatus.ASSIGNED).exists():
            continue
        mission_accept(mission_id=m.pk, actor=officer, at=_aware(dwell.start - 240))
        mission_arrive(mission_id=m.pk, actor=officer, at=_aware(dwell.start))
        if dwell.end - dwell.start >= 8 * 60:
            mission_complete(mission_id=m.pk, actor=officer, at=_aware(dwell.end))
        else:
            mission_interrupt(
                mission_id=m.pk, actor=officer, note="Dispatched to a call.", at=_aware(dwell.end)
            )


def _avl_day(
    seed: int, day: date, proj: LocalProjection, places: dict[int, _Place], now: datetime
) -> int:
    """Each AVL unit drives its district for 1.5-2.5 hours and parks in two or three hot spots
    of either arm (the nearest ones when its district has none)."""
    from backend.accounts.models import District

    tz = agency_zone()
    accepted = 0
    for call_sign, code in AVL_UNITS:
        district_row = District.objects.filter(code=code).first()
        if district_row is None:
            continue
        AvlUnit.objects.get_or_create(call_sign=call_sign, defaults={"district": district_row})
        rng = _rng(seed, "avl", call_sign, day)
        district = _streets(proj, district_row.boundary, places)
        nearby = [p for p in places.values() if p.district_id == district_row.pk]
        if not nearby:
            centre = district.centroid
            nearby = sorted(places.values(), key=lambda p: p.inner.distance(centre))[:3]
        start = datetime.combine(day, time(8), tzinfo=tz).timestamp() + rng.uniform(0, 12) * 3600
        path = _Path(start, *_point_in(rng, district))
        end = start + rng.uniform(*AVL_HOURS) * 3600
        stops = sorted(rng.uniform(start + 600, end - 1200, int(rng.integers(2, 4))))
        for stop_at in stops:
            while path.now + 240 < stop_at:
                path.go(*_point_in(rng, district), rng.uniform(*DRIVE_MPS))
            place = nearby[rng.integers(len(nearby))]
            path.go(*_point_in(rng, place.inner), rng.uniform(*DRIVE_MPS))
            path.stay(rng.uniform(3, 12) * 60)  # parked
        while path.now < end:
            path.go(*_point_in(rng, district), rng.uniform(*DRIVE_MPS))
        if path.now > now.timestamp() - 60:
            continue
        fixes = path.fixes(_rng(seed, "avl-fixes", call_sign, day), AVL_EVERY_S)
        base = _uuid(seed, "avl-pings", call_sign, day).int
        accepted += _ingest(None, None, _items(proj, fixes, base, {"unit": call_sign}))[0]
    return accepted
