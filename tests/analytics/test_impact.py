"""Impact statistics against independent oracles: statsmodels' Poisson GLM (rate ratio and
cluster-robust interval), the published WDQ and WDD examples, brute-force permutation counts,
a Kaplan-Meier from statsmodels, and simulated experiments.

Frequency checks use fixed seeds so a run is deterministic; each comment gives the chance that
the check would fail for a correct implementation under an arbitrary seed.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight

from backend.analytics.impact import (
    TIE_TOLERANCE,
    impact_counts,
    impact_placeday,
    kaplan_meier,
    permutation_assignments,
    placeday_assignments,
    residual_deterrence,
    wdd,
    wdq,
)

HOUR, DAY = 3600.0, 86_400.0


def blocked_design(
    rng: np.random.Generator, n_blocks: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Half of each block treated at random; returns (treated bool, block labels)."""
    treated = np.zeros(n_blocks * block_size, dtype=bool)
    for k in range(n_blocks):
        treated[k * block_size + rng.permutation(block_size)[: block_size // 2]] = True
    return treated, np.repeat([f"b{k}" for k in range(n_blocks)], block_size)


def nb_counts(rng: np.random.Generator, mean: np.ndarray, size: float = 2.0) -> np.ndarray:
    """Negative binomial counts with the given means and size (variance mean + mean^2/size)."""
    return rng.negative_binomial(size, size / (size + mean)).astype(float)


def glm_oracle(
    before: np.ndarray, during: np.ndarray, treated: np.ndarray, use_correction: bool = False
) -> tuple[float, float, tuple[float, float], int]:
    """statsmodels Poisson GLM with place and period dummies and treated x during, clustered by
    place: (rate ratio, variance of its log, 95% CI, number of places used). Places with no
    incidents in either window are left out: their dummy's MLE is -infinity."""
    keep = (before + during) > 0
    b, d, t = before[keep], during[keep], treated[keep]
    g = b.size
    y = np.r_[b, d]
    place = np.r_[np.arange(g), np.arange(g)]
    period = np.r_[np.zeros(g), np.ones(g)]
    x = np.zeros((2 * g, g + 2))
    x[np.arange(2 * g), place] = 1.0
    x[:, g] = period
    x[:, g + 1] = period * np.r_[t, t]
    fit = sm.GLM(y, x, family=sm.families.Poisson()).fit(
        cov_type="cluster",
        cov_kwds={"groups": place, "use_correction": use_correction},
        tol=1e-14,
        maxiter=200,
    )
    low, high = np.exp(fit.conf_int()[-1])
    return float(np.exp(fit.params[-1])), float(fit.bse[-1] ** 2), (low, high), g


# --- rate ratio and interval against statsmodels ---------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_rate_ratio_is_the_poisson_glm_interaction_with_place_and_period_effects(seed: int) -> None:
    rng = np.random.default_rng(seed)
    treated, blocks = blocked_design(rng, 4, 10)
    mean = rng.gamma(2.0, 2.5, treated.size)
    before = nb_counts(rng, mean)
    during = nb_counts(rng, mean * np.where(treated, 0.7, 1.1))
    result = impact_counts(
        before=before, during=during, treated=treated, blocks=blocks, permutations=0, rng=rng
    )
    rr, _, _, _ = glm_oracle(before, during, treated)
    assert result.rate_ratio == pytest.approx(rr, rel=1e-8)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_interval_is_statsmodels_cluster_robust_times_g_over_g_minus_1(seed: int) -> None:
    """var(log RR) = G/(G-1) x statsmodels' cluster sandwich without its correction; with its
    default correction statsmodels also multiplies by (N-1)/(N-K), K counting place dummies."""
    rng = np.random.default_rng(seed)
    treated, blocks = blocked_design(rng, 5, 8)
    mean = rng.gamma(1.5, 3.0, treated.size)
    before = nb_counts(rng, mean)
    during = nb_counts(rng, mean * np.where(treated, 0.8, 1.0))
    during[0] = before[0] = 0.0  # one uninformative place: it must not count as a cluster
    result = impact_counts(
        before=before, during=during, treated=treated, blocks=blocks, permutations=0, rng=rng
    )
    rr, var_raw, (low_raw, high_raw), g = glm_oracle(before, during, treated)
    assert result.clusters == g == int(np.count_nonzero(before + during)) < treated.size
    factor = g / (g - 1)
    assert result.se_log_rate_ratio**2 == pytest.approx(var_raw * factor, rel=1e-8)
    # The same interval as statsmodels' (normal, z = 1.959964) with the variance scaled.
    z = stats.norm.ppf(0.975)
    assert math.log(rr) - z * math.sqrt(var_raw) == pytest.approx(math.log(low_raw), rel=1e-8)
    se = math.sqrt(var_raw * factor)
    assert result.ci95[0] == pytest.approx(rr * math.exp(-z * se), rel=1e-8)
    assert result.ci95[1] == pytest.approx(rr * math.exp(z * se), rel=1e-8)
    assert low_raw > result.ci95[0] and high_raw < result.ci95[1]
    _, var_default, _, _ = glm_oracle(before, during, treated, use_correction=True)
    n_obs, k_params = 2 * g, g + 2
    assert var_default == pytest.approx(
        result.se_log_rate_ratio**2 * (n_obs - 1) / (n_obs - k_params), rel=1e-8
    )


def test_did_and_totals_are_direct_sums() -> None:
    before = [4, 0, 3, 5, 2, 6]
    during = [1, 2, 2, 7, 3, 5]
    treated = [True, True, True, False, False, False]
    r = impact_counts(
        before=before, during=during, treated=treated, permutations=0, rng=np.random.default_rng(0)
    )
    assert (r.treatment_before, r.treatment_during) == (7, 5)
    assert (r.control_before, r.control_during) == (13, 15)
    assert r.did == pytest.approx((5 / 3 - 7 / 3) - (15 / 3 - 13 / 3))
    assert r.rate_ratio == pytest.approx((5 / 7) / (15 / 13))
    assert "interval is too narrow to trust" in r.sentence  # 3 hot spots per arm
    d = r.to_dict()
    assert d["totals"]["treatment"] == {"before": 7.0, "during": 5.0}
    assert d["ci95"] == [pytest.approx(r.ci95[0]), pytest.approx(r.ci95[1])]
    assert d["p_randomization"] is None and d["permutations"] == 0
    assert {"rate_ratio", "ci95", "did", "p_randomization", "permutations", "sentence"} <= set(d)


# --- published worked examples: WDQ and WDD --------------------------------------------------


def test_wdq_on_guerettes_lancashire_example() -> None:
    """Guerette (2009), Analyzing Crime Displacement and Diffusion, POP Center Tool Guide No. 10,
    Appendix D ("MOPPIN up Dodge", Lancashire): target 207 before, 110 after; control 308, 318;
    buffer 178, 157. The guide prints GE = 97, NE = .326 and TNE = 130.5, which we reproduce.

    It prints WDQ = .411, but its own formula (Appendix B; Bowers & Johnson 2003) on its own
    counts gives (157/318 - 178/308) / (110/318 - 207/308) = 0.2582 (hand-worked with exact
    fractions below): the printed .411 is an arithmetic slip in the guide, so the WDQ value here
    is the hand-worked one. Both say the same thing: a diffusion of benefit smaller than the
    direct effect (0 < WDQ < 1).
    """
    from fractions import Fraction as F

    r = wdq(a_before=207, a_after=110, b_before=178, b_after=157, c_before=308, c_after=318)
    assert r.gross_effect == 97
    assert round(r.net_effect, 3) == 0.326
    assert r.total_net_effect == pytest.approx(130.5)
    exact = (F(157, 318) - F(178, 308)) / (F(110, 318) - F(207, 308))
    assert r.wdq == pytest.approx(float(exact), rel=1e-12)
    assert round(r.wdq, 4) == 0.2582
    assert r.success_measure == pytest.approx(float(F(110, 318) - F(207, 308)), rel=1e-12)
    assert r.buffer_measure == pytest.approx(float(F(157, 318) - F(178, 308)), rel=1e-12)
    assert "diffusion of benefit" in r.sentence and "smaller" in r.sentence


def test_wdq_is_not_interpreted_when_the_target_did_not_improve() -> None:
    r = wdq(a_before=10, a_after=12, b_before=5, b_after=5, c_before=10, c_after=10)
    assert r.success_measure > 0 and "not interpreted" in r.sentence
    z = wdq(a_before=10, a_after=5, b_before=5, b_after=5, c_before=0, c_after=10)
    assert math.isnan(z.wdq) and "cannot be computed" in z.sentence


def test_wdd_on_wheeler_and_ratcliffes_worked_example() -> None:
    """Wheeler & Ratcliffe (2018), A simple weighted displacement difference test to evaluate
    place based crime interventions, Crime Science 7:11: control 308 -> 318, treated 207 -> 110,
    control displacement 150 -> 140, treated displacement 178 -> 157 give WDD = -118, variance
    1568 (SE = sqrt(1568) = 39.6), Z = -2.98 and a 95% CI of -196 to -40. These are the paper's
    figures as checked by the "Est & Variance Paper" test of Wheeler's R package ptools
    (tests/testthat/test-wdd.R, which rounds Z to 2 decimals and the CI to integers)."""
    r = wdd(
        t_before=207,
        t_after=110,
        c_before=308,
        c_after=318,
        d_before=178,
        d_after=157,
        cd_before=150,
        cd_after=140,
    )
    assert r.estimate == -118
    assert r.variance == 1568 and r.se == pytest.approx(math.sqrt(1568))
    assert round(r.z, 2) == -2.98
    assert (round(r.ci95[0]), round(r.ci95[1])) == (-196, -40)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(118 / math.sqrt(1568)), rel=1e-9)
    assert "118 fewer" in r.sentence


def test_wdd_without_displacement_areas_matches_ptools_readme() -> None:
    """ptools README: ``wdd(c(20,20), c(20,10))`` (control 20 -> 20, treated 20 -> 10) prints
    a local estimate of -10 with SE 8.366600, Z -1.195229, 90% CI -23.761833 to 3.761833."""
    r = wdd(t_before=20, t_after=10, c_before=20, c_after=20)
    assert (r.estimate, r.local, r.displacement) == (-10, -10, 0)
    assert r.se == pytest.approx(8.366600, abs=1e-6)
    assert r.z == pytest.approx(-1.195229, abs=1e-6)
    z90 = stats.norm.ppf(0.95)
    assert r.estimate - z90 * r.se == pytest.approx(-23.761833, abs=1e-6)
    zero = wdd(t_before=0, t_after=0, c_before=0, c_after=0)
    assert math.isnan(zero.z) and math.isnan(zero.p_value)


# --- randomization inference -----------------------------------------------------------------


TINY_BEFORE = np.array([5, 3, 8, 2, 6, 4, 7, 1], dtype=float)
TINY_DURING = np.array([1, 2, 3, 2, 6, 5, 9, 2], dtype=float)
TINY_TREATED = np.array([True, True, False, False, True, False, True, False])
TINY_BLOCKS = np.array(["a", "a", "a", "a", "b", "b", "b", "b"])


def _log_rr_by_hand(before: list[float], during: list[float], treated: list[bool]) -> float:
    """log RR with plain Python sums; +0.5 on all four totals when one is zero."""
    tb = sum(b for b, t in zip(before, treated, strict=True) if t)
    td = sum(d for d, t in zip(during, treated, strict=True) if t)
    cb = sum(b for b, t in zip(before, treated, strict=True) if not t)
    cd = sum(d for d, t in zip(during, treated, strict=True) if not t)
    if min(tb, td, cb, cd) == 0:
        tb, td, cb, cd = tb + 0.5, td + 0.5, cb + 0.5, cd + 0.5
    return math.log(td / tb) - math.log(cd / cb)


def test_randomization_p_is_within_sampling_error_of_the_exact_permutation_p() -> None:
    """8 places in 2 blocks of 4, 2 treated per block: C(4,2)^2 = 36 assignments, enumerated."""
    before, during = TINY_BEFORE.tolist(), TINY_DURING.tolist()
    observed = abs(_log_rr_by_hand(before, during, TINY_TREATED.tolist()))
    assignments = []
    for a in itertools.combinations(range(4), 2):
        for b in itertools.combinations(range(4, 8), 2):
            assignments.append([i in a or i in b for i in range(8)])
    assert len(assignments) == 36
    extreme = sum(
        abs(_log_rr_by_hand(before, during, t)) >= observed - TIE_TOLERANCE for t in assignments
    )
    exact = extreme / 36
    assert 0 < exact < 1  # the example is not degenerate (it is 8/36 with these counts)

    n = 20_000
    r = impact_counts(
        before=TINY_BEFORE,
        during=TINY_DURING,
        treated=TINY_TREATED,
        blocks=TINY_BLOCKS,
        permutations=n,
        rng=np.random.default_rng(2024),
    )
    se = math.sqrt(exact * (1 - exact) / n)
    # 4.5 standard errors: a correct implementation fails with probability ~1e-5.
    assert abs(r.p_randomization - exact) < 4.5 * se + 1 / n
    assert r.p_randomization == (r.hits + 1) / (n + 1)


def test_hits_equal_a_plain_loop_over_the_same_draws() -> None:
    n = 3_000
    r = impact_counts(
        before=TINY_BEFORE,
        during=TINY_DURING,
        treated=TINY_TREATED,
        blocks=TINY_BLOCKS,
        permutations=n,
        rng=np.random.default_rng(77),
    )
    draws = np.concatenate(
        list(
            permutation_assignments(
                treated=TINY_TREATED, blocks=TINY_BLOCKS, draws=n, rng=np.random.default_rng(77)
            )
        )
    )
    assert draws.shape == (n, 8)
    before, during = TINY_BEFORE.tolist(), TINY_DURING.tolist()
    observed = abs(_log_rr_by_hand(before, during, TINY_TREATED.tolist()))
    hits = 0
    for row in draws.tolist():
        assert sum(row[:4]) == 2 and sum(row[4:]) == 2  # each block keeps 2 treated
        if abs(_log_rr_by_hand(before, during, row)) >= observed - TIE_TOLERANCE:
            hits += 1
    assert r.hits == hits
    assert r.p_randomization == (hits + 1) / (n + 1)


def test_draws_are_uniform_over_the_designs_assignments() -> None:
    n = 36_000
    draws = np.concatenate(
        list(
            permutation_assignments(
                treated=TINY_TREATED, blocks=TINY_BLOCKS, draws=n, rng=np.random.default_rng(5)
            )
        )
    )
    counts = Counter(map(tuple, draws.tolist()))
    assert len(counts) == 36
    chi2 = sum((c - n / 36) ** 2 / (n / 36) for c in counts.values())
    # chi-square with 35 df: P(> 75) ~ 1e-4 for a uniform draw.
    assert chi2 < 75


def test_pairs_are_swapped_within_each_pair() -> None:
    treated = np.array([True, False, False, True, True, False])
    blocks = np.array(["pair 1", "pair 1", "pair 2", "pair 2", "pair 3", "pair 3"])
    draws = np.concatenate(
        list(
            permutation_assignments(
                treated=treated, blocks=blocks, draws=4000, rng=np.random.default_rng(9)
            )
        )
    )
    assert np.all(draws[:, 0] != draws[:, 1]) and np.all(draws[:, 2] != draws[:, 3])
    # each pair's orientation is a fair coin: |share - 0.5| < 0.04 fails with p ~ 4e-7.
    assert np.all(np.abs(draws[:, [0, 2, 4]].mean(axis=0) - 0.5) < 0.04)


def test_chunked_draws_give_the_requested_number_of_rows() -> None:
    chunks = list(
        permutation_assignments(
            treated=TINY_TREATED,
            blocks=TINY_BLOCKS,
            draws=1001,
            rng=np.random.default_rng(1),
            chunk_elements=800,
        )
    )
    assert [c.shape[0] for c in chunks] == [100] * 10 + [1]


# --- simulation: coverage and size under over-dispersion -------------------------------------


def _simulate(rate_ratio: float, seed: int, experiments: int = 100) -> tuple[int, int]:
    """(CI covers the truth, p < 0.05) counts over simulated blocked experiments: 100 places in
    10 blocks of 10, half treated per block, place means ~ Gamma(2, scale 4) per window, a
    common 10% rise from before to during, negative binomial counts with size 2."""
    rng = np.random.default_rng(seed)
    covered = significant = 0
    for _ in range(experiments):
        treated, blocks = blocked_design(rng, 10, 10)
        mean = rng.gamma(2.0, 4.0, treated.size)
        before = nb_counts(rng, mean)
        during = nb_counts(rng, mean * 1.1 * np.where(treated, rate_ratio, 1.0))
        r = impact_counts(
            before=before,
            during=during,
            treated=treated,
            blocks=blocks,
            permutations=2_000,
            rng=rng,
        )
        covered += r.ci95[0] <= rate_ratio <= r.ci95[1]
        significant += r.p_randomization < 0.05
    return covered, significant


def test_interval_covers_a_true_rate_ratio_of_0_8_under_overdispersion() -> None:
    covered, _ = _simulate(0.8, seed=20260101)
    print(f"95% CI covered the true rate ratio 0.8 in {covered} of 100 simulated experiments")
    # Binomial(100, 0.95): P(< 90) ~ 0.03 for a correct interval under an arbitrary seed.
    assert covered >= 90


def test_randomization_p_has_the_right_size_with_no_effect() -> None:
    _, significant = _simulate(1.0, seed=20260102)
    print(f"randomization p < 0.05 in {significant} of 100 simulated null experiments")
    # Binomial(100, 0.05): P(outside 2..9) ~ 0.09 under an arbitrary seed.
    assert 2 <= significant <= 9


# --- edge cases -------------------------------------------------------------------------------


def test_sentence_names_rare_chance_draws_by_count() -> None:
    rng = np.random.default_rng(8)
    treated, blocks = blocked_design(rng, 10, 20)
    mean = rng.gamma(2.0, 4.0, treated.size)
    before = nb_counts(rng, mean)
    during = nb_counts(rng, mean * np.where(treated, 0.4, 1.0))
    r = impact_counts(
        before=before, during=during, treated=treated, blocks=blocks, permutations=2000, rng=rng
    )
    assert r.hits == 0 and "by chance in none of 2,000 re-randomizations." in r.sentence


def test_zero_total_uses_haldane_on_all_four_totals_and_poisson_variance_floor() -> None:
    before = [3, 2, 4, 1, 5, 2]
    during = [0, 0, 0, 2, 3, 1]
    treated = [True, True, True, False, False, False]
    r = impact_counts(
        before=before,
        during=during,
        treated=treated,
        permutations=200,
        rng=np.random.default_rng(1),
    )
    assert r.haldane
    assert r.rate_ratio == pytest.approx((0.5 / 9.5) / (6.5 / 8.5))
    woolf = 1 / 9.5 + 1 / 0.5 + 1 / 8.5 + 1 / 6.5
    assert r.se_log_rate_ratio == pytest.approx(math.sqrt(woolf))
    assert r.ci95[0] < r.rate_ratio < r.ci95[1]
    assert 0 < r.p_randomization <= 1 and "fell" in r.sentence


def test_no_incidents_at_all_says_there_is_nothing_to_compare() -> None:
    r = impact_counts(
        before=[0, 0, 0, 0],
        during=[0, 0, 0, 0],
        treated=[True, False, True, False],
        permutations=50,
        rng=np.random.default_rng(1),
    )
    assert math.isnan(r.rate_ratio) and r.to_dict()["rate_ratio"] is None
    assert r.to_dict()["ci95"] == [None, None]
    assert "nothing to compare" in r.sentence


def test_interval_needs_two_informative_places_per_arm() -> None:
    r = impact_counts(
        before=[5, 0, 4, 6],
        during=[2, 0, 3, 7],
        treated=[True, True, False, False],
        permutations=0,
        rng=np.random.default_rng(1),
    )
    assert math.isfinite(r.rate_ratio) and math.isnan(r.ci95[0])
    assert "too few hot spots" in r.sentence


def test_a_block_with_all_places_in_one_arm_is_refused() -> None:
    with pytest.raises(ValueError, match=r"block .b. has all of its 2 place\(s\) in the treatment"):
        impact_counts(
            before=[1, 2, 3, 4, 5, 6],
            during=[1, 2, 3, 4, 5, 6],
            treated=[True, False, False, True, True, True],
            blocks=["a", "a", "a", "a", "b", "b"],
            rng=np.random.default_rng(1),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"before": [1, 2, 3], "during": [1, 2], "treated": [True, False]}, "during must have"),
        ({"before": [1, 2], "during": [1, 2], "treated": [True, False, True]}, "treated must"),
        ({"before": [1, -2], "during": [1, 2], "treated": [True, False]}, "before must be >= 0"),
        ({"before": [1, 2], "during": [1, math.nan], "treated": [True, False]}, "finite"),
        ({"before": [1, 2], "during": [1, 2], "treated": [2, 0]}, "bool"),
        (
            {"before": [1, 2], "during": [1, 2], "treated": [True, False], "blocks": ["a"]},
            "blocks must have",
        ),
        (
            {"before": [1, 2], "during": [1, 2], "treated": [True, False], "permutations": -1},
            "permutations",
        ),
    ],
)
def test_bad_inputs_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        impact_counts(rng=np.random.default_rng(0), **kwargs)  # type: ignore[arg-type]


