"""Fixed-arm designs (blocked, paired): before vs during, treatment vs control.

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

Difference in differences (per place means): ``did = (mean_T during - mean_T before) -
(mean_C during - mean_C before)``, in incidents (or harm) per place over one window.
"""

from __future__ import annotations

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
    TIE_TOLERANCE,
    Z95,
    BoolArray,
    FloatArray,
    IntArray,
    _as_amounts,
    _as_treated,
    _counts_sentence,
    _num,
)


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
