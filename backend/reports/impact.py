"""Impact of an experiment: did crime and harm fall in treated hot spots relative to control
hot spots, did it move into the surrounding streets, and how long did a visit's deterrence last?

Reads the experiment's fixed allocation, its run's hot spot polygons, incidents, harm weights
(current harm index version) and officers' visits; computes with ``backend.analytics.impact``;
returns one JSON-ready dict in which every figure carries a plain-English sentence. Writes
nothing (the result is cached per experiment and day; see ``experiment_impact_cached``).

Windows (agency-local days): "during" runs from ``starts_on`` to ``min(ends_on, yesterday)``
inclusive; "before" is the same number of days immediately before ``starts_on``.

Fixed arms (blocked, paired): hot spots before vs during, treatment vs control, re-randomized
within the stored blocks (pairs); a block whose hot spots are all in one arm (a paired design's
odd hot spot) is left out and named. Place-day designs: treated vs control place-days during
the experiment with place effects, re-randomized within day and block; no before window, no
buffers (``left_out`` says why).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from shapely.geometry import shape

from backend.analytics.impact import (
    impact_counts,
    impact_placeday,
    residual_deterrence,
    wdd,
    wdq,
)
from backend.analytics.projection import LocalProjection
from backend.hotspots.models import Hotspot
from backend.hotspots.selectors import harm_version_current, harm_weights_for, incident_points
from backend.missions.models import Allocation, Arm, Design, Experiment
from backend.patrols.models import Visit
from backend.reports.services import local_day_bounds

DEFAULT_CATCHMENT_M = 150.0
DETERRENCE_HORIZON_S = 7 * 86_400.0  # a week: long enough to see the 24-hour share and medians
CACHE_SECONDS = 3600  # an hour: late imports of the same day show up within the hour
CSV_COLUMNS = [
    "hotspot_id",
    "rank",
    "district",
    "block",
    "arm",
    "incidents_before",
    "incidents_during",
    "harm_before",
    "harm_during",
]


def catchment_m() -> float:
    """Width of the catchment (buffer) ring in metres: ``PRESENCE_CATCHMENT_M``, default 150."""
    return float(getattr(settings, "PRESENCE_CATCHMENT_M", DEFAULT_CATCHMENT_M))


class ImpactUnavailable(Exception):
    """The experiment cannot be evaluated yet (or by this method); the message says why."""


@dataclass(frozen=True)
class Windows:
    """Local days and their UTC bounds; ``days`` per window."""

    before_first: date
    during_first: date
    during_last: date
    days: int

    @property
    def before_last(self) -> date:
        return self.during_first - timedelta(days=1)


def impact_windows(*, experiment: Experiment, today: date) -> Windows:
    """The before and during windows of ``experiment`` evaluated on local day ``today``: the
    during window ends at the earliest of ``ends_on``, yesterday and the local day the
    experiment was ended (an experiment ended early stops counting that day)."""
    last = min(experiment.ends_on, today - timedelta(days=1))
    if experiment.ended_at is not None:
        last = min(last, timezone.localdate(experiment.ended_at))
    if last < experiment.starts_on:
        raise ImpactUnavailable(
            f"The experiment starts on {experiment.starts_on:%d %b %Y}; impact can be measured "
            "once it has run for at least one full day."
        )
    days = (last - experiment.starts_on).days + 1
    return Windows(
        before_first=experiment.starts_on - timedelta(days=days),
        during_first=experiment.starts_on,
        during_last=last,
        days=days,
    )


def _owner(polygons: list[Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the polygon containing each point (-1: none); polygons and points in metres.
    A point in two polygons goes to the first (hot spots of one run do not overlap)."""
    owner = np.full(x.size, -1, dtype=np.int64)
    for k, poly in enumerate(polygons):
        minx, miny, maxx, maxy = poly.bounds
        cand = np.flatnonzero((owner < 0) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if cand.size:
            inside = shapely.contains_xy(poly, x[cand], y[cand])
            owner[cand[inside]] = k
    return owner


def experiment_impact(
    *,
    experiment: Experiment,
    permutations: int = 10_000,
    seed: int | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Impact of ``experiment`` as a JSON-ready dict (see the module docstring).

    ``seed`` drives the re-randomizations (default: the experiment's stored seed, so anyone can
    reproduce the p-value); ``today`` is the agency-local evaluation day (default: today).
    Experiments not randomized and experiments with no full day yet give
    ``{"supported": False, "message": ...}`` with the contract keys set to None. Place-day
    results carry ``placeday`` and ``placeday_hotspots`` instead of ``counts``, ``harm``,
    ``displacement`` and ``hotspots``, and ``did`` is None.
    """
    today = today or timezone.localdate()
    seed = int(seed if seed is not None else (experiment.seed or 0))
    base: dict[str, Any] = {
        "experiment": {
            "id": experiment.pk,
            "name": experiment.name,
            "design": experiment.design,
            "status": experiment.status,
            "starts_on": experiment.starts_on.isoformat(),
            "ends_on": experiment.ends_on.isoformat(),
        },
        "evaluated_on": today.isoformat(),
        "seed": seed,
    }
    try:
        return base | _experiment_impact(experiment, permutations, seed, today)
    except ImpactUnavailable as exc:
        return base | _unavailable(str(exc), permutations)


def _unavailable(message: str, permutations: int) -> dict[str, Any]:
    return {
        "supported": False,
        "message": message,
        "rate_ratio": None,
        "ci95": [None, None],
        "did": None,
        "p_randomization": None,
        "permutations": permutations,
        "sentence": message,
    }


def _experiment_impact(
    experiment: Experiment, permutations: int, seed: int, today: date
) -> dict[str, Any]:
    if experiment.design == Design.PLACEDAY:
        return _placeday_impact(experiment, permutations, seed, today)
    rows = list(
        Allocation.objects.filter(experiment=experiment, day__isnull=True).values_list(
            "hotspot_id", "arm", "block"
        )
    )
    if not rows:
        raise ImpactUnavailable("The experiment has no allocation yet: randomize and start it.")
    win = impact_windows(experiment=experiment, today=today)

    spots = {h.pk: h for h in Hotspot.objects.filter(run=experiment.run).select_related("district")}
    rows.sort(key=lambda r: (spots[r[0]].rank, r[0]))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    treated = np.array([r[1] == Arm.TREATMENT for r in rows], dtype=np.bool_)
    blocks = [r[2] for r in rows]

    keep, left_out = _two_armed_blocks(treated, blocks, ids, spots)
    if not keep.any():
        raise ImpactUnavailable(
            "No block of the allocation has hot spots in both arms, so there is nothing to compare."
        )
    proj = LocalProjection(*settings.PRESENCE_ORIGIN)
    polys = [proj.geometry_to_xy(shape(spots[int(h)].geometry)) for h in ids]
    others = [proj.geometry_to_xy(shape(h.geometry)) for k, h in spots.items() if k not in ids]
    every_hotspot = shapely.union_all(polys + others)
    width = catchment_m()

    def ring(arm: bool) -> Any:
        members = [p for p, t, k in zip(polys, treated, keep, strict=True) if t == arm and k]
        return shapely.union_all(members).buffer(width).difference(every_hotspot)

    t_ring, c_ring = ring(True), ring(False)
    # A street within the catchment of both arms belongs to neither: it would count twice.
    shared = t_ring.intersection(c_ring)
    t_ring, c_ring = t_ring.difference(shared), c_ring.difference(shared)

    start = local_day_bounds(win.before_first)[0]
    split_dt = local_day_bounds(win.during_first)[0]
    end = local_day_bounds(win.during_last)[1]
    arr = incident_points(start=start, end=end)
    version = harm_version_current()
    weights = harm_weights_for(version=version)
    harm = np.array([weights.get(int(o), 0.0) for o in arr.offence_id], dtype=np.float64)
    x, y = proj.to_xy(arr.lat, arr.lon)
    during_mask = arr.t >= split_dt.timestamp()
    owner = _owner(polys, x, y)
    inside = owner >= 0
    in_t_ring = shapely.contains_xy(t_ring, x, y) & ~inside
    in_c_ring = shapely.contains_xy(c_ring, x, y) & ~inside
    in_shared = shapely.contains_xy(shared, x, y) & ~inside

    n = ids.size

    def per_spot(mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        sel = inside & mask
        sums = np.bincount(owner[sel], weights=None if w is None else w[sel], minlength=n)
        return sums.astype(np.float64)

    c_before, c_during = per_spot(~during_mask), per_spot(during_mask)
    h_before, h_during = per_spot(~during_mask, harm), per_spot(during_mask, harm)

    rng_counts = np.random.default_rng(seed)
    counts = impact_counts(
        before=c_before[keep], during=c_during[keep], treated=treated[keep],
        blocks=[blocks[i] for i in np.flatnonzero(keep)], permutations=permutations,
        rng=rng_counts, outcome="Crime",
    )  # fmt: skip
    harm_result = impact_counts(
        before=h_before[keep], during=h_during[keep], treated=treated[keep],
        blocks=[blocks[i] for i in np.flatnonzero(keep)], permutations=permutations,
        rng=np.random.default_rng(seed), outcome="Harm",
    )  # fmt: skip

    def area_totals(mask: np.ndarray) -> dict[str, int]:
        return {
            "before": int(np.count_nonzero(mask & ~during_mask)),
            "during": int(np.count_nonzero(mask & during_mask)),
        }

    spot = np.maximum(owner, 0)  # owner -1 is masked by ``inside``
    areas = {
        "treated_hotspots": area_totals(inside & keep[spot] & treated[spot]),
        "control_hotspots": area_totals(inside & keep[spot] & ~treated[spot]),
        "treated_buffer": area_totals(in_t_ring),
        "control_buffer": area_totals(in_c_ring),
        "shared_buffer_left_out": area_totals(in_shared),
    }
    a, b, c, cd = (
        areas["treated_hotspots"],
        areas["treated_buffer"],
        areas["control_hotspots"],
        areas["control_buffer"],
    )
    wdq_result = wdq(
        a_before=a["before"], a_after=a["during"], b_before=b["before"], b_after=b["during"],
        c_before=c["before"], c_after=c["during"],
    )  # fmt: skip
    wdd_result = wdd(
        t_before=a["before"], t_after=a["during"], c_before=c["before"], c_after=c["during"],
        d_before=b["before"], d_after=b["during"], cd_before=cd["before"], cd_after=cd["during"],
    )  # fmt: skip

    treated_ids = {int(h) for h in ids[treated & keep]}
    deterrence = _deterrence(
        ids=ids,
        treated=lambda h, _day: h in treated_ids,
        owner=owner,
        t=arr.t,
        start=split_dt,
        end=end,
    )
    weekly = _weekly(win, arr.t, owner, treated, keep)
    counts_dict = counts.to_dict() | {"did_sentence": _did_sentence(counts.did, "incidents", win)}
    harm_dict = harm_result.to_dict() | {
        "did_sentence": _did_sentence(harm_result.did, "harm days", win)
    }
    table = [
        {
            "hotspot_id": int(ids[i]),
            "rank": spots[int(ids[i])].rank,
            "district": spots[int(ids[i])].district.name if spots[int(ids[i])].district else "",
            "block": blocks[i],
            "arm": Arm.TREATMENT.value if treated[i] else Arm.CONTROL.value,
            "in_analysis": bool(keep[i]),
            "incidents_before": int(c_before[i]),
            "incidents_during": int(c_during[i]),
            "harm_before": float(h_before[i]),
            "harm_during": float(h_during[i]),
        }
        for i in range(n)
    ]
    return {
        "supported": True,
        "message": "",
        "rate_ratio": counts_dict["rate_ratio"],
        "ci95": counts_dict["ci95"],
        "did": counts_dict["did"],
        "p_randomization": counts_dict["p_randomization"],
        "permutations": permutations,
        "sentence": counts.sentence,
        "windows": {
            "days": win.days,
            "before": [win.before_first.isoformat(), win.before_last.isoformat()],
            "during": [win.during_first.isoformat(), win.during_last.isoformat()],
        },
        "harm_version": version.number,
        "left_out": left_out,
        "counts": counts_dict,
        "harm": harm_dict,
        "displacement": {
            "catchment_m": width,
            "areas": areas,
            "wdq": wdq_result.to_dict(),
            "wdd": wdd_result.to_dict(),
            "sentence": (
                f"Buffers are the streets within {width:g} m of the treated (or control) hot "
                "spots, outside every hot spot; streets within reach of both arms are left out "
                f"of both ({areas['shared_buffer_left_out']['before']} incidents before, "
                f"{areas['shared_buffer_left_out']['during']} during)."
            ),
        },
        "deterrence": deterrence,
        "weekly": weekly,
        "hotspots": table,
    }


PLACEDAY_CSV_COLUMNS = [
    "hotspot_id",
    "rank",
    "district",
    "block",
    "treated_days",
    "control_days",
    "incidents_treated_days",
    "incidents_control_days",
    "harm_treated_days",
    "harm_control_days",
]


def _placeday_impact(
    experiment: Experiment, permutations: int, seed: int, today: date
) -> dict[str, Any]:
    """Treated vs control place-days over the days the experiment has run (no before window:
    each hot spot is its own control on its control days)."""
    win = impact_windows(experiment=experiment, today=today)
    rows = list(
        Allocation.objects.filter(
            experiment=experiment, day__gte=win.during_first, day__lte=win.during_last
        ).values_list("hotspot_id", "day", "arm", "block")
    )
    if not rows:
        raise ImpactUnavailable("The experiment has no allocation yet: randomize and start it.")
    spots = {h.pk: h for h in Hotspot.objects.filter(run=experiment.run).select_related("district")}
    ids = np.array(sorted({r[0] for r in rows}, key=lambda h: (spots[h].rank, h)), dtype=np.int64)
    col = {int(h): i for i, h in enumerate(ids)}
    n_days, n = win.days, ids.size
    if len(rows) != n_days * n:
        raise ImpactUnavailable(
            f"The allocation has {len(rows)} place-days where {n_days} days x {n} hot spots "
            f"= {n_days * n} were expected: it is incomplete."
        )
    treated = np.zeros((n_days, n), dtype=np.bool_)
    blocks = [""] * n
    for h, day, arm, block in rows:
        treated[(day - win.during_first).days, col[h]] = arm == Arm.TREATMENT
        blocks[col[h]] = block

    start = local_day_bounds(win.during_first)[0]
    end = local_day_bounds(win.during_last)[1]
    arr = incident_points(start=start, end=end)
    version = harm_version_current()
    weights = harm_weights_for(version=version)
    harm = np.array([weights.get(int(o), 0.0) for o in arr.offence_id], dtype=np.float64)
    proj = LocalProjection(*settings.PRESENCE_ORIGIN)
    polys = [proj.geometry_to_xy(shape(spots[int(h)].geometry)) for h in ids]
    x, y = proj.to_xy(arr.lat, arr.lon)
    owner = _owner(polys, x, y)
    bounds = np.array(
        [
            local_day_bounds(win.during_first + timedelta(days=d))[0].timestamp()
            for d in range(n_days)
        ]
        + [end.timestamp()]
    )
    day_of = np.searchsorted(bounds, arr.t, side="right") - 1
    inside = (owner >= 0) & (day_of >= 0) & (day_of < n_days)
    counts = np.zeros((n_days, n))
    harm_days = np.zeros((n_days, n))
    np.add.at(counts, (day_of[inside], owner[inside]), 1.0)
    np.add.at(harm_days, (day_of[inside], owner[inside]), harm[inside])

    result = impact_placeday(
        counts=counts, treated=treated, blocks=blocks, permutations=permutations,
        rng=np.random.default_rng(seed), outcome="Crime",
    )  # fmt: skip
    harm_result = impact_placeday(
        counts=harm_days, treated=treated, blocks=blocks, permutations=permutations,
        rng=np.random.default_rng(seed), outcome="Harm",
    )  # fmt: skip

    def is_treated(h: int, day: date) -> bool:
        d = (day - win.during_first).days
        return 0 <= d < n_days and bool(treated[d, col[h]])

    deterrence = _deterrence(
        ids=ids, treated=is_treated, owner=owner, t=arr.t, start=start, end=end
    )
    weeks = []
    for first in range(0, n_days, 7):
        last = min(first + 7, n_days)
        t_w, c_w = treated[first:last], ~treated[first:last]
        y_w = counts[first:last]
        t_count, c_count = int(y_w[t_w].sum()), int(y_w[c_w].sum())
        weeks.append(
            {
                "week_start": (win.during_first + timedelta(days=first)).isoformat(),
                "days": last - first,
                "period": "during",
                "treatment": t_count,
                "control": c_count,
                "treatment_per_hotspot_week": t_count / t_w.sum() * 7 if t_w.any() else None,
                "control_per_hotspot_week": c_count / c_w.sum() * 7 if c_w.any() else None,
            }
        )
    table = [
        {
            "hotspot_id": int(ids[i]),
            "rank": spots[int(ids[i])].rank,
            "district": spots[int(ids[i])].district.name if spots[int(ids[i])].district else "",
            "block": blocks[i],
            "treated_days": int(treated[:, i].sum()),
            "control_days": int((~treated[:, i]).sum()),
            "incidents_treated_days": int(counts[treated[:, i], i].sum()),
            "incidents_control_days": int(counts[~treated[:, i], i].sum()),
            "harm_treated_days": float(harm_days[treated[:, i], i].sum()),
            "harm_control_days": float(harm_days[~treated[:, i], i].sum()),
        }
        for i in range(n)
    ]
    return {
        "supported": True,
        "message": "",
        "rate_ratio": _finite(result.rate_ratio),
        "ci95": [_finite(result.ci95[0]), _finite(result.ci95[1])],
        "did": None,
        "p_randomization": _finite(result.p_randomization),
        "permutations": permutations,
        "sentence": result.sentence,
        "windows": {
            "days": n_days,
            "during": [win.during_first.isoformat(), win.during_last.isoformat()],
        },
        "harm_version": version.number,
        "left_out": [
            "A place-day design has no before window and no difference in differences: each hot "
            "spot is compared with itself on its control days.",
            "Displacement buffers are not measured: every hot spot is treated on some days and "
            "control on others, so there is no fixed treated area whose surroundings could "
            "receive displaced crime.",
        ],
        "placeday": {"counts": result.to_dict(), "harm": harm_result.to_dict()},
        "deterrence": deterrence,
        "weekly": {
            "weeks": weeks,
            "sentence": (
                "Weekly incidents per hot spot-week on treated and on control place-days (each "
                "arm's incidents divided by its place-days, times 7)."
            ),
        },
        "placeday_hotspots": table,
    }


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _two_armed_blocks(
    treated: np.ndarray, blocks: list[str], ids: np.ndarray, spots: dict[int, Hotspot]
) -> tuple[np.ndarray, list[str]]:
    """Places whose block holds both arms; notes for the rest (e.g. a paired design's odd
    hot spot): re-randomizing within a one-arm block is impossible."""
    keep = np.ones(treated.size, dtype=np.bool_)
    notes = []
    for label in sorted(set(blocks)):
        idx = [i for i, b in enumerate(blocks) if b == label]
        arms = {bool(treated[i]) for i in idx}
        if len(arms) < 2:
            keep[idx] = False
            ranks = ", ".join(f"#{spots[int(ids[i])].rank}" for i in idx)
            notes.append(
                f"Block {label or '(none)'!r} ({ranks}) has hot spots in one arm only, so it is "
                "left out of the comparison."
            )
    return keep, notes


def _did_sentence(did: float, unit: str, win: Windows) -> str:
    if not math.isfinite(did):
        return "No difference in differences: an arm is empty."
    if abs(did) < 0.005:
        return (
            f"Per hot spot, treated and control hot spots changed by the same number of {unit} "
            f"between the two {win.days}-day windows."
        )
    direction = "fewer" if did < 0 else "more"
    return (
        f"Per hot spot, treated hot spots changed by {abs(did):,.2f} {unit} {direction} than "
        f"control hot spots between the two {win.days}-day windows (difference in "
        "differences)."
    )


def _deterrence(
    *,
    ids: np.ndarray,
    treated: Callable[[int, date], bool],
    owner: np.ndarray,
    t: np.ndarray,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Residual deterrence after officers' visits to hot spots while treated (``treated(hot spot
    id, local day of the visit)``) during the experiment."""
    visits = [
        (h, exited, dwell)
        for h, day, exited, dwell in Visit.objects.filter(
            hotspot_id__in=[int(h) for h in ids],
            officer__isnull=False,
            exited_at__gte=start,
            exited_at__lt=end,
        ).values_list("hotspot_id", "day", "exited_at", "dwell_s")
        if treated(h, day)
    ]
    inside = owner >= 0
    bins = residual_deterrence(
        visit_hotspot=[v[0] for v in visits],
        visit_end_s=[v[1].timestamp() for v in visits],
        visit_dwell_s=[v[2] for v in visits],
        incident_hotspot=ids[owner[inside]],
        incident_t_s=t[inside],
        horizon_s=DETERRENCE_HORIZON_S,
        data_end_s=end.timestamp(),
    )
    rows = [b.to_dict() for b in bins]
    observed = [b for b in bins if b.visits and b.incident_free_24h is not None]
    if not visits:
        sentence = "No officer visits to treated hot spots were recorded during the experiment."
    elif observed:
        best = max(observed, key=lambda b: (b.incident_free_24h or 0.0, b.visits))
        sentence = (
            f"Of visits lasting {best.label}, {best.incident_free_24h:.0%} were followed by at "
            "least 24 hours without a crime in the hot spot, the best of any visit length "
            f"({_plural(sum(b.visits for b in bins), 'officer visit')} to treated hot spots; time "
            "to the "
            "next incident by Kaplan-Meier, so visits near the end of the data still count)."
        )
    else:
        sentence = "Too little follow-up after the visits to estimate 24-hour deterrence yet."
    return {"horizon_hours": DETERRENCE_HORIZON_S / 3600, "bins": rows, "sentence": sentence}


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _weekly(
    win: Windows, t: np.ndarray, owner: np.ndarray, treated: np.ndarray, keep: np.ndarray
) -> dict[str, Any]:
    """Incidents per hot spot per week, treated vs control, weeks counted from the start
    (negative before it); a partial week is scaled to 7 days."""
    n_days = 2 * win.days
    bounds = np.array(
        [
            local_day_bounds(win.before_first + timedelta(days=d))[0].timestamp()
            for d in range(n_days)
        ]
        + [local_day_bounds(win.during_last)[1].timestamp()]
    )
    counted = (owner >= 0) & keep[np.maximum(owner, 0)]
    offset = np.searchsorted(bounds, t, side="right") - 1 - win.days  # days since the start
    n_t, n_c = int((treated & keep).sum()), int((~treated & keep).sum())
    out = []
    n_weeks = (win.days + 6) // 7
    for w in range(-n_weeks, n_weeks):
        # Weeks run from the start day backwards and forwards; the outermost may be partial.
        first, last = max(w * 7, -win.days), min(w * 7 + 6, win.days - 1)
        days = last - first + 1
        sel = counted & (offset >= first) & (offset <= last)
        arm = treated[owner[sel]]
        t_count, c_count = int(arm.sum()), int((~arm).sum())
        out.append(
            {
                "week_start": (win.during_first + timedelta(days=int(first))).isoformat(),
                "days": days,
                "period": "during" if w >= 0 else "before",
                "treatment": t_count,
                "control": c_count,
                "treatment_per_hotspot_week": t_count / n_t * 7 / days if n_t else None,
                "control_per_hotspot_week": c_count / n_c * 7 / days if n_c else None,
            }
        )
    return {
        "weeks": out,
        "sentence": (
            "Weekly incidents per hot spot in each arm, before and during the experiment (a "
            "partial week is scaled to 7 days); the lines should run together before the start "
            "and part after it if the patrols worked."
        ),
    }


def experiment_impact_cached(
    *, experiment: Experiment, permutations: int = 10_000, seed: int | None = None
) -> dict[str, Any]:
    """``experiment_impact`` cached per (experiment, local day, permutations, seed) for
    ``CACHE_SECONDS``."""
    today = timezone.localdate()
    key = f"impact:{experiment.pk}:{today.isoformat()}:{permutations}:{seed}"
    hit = cache.get(key)
    if hit is not None:
        return dict(hit)
    result = experiment_impact(
        experiment=experiment, permutations=permutations, seed=seed, today=today
    )
    cache.set(key, result, CACHE_SECONDS)
    return result


def _safe_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas: a text cell starting with = + - @ gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def impact_csv(result: dict[str, Any]) -> str:
    """The per-hot-spot table of an ``experiment_impact`` result as CSV text (place-day
    designs: per hot spot, incidents and harm on treated and on control days)."""
    placeday = "placeday_hotspots" in result
    columns = PLACEDAY_CSV_COLUMNS if placeday else CSV_COLUMNS
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in result.get("placeday_hotspots" if placeday else "hotspots", []):
        writer.writerow([_safe_cell(row[c]) for c in columns])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Counts from a CSV file (the command's --counts)


class CountsCsvError(ValueError):
    """Bad rows of a counts CSV: ``errors`` lists "line N: reason" for every one."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class CountsTable:
    places: list[str]
    blocks: list[str] | None
    treated: np.ndarray
    before: np.ndarray
    during: np.ndarray


MAX_CSV_ROWS = 100_000  # a city's hot spots number in the hundreds; this bounds memory


def counts_csv_parse(*, text: str) -> CountsTable:
    """Parse ``place,block,arm,before,during`` (header required; ``block`` optional).

    ``arm`` is ``treatment`` or ``control``; ``before``/``during`` are numbers >= 0 (counts or
    harm). Raises ``CountsCsvError`` naming every bad line (line 1 is the header) and its
    reason; nothing is returned unless every row is good.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise CountsCsvError(["line 1: the file is empty; expected place,block,arm,before,during"])
    cols = [h.strip().lower() for h in header]
    missing = [c for c in ("place", "arm", "before", "during") if c not in cols]
    if missing:
        raise CountsCsvError([f"line 1: missing column(s) {', '.join(missing)}"])
    at = {c: cols.index(c) for c in ("place", "block", "arm", "before", "during") if c in cols}
    errors: list[str] = []
    places: list[str] = []
    blocks: list[str] = []
    arms: list[bool] = []
    before: list[float] = []
    during: list[float] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(places) >= MAX_CSV_ROWS:
            errors.append(f"line {line}: more than {MAX_CSV_ROWS:,} rows")
            break
        if len(row) < len(cols):
            errors.append(f"line {line}: expected {len(cols)} columns, got {len(row)}")
            continue
        place = row[at["place"]].strip()
        arm = row[at["arm"]].strip().lower()
        reasons = []
        if not place:
            reasons.append("place is empty")
        elif place in seen:
            reasons.append(f"place {place!r} repeats line {seen[place]}")
        if arm not in ("treatment", "control"):
            reasons.append(f"arm must be treatment or control, got {row[at['arm']].strip()!r}")
        values = []
        for name in ("before", "during"):
            raw = row[at[name]].strip()
            try:
                v = float(raw)
            except ValueError:
                reasons.append(f"{name} is not a number: {raw!r}")
                continue
            if not math.isfinite(v) or v < 0:
                reasons.append(f"{name} must be a number >= 0, got {raw!r}")
            values.append(v)
        if reasons:
            errors.append(f"line {line}: " + "; ".join(reasons))
            continue
        seen[place] = line
        places.append(place)
        blocks.append(row[at["block"]].strip() if "block" in at else "")
        arms.append(arm == "treatment")
        before.append(values[0])
        during.append(values[1])
    if errors:
        raise CountsCsvError(errors)
    if not places:
        raise CountsCsvError(["line 2: no rows after the header"])
    return CountsTable(
        places=places,
        blocks=blocks if "block" in at and any(blocks) else None,
        treated=np.array(arms, dtype=np.bool_),
        before=np.array(before, dtype=np.float64),
        during=np.array(during, dtype=np.float64),
    )


def counts_impact(*, table: CountsTable, permutations: int, seed: int) -> dict[str, Any]:
    """``impact_counts`` on a parsed counts table, JSON-ready (with ``seed`` and ``places``)."""
    result = impact_counts(
        before=table.before, during=table.during, treated=table.treated, blocks=table.blocks,
        permutations=permutations, rng=np.random.default_rng(seed),
    )  # fmt: skip
    return result.to_dict() | {"seed": seed, "places": len(table.places)}