def test_sentence_reads_as_the_lead_asked() -> None:
    rng = np.random.default_rng(8)
    treated, blocks = blocked_design(rng, 10, 20)
    mean = rng.gamma(2.0, 4.0, treated.size)
    before = nb_counts(rng, mean)
    during = nb_counts(rng, mean * np.where(treated, 0.75, 1.0))
    r = impact_counts(
        before=before, during=during, treated=treated, blocks=blocks, rng=rng, outcome="Harm"
    )
    pct = round(100 * (1 - r.rate_ratio))
    assert r.sentence.startswith(f"Harm in treated hot spots fell {pct}% relative to control")
    assert f"(rate ratio {r.rate_ratio:.2f}, 95% CI {r.ci95[0]:.2f} to {r.ci95[1]:.2f})" in (
        r.sentence
    )
    assert "of 10,000 re-randomizations." in r.sentence


# --- residual deterrence ----------------------------------------------------------------------


def test_residual_deterrence_hand_worked_example() -> None:
    """Hot spot 1 has incidents at t = 100, 5000 and 90000 s; hot spot 2 at 200 s; data end at
    200000 s; horizon 48 h. By hand, per dwell bin:

    * 0-5 min: visits ending at 50 s (3 min) and 100 s (4 min) in hot spot 1; next incidents
      strictly after their ends at 100 and 5000 s: events at 50 and 4900 s. KM: S = 1/2 after
      50 s, 0 after 4900 s -> median 50 s; S(24 h) = 0.
    * 5-10 min: no visits.
    * 10-16 min: hot spot 1 ending 6000 s -> event at 84000 s (23.33 h); hot spot 2 ending
      300 s -> no later incident, censored at 48 h. KM: S = 1/2 at 84000 s -> median 23.33 h;
      S(24 h) = 0.5.
    * 16+ min: hot spot 3 (no incidents) ending 1000 s, censored at 48 h; hot spot 2 ending
      190000 s, censored at the data end (10000 s). No events: median None, S(24 h) = 1.
    """
    bins = residual_deterrence(
        visit_hotspot=[1, 1, 1, 2, 3, 2],
        visit_end_s=[50, 100, 6000, 300, 1000, 190_000],
        visit_dwell_s=[180, 240, 720, 720, 1200, 1800],
        incident_hotspot=[1, 1, 1, 2],
        incident_t_s=[100, 5000, 90_000, 200],
        horizon_s=48 * HOUR,
        data_end_s=200_000,
    )
    got = [(b.label, b.visits, b.incidents, b.median_hours, b.incident_free_24h) for b in bins]
    assert got == [
        ("0-5 min", 2, 2, pytest.approx(50 / HOUR), 0.0),
        ("5-10 min", 0, 0, None, None),
        ("10-16 min", 2, 1, pytest.approx(84_000 / HOUR), 0.5),
        ("16+ min", 2, 0, None, 1.0),
    ]


