"""Impact of a hot spot experiment: rate ratio, difference in differences, randomization
inference, displacement (WDQ, WDD) and residual deterrence after visits.

Counts. Every function takes one entry per place (hot spot): ``before`` and ``during`` are
counts (or harm sums: any finite float >= 0) over two windows of equal length, the "during"
window being the experiment and the "before" window the same number of days just before it.

The rate ratio and its interval (``impact_counts``). With place fixed effects ``alpha_i``,
a period effect ``gamma`` and the treatment effect ``beta``, the Poisson model is

    E[y_it] = exp(alpha_i + gamma * t + beta * T_i * t),  t = 0 (before), 1 (during).

Conditioning on a place's total ``n_i = b_i + d_i`` removes ``alpha_i``: ``d_i ~ Binomial(n_i,
p_arm)`` with ``logit p_T = gamma + beta`` and ``logit p_C = gamma``. The maximum-likelihood
estimates are the pooled shares ``p_arm = D_arm / (B_arm + D_arm)``, so

    RR = exp(beta_hat) = (D_T / B_T) / (D_C / B_C),

where ``B``, ``D`` are the arm's totals before and during. This is the MLE of the interaction
coefficient of a Poisson GLM with place and period dummies (e.g. statsmodels' ``GLM(...,
Poisson())``), to rounding. Its standard error is the cluster-robust (sandwich) one with places
as clusters, which stays honest when counts are over-dispersed (crime counts are). With place
fixed effects and two periods the sandwich reduces to one binomial logit per arm:

    V_arm = sum_i (d_i - n_i p_arm)^2 / (N_arm p_arm (1 - p_arm))^2,   N_arm = B_arm + D_arm
    var(log RR) = G / (G - 1) * (V_T + V_C)

with ``G`` the number of informative places (``n_i > 0``; a place with no incidents in either
window says nothing about the ratio and drops out of the likelihood). ``V_T + V_C`` equals
statsmodels' ``fit(cov_type='cluster', cov_kwds={'groups': place, 'use_correction': False})``
exactly; ``G / (G - 1)`` is the small-sample factor Stata applies to cluster-robust maximum
likelihood. (statsmodels' default ``use_correction=True`` also multiplies by
``(N - 1) / (N - K)`` with ``K`` counting every place dummy: with two periods that is
``(2G - 1) / (G - 2)``, about 2, an artefact of counting incidental parameters; it is not used.)
The 95% interval is ``exp(log RR -+ 1.96 se)`` (normal quantile from ``statistics.NormalDist``).
The interval needs at least two informative places per arm (with one, the sandwich is zero by
construction); otherwise it is ``(nan, nan)``. With fewer than ``FEW_CLUSTERS`` informative
places in an arm the sandwich is biased down and the sentence says so. For harm sums the
estimate and the sandwich are unchanged by the unit (scaling every value by k cancels); the
zero-total rule below treats the sums as counts.

Zero totals. When any of the four totals ``B_T, D_T, B_C, D_C`` is zero the log ratio is
undefined; then (and only then) 0.5 is added to each of the four totals (Haldane-Anscombe),
and the variance is the larger of the sandwich above (with the corrected shares) and the
Poisson model-based ``1/B_T + 1/D_T + 1/B_C + 1/D_C`` of the corrected totals, because the
sandwich is near zero when an arm has no incidents in a window. ``haldane`` says so.

Randomization inference. Under the sharp null of no effect at any place the outcomes are
fixed and only the labels were random. ``permutation_assignments`` re-draws the labels as the
design drew them: within each block the observed labels are put in a uniformly random order
(so every block keeps its number of treated places; in a pair that is a fair swap). For each
of ``permutations`` draws the statistic ``|log RR|`` is recomputed (the same zero-total rule
applied per draw); a draw is a *hit* when its statistic is ``>= |log RR_obs| - 1e-12`` (the
tolerance absorbs float ties), and ``p = (hits + 1) / (permutations + 1)``, two-sided and valid
for any count distribution. Draws are done in chunks of at most ``CHUNK_ELEMENTS`` cells of a
(draws x places) assignment matrix; each chunk is four matrix-vector products.

Place-day designs (``impact_placeday``). Every hot spot is re-randomized every day, so each is
its own control: the rate ratio of treated to control place-days comes from a Poisson model
with one effect per hot spot, its interval is clustered by hot spot in the same way, and the
randomization p re-draws each day's labels within blocks (``placeday_assignments``).

Difference in differences (per place means): ``did = (mean_T during - mean_T before) -
(mean_C during - mean_C before)``, in incidents (or harm) per place over one window.

Displacement. ``wdq``: weighted displacement quotient (Bowers & Johnson 2003) with target A,
buffer B and control C. ``wdd``: weighted displacement difference test (Wheeler & Ratcliffe
2018).

Residual deterrence. ``residual_deterrence``: for each visit, the time from its end to the
next incident in the same hot spot, censored; Kaplan-Meier per dwell-length bin.

No global random state: randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

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


def _block_codes(blocks: npt.ArrayLike | None, treated: BoolArray) -> tuple[IntArray, list[str]]:
    """Block code per place (0..k-1, by sorted label) and the labels; every block two-armed."""
    n = treated.size
    if blocks is None:
        labels = ["(all)"]
        codes = np.zeros(n, dtype=np.int64)
    else:
        raw = [str(b) for b in np.asarray(blocks, dtype=object).reshape(-1)]
        if len(raw) != n:
            raise ValueError(f"blocks must have one label per place ({n}), got {len(raw)}")
        labels = sorted(set(raw))
        index = {label: k for k, label in enumerate(labels)}
        codes = np.fromiter((index[b] for b in raw), dtype=np.int64, count=n)
    n_treated = np.bincount(codes, weights=treated.astype(np.float64), minlength=len(labels))
    n_places = np.bincount(codes, minlength=len(labels))
    for k, label in enumerate(labels):
        if n_treated[k] == 0 or n_treated[k] == n_places[k]:
            arm = "treatment" if n_treated[k] == n_places[k] else "control"
            raise ValueError(
                f"block {label!r} has all of its {int(n_places[k])} place(s) in the {arm} arm: "
                "re-randomizing within it is impossible; merge it with another block or leave "
                "it out"
            )
    return codes, labels


# ---------------------------------------------------------------------------------------------
# Counts: rate ratio, DiD, cluster-robust interval, randomization p


@dataclass(frozen=True)
class CountsImpact:
    """Treatment vs control, before vs during, for one outcome (counts or harm).

    Totals and means are per arm and window (means are per place over one window). ``did`` is
    in the outcome's unit per place; ``rate_ratio`` < 1 means the outcome fell in treated
    places relative to control places. ``ci95`` is ``(nan, nan)`` when it cannot be estimated
    (fewer than two informative places in an arm); ``p_randomization`` is nan when
    ``permutations`` is 0. ``clusters`` is ``G``, the number of informative places. See the
    module docstring for every formula.
    """

    outcome: str
    n_treatment: int
    n_control: int
    treatment_before: float
    treatment_during: float
    control_before: float
    control_during: float
    treatment_before_mean: float
    treatment_during_mean: float
    control_before_mean: float
    control_during_mean: float
    did: float
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
        low, high = self.ci95
        return {
            "outcome": self.outcome,
            "rate_ratio": _num(self.rate_ratio),
            "ci95": [_num(low), _num(high)],
            "log_rate_ratio": _num(self.log_rate_ratio),
            "se_log_rate_ratio": _num(self.se_log_rate_ratio),
            "did": _num(self.did),
            "p_randomization": _num(self.p_randomization),
            "permutations": self.permutations,
            "hits": self.hits,
            "haldane": self.haldane,
            "clusters": self.clusters,
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
            "totals": {
                "treatment": {"before": self.treatment_before, "during": self.treatment_during},
                "control": {"before": self.control_before, "during": self.control_during},
            },
            "means": {
                "treatment": {
                    "before": _num(self.treatment_before_mean),
                    "during": _num(self.treatment_during_mean),
                },
                "control": {
                    "before": _num(self.control_before_mean),
                    "during": _num(self.control_during_mean),
                },
            },
            "sentence": self.sentence,
        }


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _log_rate_ratios(tb: FloatArray, td: FloatArray, cb: FloatArray, cd: FloatArray) -> FloatArray:
    """log RR per entry, with +0.5 on all four totals of an entry where one of them is zero."""
    add = np.where((tb == 0) | (td == 0) | (cb == 0) | (cd == 0), HALDANE, 0.0)
    return np.log(td + add) - np.log(tb + add) - np.log(cd + add) + np.log(cb + add)


def _arm_sandwich(b: FloatArray, d: FloatArray, add: float) -> float:
    """``V_arm`` of the module docstring: the clustered variance of one arm's logit share."""
    big_b, big_d = float(b.sum()) + add, float(d.sum()) + add
    total = big_b + big_d
    if total == 0:
        return 0.0
    p = big_d / total
    meat = float(np.sum((d - (b + d) * p) ** 2))
    bread = big_b * big_d / total  # N p (1 - p)
    return meat / bread**2 if bread > 0 else math.nan


