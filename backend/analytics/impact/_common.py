"""Shared pieces of ``backend.analytics.impact``: array types, constants, input checks and
the wording of the sentences."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

HALDANE = 0.5
"""Added to each of the four totals when one of them is zero."""
TIE_TOLERANCE = 1e-12
"""A re-randomization is a hit when ``|log RR| >= |log RR_obs| - TIE_TOLERANCE``."""
CHUNK_ELEMENTS = 1 << 21
"""Cells of the (draws x places) assignment matrix made at once: 2M cells keep the uniforms
and the float copy near 32 MB; 10,000 draws of 200 places fit in one chunk."""
FEW_CLUSTERS = 10
"""Below this many informative places in an arm the sentence warns that the sandwich interval
is too narrow (cluster-robust variances are biased down with few clusters)."""
Z95 = NormalDist().inv_cdf(0.975)
HOUR_S = 3600.0
DAY_S = 86_400.0


# ---------------------------------------------------------------------------------------------
# Input checks


def _as_amounts(name: str, values: npt.ArrayLike, n: int | None = None) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if n is not None and arr.size != n:
        raise ValueError(f"{name} must have one entry per place ({n}), got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if arr.size and float(arr.min()) < 0:
        raise ValueError(f"{name} must be >= 0 (counts or harm), got {float(arr.min())}")
    return arr


def _as_treated(treated: npt.ArrayLike, n: int) -> BoolArray:
    arr = np.asarray(treated).reshape(-1)
    if arr.size != n:
        raise ValueError(f"treated must have one entry per place ({n}), got {arr.size}")
    if arr.dtype != np.bool_:
        if arr.size and not np.all(np.isin(arr, (0, 1))):
            raise ValueError("treated must be bool (or 0/1)")
        arr = arr.astype(np.bool_)
    return arr


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _percent(share: float) -> str:
    """A share as a percentage: whole numbers from 10%, one decimal below."""
    pct = 100 * share
    return f"{pct:.0f}%" if pct >= 9.95 else f"{pct:.1f}%"


@dataclass(frozen=True)
class _Wording:
    """The words of a sentence: what is treated and what it is compared with."""

    treated: str = "in treated hot spots"
    control: str = "control hot spots"
    same: str = "in control hot spots"
    nothing: str = "in either arm in either window"
    few: str = "hot spots with incidents in an arm"


HOTSPOTS = _Wording()
PLACE_DAYS = _Wording(
    treated="on treated place-days",
    control="control place-days at the same hot spots",
    same="on control place-days",
    nothing="on any place-day",
    few="hot spots with incidents on both treated and control days",
)


def _counts_sentence(
    outcome: str,
    rr: float,
    ci: tuple[float, float],
    hits: int,
    draws: int,
    *,
    few: bool,
    words: _Wording = HOTSPOTS,
) -> str:
    if not math.isfinite(rr):
        return f"{outcome} was not recorded {words.nothing}, so there is nothing to compare."
    change = rr - 1
    if abs(change) < 0.0005:
        head = f"{outcome} {words.treated} changed no more than {words.same}"
    else:
        verb = "fell" if change < 0 else "rose"
        head = (
            f"{outcome} {words.treated} {verb} {_percent(abs(change))} relative to {words.control}"
        )
    if math.isfinite(ci[0]):
        detail = f"rate ratio {rr:.2f}, 95% CI {ci[0]:.2f} to {ci[1]:.2f}"
    else:
        detail = f"rate ratio {rr:.2f}; too few hot spots with incidents for a confidence interval"
    sentence = f"{head} ({detail})"
    if draws:
        if hits == 0:
            chance = (
                f"a difference this large arose by chance in none of {draws:,} re-randomizations"
            )
        elif hits / draws < 0.001:
            chance = (
                f"a difference this large arose by chance in only {hits} of {draws:,} "
                "re-randomizations"
            )
        else:
            chance = (
                f"a difference this large arose by chance in {_percent(hits / draws)} of "
                f"{draws:,} re-randomizations"
            )
        sentence += f"; {chance}"
    sentence += "."
    if few and math.isfinite(ci[0]):
        sentence += (
            f" With fewer than {FEW_CLUSTERS} {words.few} the interval is too narrow to trust"
            + ("; the re-randomization figure is the one to go by." if draws else ".")
        )
    return sentence