def test_residual_deterrence_matches_a_brute_force_loop_and_statsmodels_km() -> None:
    rng = np.random.default_rng(31)
    n_vis, n_inc = 400, 600
    v_hs = rng.integers(1, 21, n_vis)
    v_end = rng.uniform(0, 60 * DAY, n_vis)
    v_dwell = rng.uniform(30, 30 * 60, n_vis)
    i_hs = rng.integers(1, 26, n_inc)
    i_t = rng.uniform(0, 62 * DAY, n_inc)
    horizon, data_end = 7 * DAY, 61 * DAY
    edges = (0, 5, 10, 16, math.inf)
    bins = residual_deterrence(
        visit_hotspot=v_hs,
        visit_end_s=v_end,
        visit_dwell_s=v_dwell,
        incident_hotspot=i_hs,
        incident_t_s=i_t,
        horizon_s=horizon,
        edges_min=edges,
        data_end_s=data_end,
    )
    per_bin: list[tuple[list[float], list[bool]]] = [([], []) for _ in bins]
    for h, end, dwell in zip(v_hs.tolist(), v_end.tolist(), v_dwell.tolist(), strict=True):
        later = [
            t for hh, t in zip(i_hs.tolist(), i_t.tolist(), strict=True) if hh == h and t > end
        ]
        follow = max(0.0, min(horizon, data_end - end))
        gap = min(later) - end if later else math.inf
        k = next(i for i in range(len(edges) - 1) if edges[i] <= dwell / 60 < edges[i + 1])
        per_bin[k][0].append(gap if gap <= follow else follow)
        per_bin[k][1].append(gap <= follow)
    for b, (times, events) in zip(bins, per_bin, strict=True):
        assert b.visits == len(times) and b.incidents == sum(events)
        sf = SurvfuncRight(np.array(times), np.array(events, dtype=float))
        km_t, km_s = kaplan_meier(times, events)
        ev = sf.n_events > 0
        assert np.allclose(km_t, sf.surv_times[ev]) and np.allclose(km_s, sf.surv_prob[ev])
        if not np.any(np.isclose(km_s, 0.5)):  # statsmodels uses S < 0.5, we use S <= 0.5
            median = sf.quantile(0.5)
            assert (b.median_hours is None) == bool(np.isnan(median))
            if b.median_hours is not None:
                assert b.median_hours == pytest.approx(median / HOUR)
        k = np.searchsorted(sf.surv_times, DAY, side="right")
        assert b.incident_free_24h == pytest.approx(sf.surv_prob[k - 1] if k else 1.0)


