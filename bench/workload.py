"""Unit-hours of a year of CAD calls into the 24x7 matrix: the vectorized arithmetic against a
plain Python loop that splits each call hour by hour (the peer, measured in the same run).

Run: ``python bench/workload.py [--calls 500000] [--days 365] [--peer 50000]``.

Synthetic calls: en-route times uniform over ``--days`` local days (America/New_York, so two
clock changes are crossed), busy times exponential with a 40-minute mean (capped at 6 h), 10%
self-initiated. Prints the workload size, the seconds and the rate of each path, and the largest
difference between the two matrices on the calls the peer ran (it must be ~0).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.analytics import workload as wl  # noqa: E402

TZ = ZoneInfo("America/New_York")


def peer(start: np.ndarray, end: np.ndarray, selfi: np.ndarray, bins: wl.HourBins) -> np.ndarray:
    """Each call walked hour by hour with datetime arithmetic: the obvious implementation."""
    total = np.zeros((24, 7))
    lo, hi = int(bins.edges_s[0]), int(bins.edges_s[-1])
    for s, e, x in zip(start.tolist(), end.tolist(), selfi.tolist(), strict=True):
        if x:
            continue
        t = max(s, lo)
        e = min(e, hi)
        while t < e:
            local = datetime.fromtimestamp(t, tz=UTC).astimezone(TZ)
            nxt_local = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            nxt = min(int(nxt_local.timestamp()), e)
            if nxt <= t:  # the repeated autumn hour: step one hour of elapsed time
                nxt = min(t + 3600 - t % 3600, e)
            total[local.hour, local.weekday()] += nxt - t
            t = nxt
    days = bins.days_per_weekday.astype(float)
    return total / 3600.0 / days


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--peer", type=int, default=50_000, help="calls the Python loop runs")
    args = parser.parse_args()
    rng = np.random.default_rng(2006)
    first = date(2025, 1, 6)
    last = first + timedelta(days=args.days - 1)
    t0 = int(datetime(first.year, first.month, first.day, tzinfo=TZ).timestamp())
    span = args.days * 86_400
    start = t0 + rng.integers(0, span, args.calls)
    end = start + np.minimum(rng.exponential(2400, args.calls), 6 * 3600).astype(np.int64)
    selfi = rng.random(args.calls) < 0.1

    tic = time.perf_counter()
    bins = wl.local_hour_bins(first, last, TZ)
    bins_s = time.perf_counter() - tic
    tic = time.perf_counter()
    fast = wl.cfs_hours_matrix(start, end, selfi, bins)
    fast_s = time.perf_counter() - tic

    n = min(args.peer, args.calls)
    tic = time.perf_counter()
    slow = peer(start[:n], end[:n], selfi[:n], bins)
    slow_s = time.perf_counter() - tic
    check = wl.cfs_hours_matrix(start[:n], end[:n], selfi[:n], bins)

    print(
        f"workload: {args.calls:,} unit responses over {args.days} days "
        f"({bins.hour.size:,} local hour bins, built in {bins_s:.3f} s)"
    )
    print(f"{'path':<34}{'calls':>10}{'seconds':>10}{'calls/s':>14}")
    print(
        f"{'analytics.workload (numpy)':<34}{args.calls:>10,}{fast_s:>10.3f}"
        f"{args.calls / fast_s:>14,.0f}"
    )
    print(f"{'Python loop, hour by hour (peer)':<34}{n:>10,}{slow_s:>10.3f}{n / slow_s:>14,.0f}")
    print(
        f"largest difference on the peer's {n:,} calls: {np.abs(slow - check).max():.2e} h; "
        f"matrix total {float(fast.sum()):,.1f} unit-hours per week"
    )


if __name__ == "__main__":
    main()
