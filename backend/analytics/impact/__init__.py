"""Impact of a hot spot experiment: rate ratio, difference in differences, randomization
inference, displacement (WDQ, WDD) and residual deterrence after visits.

* ``counts``: fixed arms (blocked, paired), before vs during, treatment vs control:
  ``impact_counts`` (rate ratio = the Poisson GLM interaction with place and period effects,
  cluster-robust 95% CI, DiD, randomization p within blocks) and ``permutation_assignments``.
* ``placeday``: place-day (crossover) designs: ``impact_placeday``, ``placeday_assignments``.
* ``displacement``: ``wdq`` (Bowers & Johnson 2003) and ``wdd`` (Wheeler & Ratcliffe 2018).
* ``deterrence``: ``residual_deterrence`` (time to the next incident after a visit, by dwell,
  Kaplan-Meier) and ``kaplan_meier``.

Each submodule's docstring gives its formulas. No global random state: randomness comes only
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from backend.analytics.impact._common import (
    CHUNK_ELEMENTS,
    FEW_CLUSTERS,
    HALDANE,
    TIE_TOLERANCE,
)
from backend.analytics.impact.counts import (
    CountsImpact,
    impact_counts,
    permutation_assignments,
)
from backend.analytics.impact.deterrence import (
    DeterrenceBin,
    kaplan_meier,
    residual_deterrence,
)
from backend.analytics.impact.displacement import (
    Wdd,
    Wdq,
    wdd,
    wdq,
)
from backend.analytics.impact.placeday import (
    PlaceDayImpact,
    impact_placeday,
    placeday_assignments,
)

__all__ = [
    "CHUNK_ELEMENTS",
    "FEW_CLUSTERS",
    "HALDANE",
    "TIE_TOLERANCE",
    "CountsImpact",
    "DeterrenceBin",
    "PlaceDayImpact",
    "Wdd",
    "Wdq",
    "impact_counts",
    "impact_placeday",
    "kaplan_meier",
    "permutation_assignments",
    "placeday_assignments",
    "residual_deterrence",
    "wdd",
    "wdq",
]