def test_residual_deterrence_rejects_bad_edges_and_lengths() -> None:
    with pytest.raises(ValueError, match="edges_min"):
        residual_deterrence(
            visit_hotspot=[1],
            visit_end_s=[0],
            visit_dwell_s=[60],
            incident_hotspot=[],
            incident_t_s=[],
            horizon_s=DAY,
            edges_min=(0, 10, 5),
        )
    with pytest.raises(ValueError, match="same length"):
        residual_deterrence(
            visit_hotspot=[1, 2],
            visit_end_s=[0],
            visit_dwell_s=[60],
            incident_hotspot=[],
            incident_t_s=[],
            horizon_s=DAY,
        )


# --- place-day designs ------------------------------------------------------------------------


def placeday_design(
    rng: np.random.Generator, n_days: int, n_blocks: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Every day, half of each block treated at random: (treated (days, places), labels)."""
    treated = np.zeros((n_days, n_blocks * block_size), dtype=bool)
    for d in range(n_days):
        for k in range(n_blocks):
            treated[d, k * block_size + rng.permutation(block_size)[: block_size // 2]] = True
    return treated, np.repeat([f"b{k}" for k in range(n_blocks)], block_size)


def glm_placeday_oracle(y: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """statsmodels Poisson GLM with place dummies and the treated indicator over place-days,
    clustered by place without its small-sample correction: (rate ratio, var of its log)."""
    keep = np.flatnonzero(y.sum(axis=0) > 0)
    n_days = y.shape[0]
    yy = y[:, keep].T.ravel()
    tt = treated[:, keep].T.ravel().astype(float)
    place = np.repeat(np.arange(keep.size), n_days)
    x = np.zeros((yy.size, keep.size + 1))
    x[np.arange(yy.size), place] = 1.0
    x[:, -1] = tt
    fit = sm.GLM(yy, x, family=sm.families.Poisson()).fit(
        cov_type="cluster",
        cov_kwds={"groups": place, "use_correction": False},
        tol=1e-14,
        maxiter=300,
    )
    return float(np.exp(fit.params[-1])), float(fit.bse[-1] ** 2)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_placeday_rate_ratio_and_interval_match_the_glm_with_place_effects(seed: int) -> None:
    rng = np.random.default_rng(seed)
    treated, blocks = placeday_design(rng, 20, 3, 6)
    mean = rng.gamma(2.0, 0.4, treated.shape[1])
    y = nb_counts(rng, mean[None, :] * np.where(treated, 0.75, 1.0))
    r = impact_placeday(counts=y, treated=treated, blocks=blocks, permutations=0, rng=rng)
    rr, var_raw = glm_placeday_oracle(y, treated)
    g = r.clusters
    assert g == int(np.count_nonzero(y.sum(axis=0)))
    assert r.rate_ratio == pytest.approx(rr, rel=1e-8)
    assert r.se_log_rate_ratio**2 == pytest.approx(var_raw * g / (g - 1), rel=1e-8)
    assert r.treated_place_days == int(treated.sum()) and r.n_days == 20
    assert r.sentence.startswith("Crime on treated place-days")


def _fe_log_rr_by_bisection(y: list[list[float]], treated: list[list[bool]]) -> float:
    """Plain-Python root of the conditional score with place effects, by bisection."""
    n_days, n_places = len(y), len(y[0])
    rows = []
    for i in range(n_places):
        k = sum(treated[d][i] for d in range(n_days))
        n = sum(y[d][i] for d in range(n_days))
        y_t = sum(y[d][i] for d in range(n_days) if treated[d][i])
        if n > 0 and 0 < k < n_days:
            rows.append((k, n_days - k, n, y_t))

    def score(b: float) -> float:
        return sum(yt - n * k * math.exp(b) / (k * math.exp(b) + m) for k, m, n, yt in rows)

    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if score(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


def test_placeday_hits_equal_a_plain_loop_over_the_same_draws() -> None:
    rng = np.random.default_rng(3)
    treated, blocks = placeday_design(rng, 6, 2, 4)
    y = rng.poisson(1.5, treated.shape).astype(float)
    n = 300
    r = impact_placeday(
        counts=y, treated=treated, blocks=blocks, permutations=n, rng=np.random.default_rng(41)
    )
    draws = np.concatenate(
        list(
            placeday_assignments(
                treated=treated, blocks=blocks, draws=n, rng=np.random.default_rng(41)
            )
        )
    )
    assert draws.shape == (n, 6, 8)
    observed = abs(_fe_log_rr_by_bisection(y.tolist(), treated.tolist()))
    assert math.log(r.rate_ratio) == pytest.approx(
        _fe_log_rr_by_bisection(y.tolist(), treated.tolist()), abs=1e-9
    )
    hits = 0
    for draw in draws:
        # each (day, block) keeps its number of treated places
        assert np.array_equal(draw[:, :4].sum(axis=1), treated[:, :4].sum(axis=1))
        assert np.array_equal(draw[:, 4:].sum(axis=1), treated[:, 4:].sum(axis=1))
        if abs(_fe_log_rr_by_bisection(y.tolist(), draw.tolist())) >= observed - 1e-9:
            hits += 1
    assert r.hits == hits and r.p_randomization == (hits + 1) / (n + 1)


def test_placeday_draws_are_uniform_within_each_day() -> None:
    treated = np.array([[True, True, False, False, True, False]])
    blocks = ["a", "a", "a", "a", "b", "b"]
    n = 24_000
    draws = np.concatenate(
        list(
            placeday_assignments(
                treated=treated, blocks=blocks, draws=n, rng=np.random.default_rng(8)
            )
        )
    )[:, 0, :]
    counts = Counter(map(tuple, draws.tolist()))
    assert len(counts) == 6 * 2  # C(4,2) x C(2,1)
    chi2 = sum((c - n / 12) ** 2 / (n / 12) for c in counts.values())
    assert chi2 < 40  # chi-square with 11 df: P(> 40) ~ 3e-5 for a uniform draw


def test_placeday_randomization_p_has_the_right_size_with_no_effect() -> None:
    rng = np.random.default_rng(20260103)
    significant = 0
    for _ in range(100):
        treated, blocks = placeday_design(rng, 14, 2, 6)
        mean = rng.gamma(2.0, 0.3, treated.shape[1])
        y = nb_counts(rng, np.broadcast_to(mean, treated.shape))
        r = impact_placeday(counts=y, treated=treated, blocks=blocks, permutations=500, rng=rng)
        significant += r.p_randomization < 0.05
    print(f"place-day randomization p < 0.05 in {significant} of 100 simulated null experiments")
    # Binomial(100, 0.05): P(outside 1..10) ~ 0.03 under an arbitrary seed.
    assert 1 <= significant <= 10


def test_placeday_rejects_bad_shapes_and_one_arm() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="shape"):
        impact_placeday(counts=np.zeros((3, 4)), treated=np.zeros((3, 5), bool), rng=rng)
    with pytest.raises(ValueError, match="one arm"):
        impact_placeday(counts=np.ones((3, 4)), treated=np.ones((3, 4), bool), rng=rng)
    with pytest.raises(ValueError, match=">= 0"):
        impact_placeday(counts=-np.ones((1, 2)), treated=np.array([[True, False]]), rng=rng)
    none = impact_placeday(
        counts=np.zeros((2, 2)), treated=np.array([[True, False]] * 2), permutations=10, rng=rng
    )
    assert math.isnan(none.rate_ratio) and "nothing to compare" in none.sentence
    fixed = impact_placeday(
        counts=np.ones((2, 2)), treated=np.array([[True, False]] * 2), permutations=10, rng=rng
    )
    assert math.isnan(fixed.rate_ratio) and math.isnan(fixed.p_randomization)
    assert "both treated and control days" in fixed.sentence