def permutation_assignments(
    *,
    treated: npt.ArrayLike,
    blocks: npt.ArrayLike | None = None,
    draws: int,
    rng: np.random.Generator,
    chunk_elements: int = CHUNK_ELEMENTS,
) -> Iterator[BoolArray]:
    """Re-randomized arm labels, as bool chunks shaped (k, n_places), k draws per chunk.

    ``treated``: bool shaped (n,); ``blocks``: n labels or None (one block). Every block must
    hold both arms (else ``ValueError``). Chunks together hold ``draws`` rows; a chunk has at
    most ``max(1, chunk_elements // n)`` rows. Algorithm per chunk, blocks in sorted label
    order: draw uniforms shaped (k, m) for the block's m places (in input order), argsort each
    row (stable), and treat the places at the first ``n_treated(block)`` positions; so each row
    is a uniformly random relabelling within every block that keeps each block's number of
    treated places. ``impact_counts`` consumes exactly this iterator, so a test can replay the
    same draws from the same seed.
    """
    t = np.asarray(treated).reshape(-1)
    t = _as_treated(t, t.size)
    codes, labels = _block_codes(blocks, t)
    if draws < 0:
        raise ValueError(f"draws must be >= 0, got {draws}")
    n = t.size
    members = [np.flatnonzero(codes == k) for k in range(len(labels))]
    n_treat = [int(t[m].sum()) for m in members]
    per_chunk = max(1, int(chunk_elements) // max(n, 1))
    done = 0
    while done < draws:
        k = min(per_chunk, draws - done)
        out = np.zeros((k, n), dtype=np.bool_)
        rows = np.arange(k)[:, None]
        for idx, n_t in zip(members, n_treat, strict=True):
            order = np.argsort(rng.random((k, idx.size)), axis=1, kind="stable")
            out[rows, idx[order[:, :n_t]]] = True
        done += k
        yield out


def impact_counts(
    *,
    before: npt.ArrayLike,
    during: npt.ArrayLike,
    treated: npt.ArrayLike,
    blocks: npt.ArrayLike | None = None,
    permutations: int = 10_000,
    rng: np.random.Generator,
    outcome: str = "Crime",
) -> CountsImpact:
    """Rate ratio, 95% CI, DiD and randomization p of treatment vs control, before vs during.

    ``before``, ``during``: finite floats >= 0 shaped (n,), one per place, over two windows of
    equal length (counts, or harm sums); ``treated``: bool shaped (n,); ``blocks``: n labels
    (block or pair of the design) or None for one block; every block must have places in both
    arms (``ValueError`` otherwise, as for mismatched lengths and negative values).
    ``permutations``: re-randomizations for ``p_randomization`` (0 skips it); ``rng`` draws
    them (see ``permutation_assignments``). ``outcome`` starts the sentence ("Crime", "Harm").
    Formulas: module docstring. Cost: O(permutations x n); 10,000 x 200 runs well under 1 s.
    """
    b = _as_amounts("before", before)
    d = _as_amounts("during", during, b.size)
    t = _as_treated(treated, b.size)
    _block_codes(blocks, t)  # validates the design before any work
    if isinstance(permutations, bool) or int(permutations) != permutations or permutations < 0:
        raise ValueError(f"permutations must be an int >= 0, got {permutations!r}")
    permutations = int(permutations)

    tb, td = float(b[t].sum()), float(d[t].sum())
    cb, cd = float(b[~t].sum()), float(d[~t].sum())
    n_t, n_c = int(t.sum()), int((~t).sum())
    means = (tb / n_t, td / n_t, cb / n_c, cd / n_c)
    did = (means[1] - means[0]) - (means[3] - means[2])

    nothing = tb + td + cb + cd == 0
    haldane = min(tb, td, cb, cd) == 0
    log_rr = float(
        _log_rate_ratios(np.array([tb]), np.array([td]), np.array([cb]), np.array([cd]))[0]
    )
    informative = (b + d) > 0
    g = int(informative.sum())
    min_informative = min(int(informative[t].sum()), int(informative[~t].sum()))
    se = math.nan
    if not nothing and int(informative[t].sum()) >= 2 and int(informative[~t].sum()) >= 2:
        add = HALDANE if haldane else 0.0
        var = _arm_sandwich(b[t], d[t], add) + _arm_sandwich(b[~t], d[~t], add)
        var *= g / (g - 1)
        if haldane:
            woolf = 1 / (tb + add) + 1 / (td + add) + 1 / (cb + add) + 1 / (cd + add)
            var = max(var, woolf)
        se = math.sqrt(var) if var > 0 else math.nan
    ci = (math.exp(log_rr - Z95 * se), math.exp(log_rr + Z95 * se))

    hits = 0
    if permutations:
        observed = abs(log_rr) - TIE_TOLERANCE
        for chunk in permutation_assignments(treated=t, blocks=blocks, draws=permutations, rng=rng):
            a = chunk.astype(np.float64)
            ptb, ptd = a @ b, a @ d
            stat = np.abs(_log_rate_ratios(ptb, ptd, (tb + cb) - ptb, (td + cd) - ptd))
            hits += int(np.count_nonzero(stat >= observed))
    p = (hits + 1) / (permutations + 1) if permutations else math.nan

    rr = math.nan if nothing else math.exp(log_rr)
    if nothing:
        log_rr, ci = math.nan, (math.nan, math.nan)
    return CountsImpact(
        outcome=outcome,
        n_treatment=n_t,
        n_control=n_c,
        treatment_before=tb,
        treatment_during=td,
        control_before=cb,
        control_during=cd,
        treatment_before_mean=means[0],
        treatment_during_mean=means[1],
        control_before_mean=means[2],
        control_during_mean=means[3],
        did=did,
        rate_ratio=rr,
        log_rate_ratio=log_rr,
        se_log_rate_ratio=se,
        ci95=ci,
        haldane=haldane and not nothing,
        clusters=g,
        p_randomization=p,
        permutations=permutations,
        hits=hits,
        sentence=_counts_sentence(
            outcome, rr, ci, hits, permutations, few=min_informative < FEW_CLUSTERS
        ),
    )


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


# ---------------------------------------------------------------------------------------------
# Place-day designs: treated vs control place-days


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


# ---------------------------------------------------------------------------------------------
# Displacement: WDQ and WDD


@dataclass(frozen=True)
class Wdq:
    """Weighted displacement quotient and its parts (Bowers & Johnson 2003; Guerette 2009).

    A = target area, B = buffer (catchment) area, C = control area; counts before and after.

    * ``success_measure = A_after / C_after - A_before / C_before`` (< 0: the target improved
      relative to the control area; the WDQ's denominator);
    * ``buffer_measure = B_after / C_after - B_before / C_before`` (the numerator);
    * ``wdq = buffer_measure / success_measure``: > 0 diffusion of benefit into the buffer
      (> 1: larger than the direct effect), < 0 displacement (< -1: more crime displaced than
      prevented), about 0 neither. Only meaningful when ``success_measure < 0``: Bowers &
      Johnson attribute buffer changes to the intervention only when the target improved.
    * ``gross_effect = A_before - A_after``, ``net_effect = A_before / C_before - A_after /
      C_after`` and ``total_net_effect = [A_before C_after / C_before - A_after] + [B_before
      C_after / C_before - B_after]`` (crimes prevented, > 0 good), from Guerette (2009).

    nan where a denominator is zero.
    """

    wdq: float
    success_measure: float
    buffer_measure: float
    gross_effect: float
    net_effect: float
    total_net_effect: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "wdq": _num(self.wdq),
            "success_measure": _num(self.success_measure),
            "buffer_measure": _num(self.buffer_measure),
            "gross_effect": _num(self.gross_effect),
            "net_effect": _num(self.net_effect),
            "total_net_effect": _num(self.total_net_effect),
            "sentence": self.sentence,
        }


