"""Residual deterrence: for each visit, the time from its end to the next incident in the same
hot spot, censored at the horizon or the end of the data; Kaplan-Meier per dwell-length bin
(the Koper curve: how long a visit of a given length keeps crime away).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.analytics.impact._common import (
    DAY_S,
    HOUR_S,
    FloatArray,
    _num,
)


@dataclass(frozen=True)
class DeterrenceBin:
    """Time to the next incident after visits of one dwell-length range ``[low_min, high_min)``.

    ``visits``: visits in the bin; ``incidents``: visits whose next incident in the same hot
    spot fell within their follow-up; ``median_hours``: Kaplan-Meier median time to that
    incident (None when the curve stays above 0.5); ``incident_free_24h``: Kaplan-Meier share
    of visits still incident-free 24 h after they ended (None when no follow-up reaches 24 h).
    """

    label: str
    low_min: float
    high_min: float
    visits: int
    incidents: int
    median_hours: float | None
    incident_free_24h: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "low_min": self.low_min,
            "high_min": _num(self.high_min),
            "visits": self.visits,
            "incidents": self.incidents,
            "median_hours": self.median_hours,
            "incident_free_24h": self.incident_free_24h,
        }


def kaplan_meier(time: npt.ArrayLike, event: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Product-limit survival: (distinct event times, S just after each), both shaped (k,).

    ``time``: follow-up in any unit shaped (n,); ``event``: bool shaped (n,), True = the event
    was observed at ``time``, False = censored then. At a time with both, the censored are
    still at risk: ``S(t_j) = prod_{t_i <= t_j} (1 - d_i / n_i)``, ``n_i`` = follow-ups >= t_i.
    """
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    e = np.asarray(event, dtype=np.bool_).reshape(-1)
    if e.shape != t.shape:
        raise ValueError("time and event must have the same shape")
    times = np.unique(t[e])
    sorted_t = np.sort(t)
    at_risk = t.size - np.searchsorted(sorted_t, times, side="left")
    events_sorted = np.sort(t[e])
    deaths = np.searchsorted(events_sorted, times, side="right") - np.searchsorted(
        events_sorted, times, side="left"
    )
    surv = np.cumprod(1.0 - deaths / at_risk).astype(np.float64)
    return times, surv


def _bin_label(low: float, high: float) -> str:
    if math.isinf(high):
        return f"{low:g}+ min"
    return f"{low:g}-{high:g} min"


def residual_deterrence(
    *,
    visit_hotspot: npt.ArrayLike,
    visit_end_s: npt.ArrayLike,
    visit_dwell_s: npt.ArrayLike,
    incident_hotspot: npt.ArrayLike,
    incident_t_s: npt.ArrayLike,
    horizon_s: float,
    edges_min: Sequence[float] = (0, 5, 10, 16, math.inf),
    data_end_s: float | None = None,
) -> list[DeterrenceBin]:
    """Residual deterrence: time from each visit's end to the next incident in its hot spot.

    Visits: ``visit_hotspot`` (ids), ``visit_end_s`` (seconds, e.g. Unix time),
    ``visit_dwell_s`` (seconds), all shaped (v,). Incidents: ``incident_hotspot`` (ids) and
    ``incident_t_s`` (seconds, same clock) shaped (m,). A visit's follow-up is
    ``min(horizon_s, data_end_s - end)`` (clipped at 0; ``data_end_s`` defaults to the last
    incident time): its next incident strictly after its end in the same hot spot is observed
    when it comes within the follow-up, else the visit is censored at the follow-up's end.
    Visits are binned by dwell minutes ``edges_min[k] <= dwell / 60 < edges_min[k + 1]``
    (increasing edges; dwell outside every bin is ignored). One ``DeterrenceBin`` per bin, in
    order; Kaplan-Meier median in hours is the first event time where ``S <= 0.5``.
    """
    v_hs = np.asarray(visit_hotspot, dtype=np.int64).reshape(-1)
    v_end = np.asarray(visit_end_s, dtype=np.float64).reshape(-1)
    v_dwell = np.asarray(visit_dwell_s, dtype=np.float64).reshape(-1)
    i_hs = np.asarray(incident_hotspot, dtype=np.int64).reshape(-1)
    i_t = np.asarray(incident_t_s, dtype=np.float64).reshape(-1)
    if not (v_hs.size == v_end.size == v_dwell.size):
        raise ValueError("visit_hotspot, visit_end_s and visit_dwell_s must have the same length")
    if i_hs.size != i_t.size:
        raise ValueError("incident_hotspot and incident_t_s must have the same length")
    if not (
        np.all(np.isfinite(v_end)) and np.all(np.isfinite(v_dwell)) and np.all(np.isfinite(i_t))
    ):
        raise ValueError("times and dwells must be finite")
    if not horizon_s > 0:
        raise ValueError(f"horizon_s must be > 0, got {horizon_s}")
    edges = [float(x) for x in edges_min]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges_min must be increasing with at least 2 edges, got {edges_min}")
    if data_end_s is None:
        data_end_s = float(i_t.max()) if i_t.size else float(v_end.max(initial=0.0))

    gap = np.full(v_end.size, np.inf)
    order = np.lexsort((i_t, i_hs))
    hs_sorted, t_sorted = i_hs[order], i_t[order]
    for h in np.unique(v_hs):
        lo, hi = np.searchsorted(hs_sorted, h, "left"), np.searchsorted(hs_sorted, h, "right")
        times = t_sorted[lo:hi]
        vis = np.flatnonzero(v_hs == h)
        pos = np.searchsorted(times, v_end[vis], side="right")
        found = pos < times.size
        gap[vis[found]] = times[pos[found]] - v_end[vis[found]]
    follow = np.clip(np.minimum(float(horizon_s), float(data_end_s) - v_end), 0.0, None)
    event = gap <= follow
    time = np.where(event, gap, follow)

    dwell_min = v_dwell / 60.0
    out = []
    for low, high in itertools.pairwise(edges):
        sel = (dwell_min >= low) & (dwell_min < high)
        t_bin, e_bin = time[sel], event[sel]
        median: float | None = None
        free24: float | None = None
        if t_bin.size:
            times, surv = kaplan_meier(t_bin, e_bin)
            below = np.flatnonzero(surv <= 0.5)
            if below.size:
                median = float(times[below[0]]) / HOUR_S
            if float(t_bin.max()) >= DAY_S or (surv.size and surv[-1] == 0):
                k = int(np.searchsorted(times, DAY_S, side="right"))
                free24 = float(surv[k - 1]) if k else 1.0
        out.append(
            DeterrenceBin(
                label=_bin_label(low, high),
                low_min=low,
                high_min=high,
                visits=int(sel.sum()),
                incidents=int(e_bin.sum()),
                median_hours=median,
                incident_free_24h=free24,
            )
        )
    return out
