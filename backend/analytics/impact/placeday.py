"""Place-day designs (``impact_placeday``). Every hot spot is re-randomized every day, so each is
its own control: the rate ratio of treated to control place-days comes from a Poisson model
with one effect per hot spot, its interval is clustered by hot spot in the same way, and the
randomization p re-draws each day's labels within blocks (``placeday_assignments``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from backend.analytics.impact._common import (
    CHUNK_ELEMENTS,
    FEW_CLUSTERS,
    HALDANE,
    PLACE_DAYS,
    TIE_TOLERANCE,
    Z95,
    BoolArray,
    FloatArray,
    IntArray,
    _as_amounts,
    _counts_sentence,
    _num,
)


@dataclass(frozen=True)
class PlaceDayImpact:
    """Treated vs control place-days of a place-day (crossover) design, for one outcome.

    ``treated_mean``/``control_mean`` are per place-day; ``rate_ratio`` < 1 means fewer
    incidents on treated days than on control days at the same hot spots. ``clusters`` is the
    number of informative places. Formulas: ``impact_placeday``.
    """

    outcome: str
    n_places: int
    n_days: int
    treated_place_days: int
    control_place_days: int
    treated_total: float
    control_total: float
    treated_mean: float
    control_mean: float
    rate_ratio: float
    log_rate_ratio: float
    se_log_rate_ratio: float
    ci95: tuple[float, float]
    haldane: bool
    clusters: int
    p_randomization: float
    permutations: int
    hits: int
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: nan becomes None, tuples become lists."""
        return {
            "outcome": self.outcome,
            "rate_ratio": _num(self.rate_ratio),
            "ci95": [_num(self.ci95[0]), _num(self.ci95[1])],
            "log_rate_ratio": _num(self.log_rate_ratio),
            "se_log_rate_ratio": _num(self.se_log_rate_ratio),
            "p_randomization": _num(self.p_randomization),
            "permutations": self.permutations,
            "hits": self.hits,
            "haldane": self.haldane,
            "clusters": self.clusters,
            "n_places": self.n_places,
            "n_days": self.n_days,
            "treated_place_days": self.treated_place_days,
            "control_place_days": self.control_place_days,
            "treated_total": self.treated_total,
            "control_total": self.control_total,
            "treated_mean": _num(self.treated_mean),
            "control_mean": _num(self.control_mean),
            "sentence": self.sentence,
        }