def _div(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def wdq(
    *,
    a_before: float,
    a_after: float,
    b_before: float,
    b_after: float,
    c_before: float,
    c_after: float,
) -> Wdq:
    """Weighted displacement quotient of target A, buffer B, control C (counts >= 0).

    Formulas: ``Wdq``. Returns nan parts (and says why in ``sentence``) when the control area
    had no crime in a window or the target did not change relative to it.
    """
    vals = _as_amounts("wdq counts", [a_before, a_after, b_before, b_after, c_before, c_after])
    ab, aa, bb, ba, cb, ca = (float(v) for v in vals)
    success = _div(aa, ca) - _div(ab, cb)
    buffer = _div(ba, ca) - _div(bb, cb)
    quotient = _div(buffer, success) if math.isfinite(success) else math.nan
    ratio = _div(ca, cb)
    tne = (ab * ratio - aa) + (bb * ratio - ba)
    return Wdq(
        wdq=quotient,
        success_measure=success,
        buffer_measure=buffer,
        gross_effect=ab - aa,
        net_effect=_div(ab, cb) - _div(aa, ca),
        total_net_effect=tne,
        sentence=_wdq_sentence(quotient, success),
    )


def _wdq_sentence(q: float, success: float) -> str:
    if not math.isfinite(success):
        return "The control areas had no crime in a window, so the WDQ cannot be computed."
    if success >= 0:
        return (
            "Crime in the treated hot spots did not fall relative to the control hot spots, so "
            "changes in the surrounding buffer cannot be attributed to the patrols (WDQ not "
            "interpreted)."
        )
    if q > 1:
        kind = "a diffusion of benefit into the surrounding buffer larger than the direct effect"
    elif q > 0.05:
        kind = "a diffusion of benefit into the surrounding buffer, smaller than the direct effect"
    elif q >= -0.05:
        kind = "neither displacement nor diffusion of benefit into the surrounding buffer"
    elif q >= -1:
        kind = "some crime displaced into the surrounding buffer, less than was prevented"
    else:
        kind = "more crime displaced into the surrounding buffer than was prevented"
    return f"The weighted displacement quotient is {q:.2f}: {kind}."


@dataclass(frozen=True)
class Wdd:
    """Weighted displacement difference test (Wheeler & Ratcliffe 2018), counts >= 0.

    ``local = (T_after - T_before) - (C_after - C_before)``, ``displacement = (D_after -
    D_before) - (CD_after - CD_before)``, ``estimate = local + displacement`` (crimes; < 0 is a
    reduction). Counts are taken as Poisson, so ``variance`` is the sum of the eight counts,
    ``se = sqrt(variance)``, ``z = estimate / se``, ``p_value = 2 (1 - Phi(|z|))`` and ``ci95 =
    estimate -+ 1.96 se`` (``statistics.NormalDist``). z and p are nan when every count is 0.
    """

    estimate: float
    local: float
    displacement: float
    variance: float
    se: float
    z: float
    p_value: float
    ci95: tuple[float, float]
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": _num(self.estimate),
            "local": _num(self.local),
            "displacement": _num(self.displacement),
            "variance": _num(self.variance),
            "se": _num(self.se),
            "z": _num(self.z),
            "p_value": _num(self.p_value),
            "ci95": [_num(self.ci95[0]), _num(self.ci95[1])],
            "sentence": self.sentence,
        }


