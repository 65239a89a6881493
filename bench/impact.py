"""Benchmark the impact statistics on a 200-place blocked experiment (20 blocks of 10).

Run: ``python bench/impact.py [--places 200] [--block 10] [--permutations 10000]
[--seed 20260101] [--repeat 5]``.
Place means are Gamma(2, scale 4) per window, counts negative binomial (size 2), a true rate
ratio of 0.8 in treated places. Prints one row per workload (best of ``--repeat``):
``impact_counts`` end to end (rate ratio, cluster-robust CI, DiD and the randomization p from
``--permutations`` re-randomizations within blocks), the draws alone, a place-day design of
20 hot spots over 180 days (Essex-like), the displacement tests and residual deterrence; then
the peer: the same rate ratio and cluster-robust CI from a statsmodels Poisson GLM with place
and period dummies (no randomization p), with the gap between the two answers.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from backend.analytics.impact import (
    impact_counts,
    impact_placeday,
    permutation_assignments,
    residual_deterrence,
    wdd,
    wdq,
)
from bench.hotspots import best_of

DAY_S = 86_400.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--places", type=int, default=200)
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--permutations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    n, perms = args.places, args.permutations
    blocks = np.repeat(np.arange(n // args.block), args.block)[:n].astype(str)
    treated = np.zeros(n, dtype=bool)
    for label in np.unique(blocks):
        members = np.flatnonzero(blocks == label)
        treated[rng.permutation(members)[: members.size // 2]] = True
    mean = rng.gamma(2.0, 4.0, n)
    before = rng.negative_binomial(2, 2 / (2 + mean)).astype(float)
    during = rng.negative_binomial(2, 2 / (2 + mean * np.where(treated, 0.8, 1.0))).astype(float)

    rows: list[tuple[str, str, float, str]] = []

    def add(stage: str, workload: str, seconds: float, rate: str) -> None:
        rows.append((stage, workload, seconds, rate))

    cells = perms * n
    t, result = best_of(
        args.repeat,
        lambda: impact_counts(
            before=before,
            during=during,
            treated=treated,
            blocks=blocks,
            permutations=perms,
            rng=np.random.default_rng(1),
        ),
    )
    add("impact_counts", f"{perms:,} x {n} places", t, f"{cells / t / 1e6:,.1f} M cells/s")
    t, _ = best_of(
        args.repeat,
        lambda: sum(
            c.shape[0]
            for c in permutation_assignments(
                treated=treated, blocks=blocks, draws=perms, rng=np.random.default_rng(1)
            )
        ),
    )
    add(
        "  draws alone (argsort)", f"{perms:,} x {n} places", t, f"{cells / t / 1e6:,.1f} M cells/s"
    )
    t, _ = best_of(
        args.repeat,
        lambda: impact_counts(
            before=before,
            during=during,
            treated=treated,
            blocks=blocks,
            permutations=0,
            rng=np.random.default_rng(1),
        ),
    )
    add("  rate ratio + CI only", f"{n} places", t, f"{n / t / 1e3:,.1f} k places/s")
    pd_days, pd_places, pd_perms = 180, 20, perms  # Essex: 20 hot spots, daily, half a year
    pd_treated = np.zeros((pd_days, pd_places), dtype=bool)
    for d in range(pd_days):
        pd_treated[d, rng.permutation(pd_places)[: pd_places // 2]] = True
    pd_counts = rng.poisson(0.3 * np.where(pd_treated, 0.8, 1.0)).astype(float)
    t, pd_result = best_of(
        max(1, args.repeat // 2),
        lambda: impact_placeday(
            counts=pd_counts,
            treated=pd_treated,
            permutations=pd_perms,
            rng=np.random.default_rng(1),
        ),
    )
    pd_cells = pd_perms * pd_days * pd_places
    add(
        "impact_placeday",
        f"{pd_perms:,} x {pd_days} d x {pd_places}",
        t,
        f"{pd_cells / t / 1e6:,.1f} M cells/s",
    )
    t, _ = best_of(
        args.repeat,
        lambda: (
            wdq(a_before=207, a_after=110, b_before=178, b_after=157, c_before=308, c_after=318),
            wdd(t_before=207, t_after=110, c_before=308, c_after=318),
        ),
    )
    add("wdq + wdd", "1 pair", t, f"{1 / t / 1e3:,.1f} k/s")
    n_vis, n_inc = 20_000, 50_000
    v_hs = rng.integers(0, n, n_vis)
    v_end = rng.uniform(0, 90 * DAY_S, n_vis)
    v_dwell = rng.uniform(60, 1800, n_vis)
    i_hs = rng.integers(0, n, n_inc)
    i_t = rng.uniform(0, 90 * DAY_S, n_inc)
    t, _ = best_of(
        args.repeat,
        lambda: residual_deterrence(
            visit_hotspot=v_hs,
            visit_end_s=v_end,
            visit_dwell_s=v_dwell,
            incident_hotspot=i_hs,
            incident_t_s=i_t,
            horizon_s=7 * DAY_S,
        ),
    )
    add("residual_deterrence", f"{n_vis:,} visits", t, f"{n_vis / t / 1e6:,.2f} M visits/s")
    rows.append(("", "", float("nan"), ""))

    import statsmodels.api as sm  # peer only; not a dependency of backend/analytics

    def peer() -> tuple[float, float]:
        keep = (before + during) > 0
        b, d, tr = before[keep], during[keep], treated[keep]
        g = b.size
        place = np.r_[np.arange(g), np.arange(g)]
        x = np.zeros((2 * g, g + 2))
        x[np.arange(2 * g), place] = 1.0
        x[g:, g] = 1.0
        x[g:, g + 1] = tr
        fit = sm.GLM(np.r_[b, d], x, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": place, "use_correction": False}
        )
        return float(fit.params[-1]), float(fit.bse[-1]) * math.sqrt(g / (g - 1))

    t, (beta, se) = best_of(args.repeat, peer)
    add("peer: statsmodels GLM (RR+CI)", f"{n} places", t, f"{n / t / 1e3:,.1f} k places/s")

    print(
        f"{n} places in blocks of {args.block}, {perms:,} re-randomizations, best of "
        f"{args.repeat}, numpy {np.__version__}, statsmodels {sm.__version__}\n"
    )
    print(f"{'stage':<32} {'workload':>22} {'time':>10} {'rate':>20}")
    print("-" * 87)
    for stage, workload, seconds, rate in rows:
        if not stage:
            print("-" * 87)
            continue
        print(f"{stage:<32} {workload:>22} {seconds * 1e3:>8.2f}ms {rate:>20}")
    print()
    print(result.sentence)
    print(pd_result.sentence)
    print(
        f"|log RR - GLM beta| = {abs(result.log_rate_ratio - beta):.1e}; "
        f"|se - GLM cluster se * sqrt(G/(G-1))| = {abs(result.se_log_rate_ratio - se):.1e}"
    )


if __name__ == "__main__":
    main()