def _fe_log_rate_ratio(
    y_treated: FloatArray, n: FloatArray, k: FloatArray, days: int
) -> tuple[FloatArray, BoolArray]:
    """Place fixed-effects Poisson MLE of log RR per row, and where the Haldane rule applied.

    Rows are draws: ``y_treated`` (treated-day count per place) and ``k`` (treated days per
    place) are shaped (r, p); ``n`` (all-day count per place) is shaped (p,). The score
    ``U(b) = sum_i [y_Ti - n_i k_i e^b / (k_i e^b + m_i)]`` (``m_i = days - k_i``) falls
    strictly in ``b``; its root is found by Newton steps kept inside a bisection bracket. A row
    whose informative places have no incident on treated (or on control) days has no finite
    root: it gets ``log((Y_T + 0.5) / K) - log((Y_C + 0.5) / M)`` over its informative places.
    """
    m = days - k
    informative = (n > 0) & (k > 0) & (m > 0)
    yt = np.where(informative, y_treated, 0.0)
    yc = np.where(informative, n - y_treated, 0.0)
    big_k = np.where(informative, k, 0.0).sum(axis=1)
    big_m = np.where(informative, m, 0.0).sum(axis=1)
    tot_t, tot_c = yt.sum(axis=1), yc.sum(axis=1)
    zero = (tot_t == 0) | (tot_c == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fallback = np.log((tot_t + HALDANE) / big_k) - np.log((tot_c + HALDANE) / big_m)
        start = np.log(tot_t / big_k) - np.log(tot_c / big_m)
    beta = np.where(zero | ~np.isfinite(start), 0.0, start)
    lo, hi = np.full(beta.shape, -40.0), np.full(beta.shape, 40.0)
    nn = np.where(informative, n, 0.0)
    for _ in range(100):
        e = np.exp(beta)[:, None]
        pi = k * e / (k * e + m)
        pi = np.where(informative, pi, 0.0)
        score = (yt - nn * pi).sum(axis=1)
        slope = (nn * pi * (1 - pi)).sum(axis=1)
        lo = np.where(score > 0, beta, lo)
        hi = np.where(score <= 0, beta, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = beta + score / slope
        bad = ~np.isfinite(step) | (step <= lo) | (step >= hi)
        new = np.where(bad, 0.5 * (lo + hi), step)
        done = np.abs(new - beta) < 1e-13
        beta = new
        if bool(np.all(done | zero)):
            break
    return np.where(zero, fallback, beta), zero


def _block_order(blocks: npt.ArrayLike | None, n: int) -> tuple[IntArray, list[int]]:
    """Places sorted by block label (stable) and the start of each block in that order, plus
    the end: block ``b`` is ``order[starts[b]:starts[b + 1]]``."""
    if blocks is None:
        return np.arange(n, dtype=np.int64), [0, n]
    raw = [str(b) for b in np.asarray(blocks, dtype=object).reshape(-1)]
    if len(raw) != n:
        raise ValueError(f"blocks must have one label per place ({n}), got {len(raw)}")
    labels = sorted(set(raw))
    codes = np.array([labels.index(b) for b in raw], dtype=np.int64)
    order = np.argsort(codes, kind="stable").astype(np.int64)
    starts = np.searchsorted(codes[order], np.arange(len(labels) + 1)).tolist()
    return order, [int(x) for x in starts]


def _placeday_draws(
    t_sorted: BoolArray, starts: list[int], draws: int, rng: np.random.Generator, chunk: int
) -> Iterator[BoolArray]:
    """``placeday_assignments`` with places already in block order (columns of ``t_sorted``)."""
    n_days, n = t_sorted.shape
    per_chunk = max(1, int(chunk) // max(n * n_days, 1))
    done = 0
    while done < draws:
        k = min(per_chunk, draws - done)
        out = np.zeros((k, n_days, n), dtype=np.bool_)
        for lo, hi in itertools.pairwise(starts):
            m = hi - lo
            n_t = t_sorted[:, lo:hi].sum(axis=1)  # treated per day in this block
            u = rng.random((k, n_days, m))
            values = np.unique(n_t).tolist()
            for value in values:
                # Usually every day treats the same number: then no day subset is copied.
                days: slice | IntArray = (
                    slice(None) if len(values) == 1 else np.flatnonzero(n_t == value)
                )
                if value == 0:
                    continue
                if value == m:
                    out[:, days, lo:hi] = True
                    continue
                part = u[:, days, :]
                # The places holding the ``value`` smallest uniforms of the row are treated.
                kth = np.partition(part, value - 1, axis=2)[:, :, value - 1 : value]
                out[:, days, lo:hi] = part <= kth
        done += k
        yield out


def placeday_assignments(
    *,
    treated: npt.ArrayLike,
    blocks: npt.ArrayLike | None = None,
    draws: int,
    rng: np.random.Generator,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Iterator[BoolArray]:
    """Re-randomized place-day labels, as bool chunks shaped (k, n_days, n_places).

    ``treated``: bool shaped (n_days, n_places); ``blocks``: n_places labels or None. As the
    design drew them: every day, within every block, the day's treated places are a uniformly
    random subset of the block of the observed size, so each (day, block) keeps its number of
    treated places. Per chunk and block (blocks in sorted label order, places by input order
    within a block) one array of uniforms shaped (k, n_days, m) is drawn; on a day with
    ``n_t`` treated the places holding the ``n_t`` smallest uniforms are treated.
    """
    t = np.asarray(treated)
    if t.ndim != 2 or t.dtype != np.bool_:
        raise ValueError("treated must be a bool array shaped (n_days, n_places)")
    order, starts = _block_order(blocks, t.shape[1])
    inverse = np.argsort(order)
    for chunk in _placeday_draws(t[:, order], starts, draws, rng, chunk_elements):
        yield chunk[:, :, inverse]


def impact_placeday(
    *,
    counts: npt.ArrayLike,
    treated: npt.ArrayLike,
    blocks: npt.ArrayLike | None = None,
    permutations: int = 10_000,
    rng: np.random.Generator,
    outcome: str = "Crime",
) -> PlaceDayImpact:
    """Rate ratio of treated vs control place-days with place fixed effects, its cluster-robust
    95% CI and the randomization p of a place-day design.

    ``counts``: finite floats >= 0 shaped (n_days, n_places) (incidents or harm of each hot
    spot on each day); ``treated``: bool of the same shape; ``blocks``: n_places labels or None.

    Model: ``E[y_id] = exp(alpha_i + beta T_id)``, each hot spot its own control (no day
    effects: the design treats a fixed share of each block every day). Conditioning on each
    place's total removes ``alpha_i``; ``beta_hat`` is the root of the conditional score (see
    ``_fe_log_rate_ratio``), equal to the Poisson GLM with place dummies. A place is
    informative when it has incidents and both treated and control days; ``G`` counts them.
    ``var(beta_hat) = G / (G - 1) * sum_i s_i^2 / (sum_i h_i)^2`` with ``s_i = y_Ti - n_i pi_i``,
    ``h_i = n_i pi_i (1 - pi_i)``, ``pi_i = k_i e^b / (k_i e^b + m_i)``: the clustered sandwich
    by place (statsmodels' ``use_correction=False`` times ``G / (G - 1)``). Zero treated or
    control incidents: the Haldane rule of ``_fe_log_rate_ratio`` and no interval. The p-value
    re-draws every day's labels within blocks (``placeday_assignments``) and counts draws with
    ``|log RR| >= |log RR_obs| - 1e-12``: ``p = (hits + 1) / (permutations + 1)``.
    """
    y = np.asarray(counts, dtype=np.float64)
    t = np.asarray(treated)
    if y.ndim != 2:
        raise ValueError("counts must be shaped (n_days, n_places)")
    if t.shape != y.shape:
        raise ValueError(f"treated must have the shape of counts {y.shape}, got {t.shape}")
    if t.dtype != np.bool_:
        raise ValueError("treated must be bool")
    _as_amounts("counts", y.reshape(-1))
    if isinstance(permutations, bool) or int(permutations) != permutations or permutations < 0:
        raise ValueError(f"permutations must be an int >= 0, got {permutations!r}")
    if t.all() or not t.any():
        raise ValueError("every place-day is in one arm: there is nothing to compare")
    n_days, n_places = y.shape
    n = y.sum(axis=0)
    k = t.sum(axis=0).astype(np.float64)
    yt = (y * t).sum(axis=0)
    log_rr_arr, zero_arr = _fe_log_rate_ratio(yt[None, :], n, k[None, :], n_days)
    log_rr, haldane = float(log_rr_arr[0]), bool(zero_arr[0])
    m = n_days - k
    informative = (n > 0) & (k > 0) & (m > 0)
    g = int(informative.sum())
    se = math.nan
    if not haldane and g >= 2:
        e = math.exp(log_rr)
        pi = (k * e / (k * e + m))[informative]
        s = yt[informative] - n[informative] * pi
        h = n[informative] * pi * (1 - pi)
        var = g / (g - 1) * float(np.sum(s**2)) / float(np.sum(h)) ** 2
        se = math.sqrt(var) if var > 0 else math.nan
    ci = (math.exp(log_rr - Z95 * se), math.exp(log_rr + Z95 * se))
    nothing = float(n.sum()) == 0
    no_contrast = g == 0 and not nothing  # incidents, but no hot spot has both kinds of day
    permutations = int(permutations)
    hits = 0
    if no_contrast:
        pass  # no statistic to re-randomize: p stays nan below
    elif permutations and not nothing:
        observed = abs(log_rr) - TIE_TOLERANCE
        order, starts = _block_order(blocks, n_places)
        y_sorted, n_sorted = y[:, order], n[order]
        for chunk in _placeday_draws(t[:, order], starts, permutations, rng, CHUNK_ELEMENTS):
            a = chunk.astype(np.float64)
            y_t = np.einsum("rdp,dp->rp", a, y_sorted)
            stat, _ = _fe_log_rate_ratio(y_t, n_sorted, a.sum(axis=1), n_days)
            hits += int(np.count_nonzero(np.abs(stat) >= observed))
    elif permutations:
        hits = permutations
    p = (hits + 1) / (permutations + 1) if permutations and not no_contrast else math.nan
    n_t, n_c = int(t.sum()), int((~t).sum())
    tot_t, tot_c = float(y[t].sum()), float(y[~t].sum())
    rr = math.nan if nothing or no_contrast else math.exp(log_rr)
    if nothing or no_contrast:
        log_rr, ci = math.nan, (math.nan, math.nan)
    sentence = _counts_sentence(
        outcome, rr, ci, hits, permutations, few=g < FEW_CLUSTERS, words=PLACE_DAYS
    )
    if no_contrast:
        sentence = (
            f"No hot spot with {outcome.lower()} recorded has had both treated and control days "
            "yet, so treated and control place-days cannot be compared."
        )
    return PlaceDayImpact(
        outcome=outcome,
        n_places=n_places,
        n_days=n_days,
        treated_place_days=n_t,
        control_place_days=n_c,
        treated_total=tot_t,
        control_total=tot_c,
        treated_mean=tot_t / n_t,
        control_mean=tot_c / n_c,
        rate_ratio=rr,
        log_rate_ratio=log_rr,
        se_log_rate_ratio=se,
        ci95=ci,
        haldane=haldane and not nothing,
        clusters=g,
        p_randomization=p,
        permutations=permutations,
        hits=hits,
        sentence=sentence,
    )