def wdd(
    *,
    t_before: float,
    t_after: float,
    c_before: float,
    c_after: float,
    d_before: float = 0.0,
    d_after: float = 0.0,
    cd_before: float = 0.0,
    cd_after: float = 0.0,
) -> Wdd:
    """WDD test of treated area T, control C, displacement area D (around T), and control
    displacement area CD (around C); counts >= 0. Formulas: ``Wdd``."""
    vals = _as_amounts(
        "wdd counts", [t_before, t_after, c_before, c_after, d_before, d_after, cd_before, cd_after]
    )
    tb, ta, cb, ca, db, da, cdb, cda = (float(v) for v in vals)
    local = (ta - tb) - (ca - cb)
    displacement = (da - db) - (cda - cdb)
    estimate = local + displacement
    variance = float(vals.sum())
    se = math.sqrt(variance)
    z = estimate / se if se > 0 else math.nan
    p = 2 * (1 - NormalDist().cdf(abs(z))) if math.isfinite(z) else math.nan
    ci = (estimate - Z95 * se, estimate + Z95 * se)
    if math.isfinite(z):
        direction = "fewer" if estimate < 0 else "more"
        sentence = (
            f"Counting the buffers, treated hot spots had {abs(estimate):,.0f} {direction} "
            f"crimes than the control trend predicts (95% CI {ci[0]:,.0f} to {ci[1]:,.0f}, "
            f"z = {z:.2f}, p = {p:.3f})."
        )
    else:
        sentence = "No crime was recorded in any area, so the WDD test cannot be computed."
    return Wdd(
        estimate=estimate,
        local=local,
        displacement=displacement,
        variance=variance,
        se=se,
        z=z,
        p_value=p,
        ci95=ci,
        sentence=sentence,
    )


# ---------------------------------------------------------------------------------------------
# Residual deterrence


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
