"""Fixed-arm designs (blocked, paired): hot spots before vs during, treatment vs control,
with catchment buffers for displacement."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import shapely
from django.conf import settings
from shapely.geometry import shape

from backend.analytics.impact import (
    impact_counts,
    wdd,
    wdq,
)
from backend.analytics.projection import LocalProjection
from backend.config.localtime import local_day_bounds
from backend.hotspots.models import Hotspot
from backend.incidents.selectors import harm_version_current, harm_weights_for, incident_points
from backend.missions.models import Allocation, Arm, Experiment
from backend.reports.impact.common import (
    ImpactUnavailable,
    Windows,
    catchment_m,
    deterrence_report,
    hotspot_owner,
    impact_windows,
)


def fixed_arms_impact(
    *, experiment: Experiment, permutations: int, seed: int, today: date
) -> dict[str, Any]:
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
    owner = hotspot_owner(polys, x, y)
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
        before=c_before[keep],
        during=c_during[keep],
        treated=treated[keep],
        blocks=[blocks[i] for i in np.flatnonzero(keep)],
        permutations=permutations,
        rng=rng_counts,
        outcome="Crime",
    )
    harm_result = impact_counts(
        before=h_before[keep],
        during=h_during[keep],
        treated=treated[keep],
        blocks=[blocks[i] for i in np.flatnonzero(keep)],
        permutations=permutations,
        rng=np.random.default_rng(seed),
        outcome="Harm",
    )

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
        a_before=a["before"],
        a_after=a["during"],
        b_before=b["before"],
        b_after=b["during"],
        c_before=c["before"],
        c_after=c["during"],
    )
    wdd_result = wdd(
        t_before=a["before"],
        t_after=a["during"],
        c_before=c["before"],
        c_after=c["during"],
        d_before=b["before"],
        d_after=b["during"],
        cd_before=cd["before"],
        cd_after=cd["during"],
    )

    treated_ids = {int(h) for h in ids[treated & keep]}
    deterrence = deterrence_report(
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
            "district": d.name if (d := spots[int(ids[i])].district) else "",
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
