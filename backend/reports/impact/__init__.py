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

from backend.reports.impact.common import (
    CSV_COLUMNS,
    ImpactUnavailable,
    Windows,
    catchment_m,
    impact_windows,
)
from backend.reports.impact.counts_csv import (
    CountsCsvError,
    CountsTable,
    counts_csv_parse,
    counts_impact,
)
from backend.reports.impact.placeday import PLACEDAY_CSV_COLUMNS
from backend.reports.impact.report import (
    experiment_impact,
    experiment_impact_cached,
    impact_csv,
    impact_layer,
)

__all__ = [
    "CSV_COLUMNS",
    "PLACEDAY_CSV_COLUMNS",
    "CountsCsvError",
    "CountsTable",
    "ImpactUnavailable",
    "Windows",
    "catchment_m",
    "counts_csv_parse",
    "counts_impact",
    "experiment_impact",
    "experiment_impact_cached",
    "impact_csv",
    "impact_layer",
    "impact_windows",
]
