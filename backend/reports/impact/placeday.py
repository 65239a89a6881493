"""Place-day designs: treated vs control place-days during the experiment, each hot spot its
own control."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from shapely.geometry import shape

from backend.analytics.impact import impact_placeday
from backend.analytics.projection import LocalProjection
from backend.config.localtime import local_day_bounds
from backend.hotspots.models import Hotspot
from backend.incidents.selectors import harm_version_current, harm_weights_for, incident_points
from backend.missions.models import Allocation, Arm, Experiment
from backend.reports.impact.common import (
    ImpactUnavailable,
    deterrence_report,
    finite_or_none,
    hotspot_owner,
    impact_windows,
)

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


def placeday_impact(
    *, experiment: Experiment, permutations: int, seed: int, today: date
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
        assert day is not None  # the day range above leaves out the (dayless) fixed-design rows
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
    owner = hotspot_owner(polys, x, y)
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
        counts=counts,
        treated=treated,
        blocks=blocks,
        permutations=permutations,
        rng=np.random.default_rng(seed),
        outcome="Crime",
    )
    harm_result = impact_placeday(
        counts=harm_days,
        treated=treated,
        blocks=blocks,
        permutations=permutations,
        rng=np.random.default_rng(seed),
        outcome="Harm",
    )

    def is_treated(h: int, day: date) -> bool:
        d = (day - win.during_first).days
        return 0 <= d < n_days and bool(treated[d, col[h]])

    deterrence = deterrence_report(
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
            "district": d.name if (d := spots[int(ids[i])].district) else "",
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
        "rate_ratio": finite_or_none(result.rate_ratio),
        "ci95": [finite_or_none(result.ci95[0]), finite_or_none(result.ci95[1])],
        "did": None,
        "p_randomization": finite_or_none(result.p_randomization),
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
