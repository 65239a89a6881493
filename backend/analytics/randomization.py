"""Randomized designs, Koper patrol schedules, the next-hot-spot draw, power and balance.

Designs (``Experiment.design``):

* ``blocked``: fixed arms; within each block (e.g. ``"district|tier"``) a random half of the
  hot spots is treated (``blocked_allocation``, with ``harm_tiers`` and ``block_labels``).
* ``paired``: fixed arms; hot spots sorted by rank are paired 1-2, 3-4, ... and one of each pair
  is treated, as in Sacramento 2011 (``paired_allocation``).
* ``placeday``: every hot spot is re-randomized every day, half treated per day (and per block
  when blocks are given), as in Essex/Southend 2019 (``placeday_allocation``).

Reproducibility. The caller draws a seed from ``secrets`` (``new_seed``), stores it, and builds
the generator with ``generator(seed)``, i.e. ``np.random.default_rng(seed)`` (PCG64). Given the
same seed and the same inputs, every function here returns the identical result. The result
does not depend on the order of the inputs either: hot spots are sorted by id (and blocks by
label, officers by id) before any random number is drawn, and results come back in the caller's
order. All randomness comes from ``Generator.random`` (uniform doubles, the simplest and most
stable of numpy's conversions), so an auditor can re-derive an allocation from the seed with the
algorithm written in each docstring; a random order is ``argsort`` of fresh uniforms, a fair coin
is ``u < 0.5``, a random integer in ``[0, k)`` is ``floor(u * k)``. The stored allocation rows
remain the record of what was run.

Arrays are numpy; ids are int64 (database primary keys); times are seconds (e.g. Unix time)
with whole-minute offsets inside a shift; days are ``datetime.date``. No global random state.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SEED_BITS = 63  # Experiment.seed is a signed 64-bit column: 63 random bits always fit.
OVERALL = "(all)"  # ``BalanceTable.overall.block``
UNPAIRED = "unpaired"  # block label of the odd last hot spot of a paired design


# ---------------------------------------------------------------------------------------------
# Seeds


def new_seed() -> int:
    """A fresh seed from ``secrets`` (OS entropy): a non-negative int below ``2**63``."""
    return secrets.randbits(SEED_BITS)


def generator(seed: int) -> np.random.Generator:
    """The generator for a stored seed: ``np.random.default_rng(seed)`` (PCG64).

    ``seed`` must be a non-negative int (``new_seed`` gives one). Build a new generator from the
    seed for each allocation you want to reproduce: a generator is consumed as it draws.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


def _uniform_order(rng: np.random.Generator, n: int) -> IntArray:
    """A uniformly random permutation of ``range(n)``: argsort of ``n`` fresh uniforms."""
    return np.argsort(rng.random(n), kind="stable").astype(np.int64)


def _coin(rng: np.random.Generator) -> bool:
    """A fair coin from one uniform: True when ``u < 0.5``."""
    return bool(rng.random() < 0.5)


def _random_index(rng: np.random.Generator, k: int) -> int:
    """A uniform integer in ``[0, k)`` from one uniform: ``floor(u * k)``."""
    return min(int(rng.random() * k), k - 1)


def _as_ids(hotspot_ids: npt.ArrayLike, name: str = "hotspot_ids") -> IntArray:
    ids = np.asarray(hotspot_ids, dtype=np.int64).reshape(-1)
    if np.unique(ids).size != ids.size:
        raise ValueError(f"{name} must be unique")
    return ids


def _as_labels(labels: Sequence[str], n: int, name: str) -> tuple[str, ...]:
    out = tuple(str(label) for label in labels)
    if len(out) != n:
        raise ValueError(f"{name} must have one label per hot spot ({n}), got {len(out)}")
    return out


# ---------------------------------------------------------------------------------------------
# Fixed arms: blocked and paired


@dataclass(frozen=True, eq=False)
class Allocation:
    """A fixed-arm allocation, in the caller's hot spot order. Arrays are read-only.

    Attributes:
        hotspot_ids: int64 shaped (n,).
        treated: bool shaped (n,): True = treatment arm, False = control.
        blocks: n labels: the block of each hot spot (``"pair 3"`` or ``"unpaired"`` in a
            paired design), for ``Allocation.block`` rows and ``balance_table``.
    """

    hotspot_ids: IntArray
    treated: BoolArray
    blocks: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class PlaceDayAllocation:
    """A place-day allocation. Arrays are read-only.

    Attributes:
        days: the ``n_days`` days from start to end inclusive, in order.
        hotspot_ids: int64 shaped (n_hotspots,), the caller's order.
        treated: bool shaped (n_days, n_hotspots): ``treated[d, i]`` is hot spot ``i`` on
            ``days[d]``.
        blocks: n_hotspots labels (all ``""`` when no blocks were given).
    """

    days: tuple[date, ...]
    hotspot_ids: IntArray
    treated: BoolArray
    blocks: tuple[str, ...]


def _readonly(*arrays: npt.NDArray[np.generic]) -> None:
    for arr in arrays:
        arr.flags.writeable = False


def _half_per_block(rng: np.random.Generator, ids: IntArray, blocks: tuple[str, ...]) -> BoolArray:
    """One blocked randomization, returned in input order.

    For each block label in sorted order, its ``m`` hot spots sorted by id are put in a random
    order (``m`` uniforms) and the first ``m // 2`` are treated; when ``m`` is odd one more
    uniform decides the middle unit (``u < 0.5``: treated), so every unit is treated with
    probability exactly 1/2 and the arms of a block differ in size by at most one.
    """
    treated = np.zeros(ids.size, dtype=np.bool_)
    label_arr = np.asarray(blocks, dtype=object)
    for label in sorted(set(blocks)):
        members = np.flatnonzero(label_arr == label)
        members = members[np.argsort(ids[members], kind="stable")]
        m = members.size
        order = _uniform_order(rng, m)
        n_treat = m // 2 + (1 if m % 2 and _coin(rng) else 0)
        treated[members[order[:n_treat]]] = True
    return treated


def blocked_allocation(
    rng: np.random.Generator, hotspot_ids: npt.ArrayLike, blocks: Sequence[str]
) -> Allocation:
    """Fixed arms blocked by label: a random half of each block treated.

    ``hotspot_ids``: unique ints shaped (n,); ``blocks``: n labels, e.g. from ``block_labels``
    (one label for all gives simple balanced randomization). Algorithm: see ``_half_per_block``
    (blocks in sorted label order, hot spots by id within a block), so the allocation of each
    hot spot does not depend on the input order. In a block of odd size the extra unit's arm is
    itself random: each hot spot is treated with probability 1/2.
    """
    ids = _as_ids(hotspot_ids)
    labels = _as_labels(blocks, ids.size, "blocks")
    treated = _half_per_block(rng, ids, labels)
    ids = ids.copy()
    _readonly(ids, treated)
    return Allocation(hotspot_ids=ids, treated=treated, blocks=labels)


def paired_allocation(
    rng: np.random.Generator, hotspot_ids: npt.ArrayLike, ranks: npt.ArrayLike
) -> Allocation:
    """Fixed arms paired by rank (Sacramento): ranks 1-2, 3-4, ... form pairs, one of each treated.

    ``hotspot_ids``: unique ints shaped (n,); ``ranks``: ints shaped (n,), 1 = most harm (ties
    broken by id). Hot spots sorted by (rank, id) form pairs of consecutive positions; for each
    pair in order one uniform decides which is treated (``u < 0.5``: the better-ranked one); an
    odd last hot spot gets its own coin. Blocks are ``"pair 1"``, ``"pair 2"``, ... and
    ``"unpaired"``.
    """
    ids = _as_ids(hotspot_ids)
    rank = np.asarray(ranks, dtype=np.int64).reshape(-1)
    if rank.shape != ids.shape:
        raise ValueError(f"ranks must have shape {ids.shape}, got {rank.shape}")
    order = np.lexsort((ids, rank))
    treated = np.zeros(ids.size, dtype=np.bool_)
    labels = [""] * ids.size
    for p in range(ids.size // 2):
        first, second = int(order[2 * p]), int(order[2 * p + 1])
        treated[first if _coin(rng) else second] = True
        labels[first] = labels[second] = f"pair {p + 1}"
    if ids.size % 2:
        last = int(order[-1])
        treated[last] = _coin(rng)
        labels[last] = UNPAIRED
    ids = ids.copy()
    _readonly(ids, treated)
    return Allocation(hotspot_ids=ids, treated=treated, blocks=tuple(labels))


def placeday_allocation(
    rng: np.random.Generator,
    hotspot_ids: npt.ArrayLike,
    start: date,
    end: date,
    blocks: Sequence[str] | None = None,
) -> PlaceDayAllocation:
    """Place-day crossover (Essex): every hot spot re-randomized every day from start to end.

    ``hotspot_ids``: unique ints shaped (n,); ``start``/``end``: local days, inclusive;
    ``blocks``: optional n labels. Each day, in date order, is one blocked randomization
    (``_half_per_block``): half the hot spots of each block treated, the odd one out by coin.
    Days are drawn in order, so extending ``end`` leaves the earlier days unchanged.
    Returns ``treated`` shaped (n_days, n_hotspots).
    """
    ids = _as_ids(hotspot_ids)
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    labels = ("",) * ids.size if blocks is None else _as_labels(blocks, ids.size, "blocks")
    n_days = (end - start).days + 1
    days = tuple(start + timedelta(days=d) for d in range(n_days))
    treated = np.zeros((n_days, ids.size), dtype=np.bool_)
    for d in range(n_days):
        treated[d] = _half_per_block(rng, ids, labels)
    ids = ids.copy()
    _readonly(ids, treated)
    return PlaceDayAllocation(days=days, hotspot_ids=ids, treated=treated, blocks=labels)


def harm_tiers(
    harm: npt.ArrayLike, n_tiers: int = 2, groups: Sequence[str] | None = None
) -> IntArray:
    """Quantile tiers of harm: int64 shaped (n,), 1 = most harm .. ``n_tiers``.

    ``harm``: floats shaped (n,) (e.g. harm over the look-back). With ``groups`` (e.g. the
    district of each hot spot) tiers are cut within each group. A hot spot's tier is
    ``1 + floor(n_tiers * above / m)`` where ``above`` is the number of hot spots of its group
    with strictly more harm and ``m`` the group size. Ties: equal harm always gives the same
    tier, the tier of the first position the tied values occupy, so tiers can be uneven
    (harm ``[9, 5, 5, 1]`` in 2 tiers -> ``[1, 1, 1, 2]``).
    """
    if n_tiers not in (2, 3):
        raise ValueError(f"n_tiers must be 2 or 3, got {n_tiers}")
    h = np.asarray(harm, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(h)):
        raise ValueError("harm must be finite")
    group_arr = np.asarray(
        ("",) * h.size if groups is None else _as_labels(groups, h.size, "groups"), dtype=object
    )
    tiers = np.zeros(h.size, dtype=np.int64)
    for label in set(group_arr.tolist()):
        members = np.flatnonzero(group_arr == label)
        g = np.sort(h[members])
        # above = count of strictly greater values in the group.
        above = g.size - np.searchsorted(g, h[members], side="right")
        tiers[members] = 1 + (n_tiers * above) // g.size
    return tiers


def block_labels(districts: Sequence[str], tiers: npt.ArrayLike) -> tuple[str, ...]:
    """``"district|tier"`` labels shaped (n,), e.g. ``"North|1"``, for ``blocked_allocation``."""
    t = np.asarray(tiers, dtype=np.int64).reshape(-1)
    d = _as_labels(districts, t.size, "districts")
    return tuple(f"{district}|{int(tier)}" for district, tier in zip(d, t, strict=True))


# ---------------------------------------------------------------------------------------------
# Koper schedule


@dataclass(frozen=True)
class ScheduledVisit:
    """One prescribed visit: an officer at a hot spot for ``[start_s, end_s)`` (seconds)."""

    hotspot_id: int
    officer_id: int
    start_s: int
    end_s: int


def koper_schedule(
    rng: np.random.Generator,
    hotspot_ids: npt.ArrayLike,
    officer_ids: npt.ArrayLike,
    shift_start_s: int,
    shift_end_s: int,
    visits_per_hotspot: int = 3,
    visit_minutes: int = 15,
    min_gap_minutes: int = 120,
    travel_buffer_minutes: int = 0,
    max_attempts: int = 50,
    tries_per_hotspot: int = 100,
    allowed_minutes: npt.ArrayLike | None = None,
) -> tuple[ScheduledVisit, ...]:
    """Koper visits for one shift: N visits of T minutes per treated hot spot at random times.

    ``hotspot_ids``: the *treated* hot spots (unique ints); ``officer_ids``: unique ints;
    ``shift_start_s``/``shift_end_s``: seconds. Visit starts are whole minutes after the shift
    start; every visit ends by the shift end (a partial last minute is unused).

    Guarantees, or ``ValueError``; a visit is never dropped:

    * every hot spot gets exactly ``visits_per_hotspot`` visits of ``visit_minutes``;
    * consecutive visits to one hot spot start at least ``max(min_gap_minutes, visit_minutes)``
      apart (start to start, so visits to one hot spot never overlap);
    * no officer has two visits closer than ``travel_buffer_minutes`` (default 0: an officer
      may start a visit the minute the previous one ends; the buffer applies between any two
      visits, even at the same hot spot).

    Algorithm: a hot spot's starts are ``sorted(floor(u_i * (slack + 1))) + i * gap`` (minutes,
    ``slack`` = shift minus the span the visits need). Hot spots are placed in a random order;
    a hot spot's draw is redrawn (``tries_per_hotspot`` times) while it would make more visits
    (each extended by the buffer) run at once than there are officers, and the whole shift is
    redrawn (``max_attempts`` times) when a hot spot cannot be placed. Visits are then taken in
    start order and each given to an officer chosen uniformly among those free by then; this
    cannot fail once concurrency fits (interval graphs are perfect). Returns visits sorted by
    (start, hot spot id).

    ``allowed_minutes``: optional bool per whole minute of the shift; a visit is then placed
    only where every one of its minutes is allowed (e.g. the hours whose calls leave spare
    capacity, ``analytics.workload.minutes_below``). Each hot spot's starts are then drawn
    uniformly among the gap-respecting placements inside the allowed minutes (counted by
    dynamic programming), instead of by the order-statistics draw above; without it the
    draw, and so every stored seed's schedule, is unchanged.

    Raises ``ValueError`` when the visits of one hot spot cannot fit the shift (3 visits 2 h
    apart need 4 h 15 min with 15-minute visits) or its allowed minutes, when the officers'
    time cannot hold the visits even back to back, or when no placement was found within the
    attempts.
    """
    hs = np.sort(_as_ids(hotspot_ids))
    officers = np.sort(_as_ids(officer_ids, "officer_ids"))
    n_visits, length = int(visits_per_hotspot), int(visit_minutes)
    buffer = int(travel_buffer_minutes)
    gap = max(int(min_gap_minutes), length)
    if n_visits < 1 or length < 1 or buffer < 0 or min_gap_minutes < 0:
        raise ValueError("visits_per_hotspot and visit_minutes must be >= 1, gaps >= 0")
    shift = (int(shift_end_s) - int(shift_start_s)) // 60
    need = (n_visits - 1) * gap + length
    if need > shift:
        raise ValueError(
            f"{n_visits} visits of {length} min at least {gap} min apart need a shift of "
            f"{need} min; this shift has {max(shift, 0)} min"
        )
    if hs.size == 0:
        return ()
    total = hs.size * n_visits
    per_officer = (shift + buffer) // (length + buffer)
    if total > officers.size * per_officer:
        need_officers = -(-total // per_officer)
        raise ValueError(
            f"{total} visits of {length} min (+{buffer} min travel) need at least "
            f"{need_officers} officers in a {shift}-min shift; got {officers.size}"
        )

    slack = shift - need
    steps = np.arange(n_visits, dtype=np.int64) * gap
    if allowed_minutes is None:

        def draw() -> IntArray:
            offsets = np.sort(np.floor(rng.random(n_visits) * (slack + 1)).astype(np.int64))
            out: IntArray = np.minimum(offsets, slack) + steps
            return out

    else:
        draw = _allowed_draw(rng, allowed_minutes, shift, n_visits, length, gap)
    placed = _place_visits(
        draw,
        n_hotspots=hs.size,
        order_rng=rng,
        occupied=length + buffer,
        capacity=officers.size,
        horizon=shift + buffer,
        max_attempts=max_attempts,
        tries_per_hotspot=tries_per_hotspot,
    )
    if placed is None:
        raise ValueError(
            f"could not place {total} visits so that {officers.size} officers can cover them "
            f"after {max_attempts} attempts; add officers, shorten visits or lengthen the shift"
        )
    # (start minute, hot spot id) for every visit, in start order.
    visits = sorted(
        (int(placed[h, v]), int(hs[h])) for h in range(hs.size) for v in range(n_visits)
    )
    free_at = np.zeros(officers.size, dtype=np.int64)
    out = []
    for start_min, hotspot in visits:
        free = np.flatnonzero(free_at <= start_min)
        officer = int(free[_random_index(rng, free.size)])
        free_at[officer] = start_min + length + buffer
        start_s = int(shift_start_s) + 60 * start_min
        out.append(
            ScheduledVisit(
                hotspot_id=hotspot,
                officer_id=int(officers[officer]),
                start_s=start_s,
                end_s=start_s + 60 * length,
            )
        )
    return tuple(out)


def _allowed_draw(
    rng: np.random.Generator,
    allowed_minutes: npt.ArrayLike,
    shift: int,
    n_visits: int,
    length: int,
    gap: int,
) -> Callable[[], IntArray]:
    """A draw of one hot spot's ``n_visits`` start minutes, uniform over the placements whose
    visits lie wholly in allowed minutes with consecutive starts at least ``gap`` apart."""
    allowed = np.asarray(allowed_minutes, dtype=np.bool_).reshape(-1)
    if allowed.size != shift:
        raise ValueError(f"allowed_minutes must have one value per shift minute ({shift})")
    n_starts = shift - length + 1
    run = np.concatenate([[0], np.cumsum(~allowed)])
    start_ok = (run[length : length + n_starts] - run[:n_starts]) == 0
    # ways[v][s]: placements of visits v.. with visit v starting at minute s.
    ways = np.zeros((n_visits, n_starts), dtype=np.float64)
    ways[-1] = start_ok
    for v in range(n_visits - 2, -1, -1):
        suffix = np.concatenate([np.cumsum(ways[v + 1][::-1])[::-1], [0.0]])
        later = np.minimum(np.arange(n_starts) + gap, n_starts)
        ways[v] = start_ok * suffix[later]
    if not ways[0].sum() > 0:
        raise ValueError(
            f"{n_visits} visits of {length} min at least {gap} min apart do not fit in the "
            "allowed minutes of this shift"
        )

    def pick(weights: FloatArray) -> int:
        cum = np.cumsum(weights)
        return int(min(np.searchsorted(cum, rng.random() * cum[-1], side="right"), cum.size - 1))

    def draw() -> IntArray:
        starts = np.zeros(n_visits, dtype=np.int64)
        lo = 0
        for v in range(n_visits):
            s = lo + pick(ways[v][lo:])
            starts[v] = s
            lo = s + gap
        return starts

    return draw


def _place_visits(
    draw: Callable[[], IntArray],
    *,
    n_hotspots: int,
    order_rng: np.random.Generator,
    occupied: int,
    capacity: int,
    horizon: int,
    max_attempts: int,
    tries_per_hotspot: int,
) -> IntArray | None:
    """Start minutes shaped (n_hotspots, n_visits) with at most ``capacity`` visits at once.

    ``draw`` gives one hot spot's sorted start minutes. Each visit occupies ``occupied``
    minutes (visit plus travel buffer) of a ``horizon``-minute load array. None when no
    placement was found.
    """
    for _ in range(max_attempts):
        load = np.zeros(horizon, dtype=np.int64)
        starts: IntArray | None = None
        ok = True
        for h in _uniform_order(order_rng, n_hotspots):
            for _try in range(tries_per_hotspot):
                cand = draw()
                if starts is None:
                    starts = np.zeros((n_hotspots, cand.size), dtype=np.int64)
                add = np.zeros(horizon + 1, dtype=np.int64)
                np.add.at(add, cand, 1)
                np.add.at(add, cand + occupied, -1)
                new_load = load + np.cumsum(add)[:horizon]
                if int(new_load.max()) <= capacity:
                    load, starts[h] = new_load, cand
                    break
            else:
                ok = False
                break
        if ok and starts is not None:
            return starts
    return None


# ---------------------------------------------------------------------------------------------
# The officer's "next hot spot" draw


def draw_hotspot(
    rng: np.random.Generator,
    weights: npt.ArrayLike,
    *,
    treated: npt.ArrayLike,
    in_reach: npt.ArrayLike,
    taken: npt.ArrayLike | None = None,
) -> int | None:
    """One hot spot index for an officer, with probability proportional to its weight.

    All inputs shaped (n,), one entry per candidate hot spot, in any order (the index returned
    refers to it). ``weights``: dose deficit (e.g. prescribed minus delivered minutes today),
    finite and >= 0; a hot spot is *due* when its weight is > 0. ``treated``: bool, False for
    control hot spots, which are never offered. ``in_reach``: bool, from the caller's distance
    or travel-time rule; out-of-reach hot spots are never offered. ``taken``: bool, another
    officer is there or on the way right now; a taken hot spot is offered only when no free
    hot spot is due (then the draw is among the due taken ones, again by weight).

    Returns the index, or None when nothing is due. One uniform ``u`` picks the first
    candidate whose cumulative weight exceeds ``u * total``.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(w)) or (w.size and float(w.min()) < 0):
        raise ValueError("weights must be finite and >= 0")
    masks = {"treated": treated, "in_reach": in_reach, "taken": taken}
    arrs = {}
    for name, value in masks.items():
        arr = np.zeros(w.size, dtype=np.bool_) if value is None else np.asarray(value)
        if arr.shape != w.shape or arr.dtype != np.bool_:
            raise ValueError(f"{name} must be a bool array of shape {w.shape}")
        arrs[name] = arr
    due = arrs["treated"] & arrs["in_reach"] & (w > 0)
    for tier in (due & ~arrs["taken"], due):
        candidates = np.flatnonzero(tier)
        if candidates.size:
            cum = np.cumsum(w[candidates])
            pick = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
            return int(candidates[min(pick, candidates.size - 1)])
    return None


# ---------------------------------------------------------------------------------------------
# Minimum detectable effect


@dataclass(frozen=True)
class MinimumDetectableEffect:
    """The smallest crime reduction a two-arm experiment detects with the stated power.

    Attributes:
        rate_ratio: treated / control rate at the MDE (< 1); nan when no reduction is
            detectable (too few expected events: the Wald test loses power as counts vanish).
        reduction: ``1 - rate_ratio``, e.g. 0.26 for a 26% reduction.
        mean_count: expected count per unit over the experiment length, under control.
        dispersion: variance / mean of one unit's count over the experiment length (1 = Poisson).
        z_alpha: ``z_{1 - alpha/2}``; z_power: ``z_{power}``.
        se_log_rate_ratio: standard error of the log rate ratio at the MDE.
    """

    rate_ratio: float
    reduction: float
    mean_count: float
    dispersion: float
    z_alpha: float
    z_power: float
    se_log_rate_ratio: float


def minimum_detectable_effect(
    pre_counts: npt.ArrayLike,
    n_treat: int,
    n_control: int,
    *,
    pre_days: float,
    experiment_days: float,
    alpha: float = 0.05,
    power: float = 0.8,
    dispersion: float | None = None,
) -> MinimumDetectableEffect:
    """MDE for Poisson (or overdispersed) counts, two arms, a two-sided Wald test on log RR.

    ``pre_counts``: counts per unit (hot spot) over the ``pre_days``-day pre-period, shaped (n,)
    (all hot spots, or those of the experiment). ``n_treat``/``n_control``: units per arm; each
    unit is observed ``experiment_days`` days (a place-day design: units are place-days,
    ``experiment_days=1``).

    ``mu = mean(pre_counts) * experiment_days / pre_days`` is a unit's expected count over the
    experiment. ``dispersion`` phi = variance / mean of that count: given, or estimated as
    ``max(1, var(pre, ddof=1) / mean(pre))`` and scaled to the experiment length as
    ``1 + (phi_pre - 1) * experiment_days / pre_days`` (heterogeneity of rates between units
    adds ``L * var(rate) / mean(rate)`` to a count's dispersion over ``L`` days).

    The test compares the arms' mean counts. Treatment multiplies every unit's rate by RR, so
    a treated count has mean ``mu RR`` and variance ``mu RR + (phi - 1) mu RR^2`` (the spread of
    rates between units scales with them), and by the delta method

        var(log RR_hat) = (1 / RR + phi - 1) / (n_t mu) + phi / (n_c mu)

    (Poisson, phi = 1: ``1 / (n_t mu RR) + 1 / (n_c mu)``). The MDE is the reduction RR < 1
    closest to 1 with ``-log RR = (z_{1-alpha/2} + z_power) * se(RR)`` (the chance of rejecting
    in the wrong direction is ignored). With ``x = -log RR``, ``x - z * se`` is concave in x,
    so its first root is found by bisection below its maximum (closed form). The normal
    quantiles come from ``statistics.NormalDist``. An increase has a different (smaller) MDE.
    """
    pre = np.asarray(pre_counts, dtype=np.float64).reshape(-1)
    if pre.size == 0 or not np.all(np.isfinite(pre)) or float(pre.min()) < 0:
        raise ValueError("pre_counts must be a non-empty array of counts >= 0")
    if n_treat < 1 or n_control < 1:
        raise ValueError("n_treat and n_control must be >= 1")
    if pre_days <= 0 or experiment_days <= 0:
        raise ValueError("pre_days and experiment_days must be > 0")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must be in (0, 1)")
    pre_mean = float(pre.mean())
    if pre_mean <= 0:
        raise ValueError("pre-period counts are all zero: no effect is detectable")
    mu = pre_mean * experiment_days / pre_days
    if dispersion is None:
        phi_pre = float(pre.var(ddof=1)) / pre_mean if pre.size > 1 else 1.0
        phi = 1.0 + (max(phi_pre, 1.0) - 1.0) * experiment_days / pre_days
    else:
        if not dispersion > 0:
            raise ValueError(f"dispersion must be > 0, got {dispersion}")
        phi = float(dispersion)
    z_alpha = NormalDist().inv_cdf(1 - alpha / 2)
    z_power = NormalDist().inv_cdf(power)
    z = z_alpha + z_power
    # var(log RR_hat) at RR = exp(-x) is a * exp(x) + b (see the docstring).
    a = 1.0 / (n_treat * mu)
    b = (phi - 1.0) / (n_treat * mu) + phi / (n_control * mu)

    def se(x: float) -> float:
        return math.sqrt(a * math.exp(x) + b)

    def excess(x: float) -> float:
        return x - z * se(x)

    # d/dx excess = 0 where z * u = 2 * sqrt(u + b), u = a * exp(x).
    u_star = (2.0 + 2.0 * math.sqrt(1.0 + z * z * b)) / (z * z)
    x_star = math.log(u_star / a)
    if x_star <= 0 or excess(x_star) < 0:
        nan = float("nan")
        return MinimumDetectableEffect(nan, nan, mu, phi, z_alpha, z_power, nan)
    lo, hi = 0.0, x_star
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if excess(mid) < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    x = 0.5 * (lo + hi)
    rr = math.exp(-x)
    return MinimumDetectableEffect(
        rate_ratio=rr,
        reduction=1.0 - rr,
        mean_count=mu,
        dispersion=phi,
        z_alpha=z_alpha,
        z_power=z_power,
        se_log_rate_ratio=se(x),
    )


# ---------------------------------------------------------------------------------------------
# Balance


@dataclass(frozen=True)
class ArmSummary:
    """Pre-period summary of one arm in one block (means are nan for an empty arm)."""

    n: int
    count_total: float
    count_mean: float
    harm_total: float
    harm_mean: float


@dataclass(frozen=True)
class BalanceRow:
    """One block's arms and standardized differences (treatment minus control).

    ``*_std_diff = (mean_t - mean_c) / sqrt((s_t^2 + s_c^2) / 2)`` with sample variances
    (ddof=1); nan when an arm has fewer than 2 units; 0 when both arms are constant and equal,
    +-inf when both are constant and differ. |d| > 0.1 is the usual flag for imbalance.
    """

    block: str
    treatment: ArmSummary
    control: ArmSummary
    count_std_diff: float
    harm_std_diff: float


@dataclass(frozen=True)
class BalanceTable:
    """Balance per block (sorted by label) and over all hot spots (block ``"(all)"``)."""

    blocks: tuple[BalanceRow, ...]
    overall: BalanceRow


def balance_table(
    treated: npt.ArrayLike,
    blocks: Sequence[str],
    pre_counts: npt.ArrayLike,
    pre_harm: npt.ArrayLike,
) -> BalanceTable:
    """Pre-period balance of an allocation, per arm and block.

    ``treated``: bool shaped (n,); ``blocks``: n labels; ``pre_counts`` and ``pre_harm``: floats
    shaped (n,) (incidents and harm of each unit in the pre-period). For a place-day design pass
    one day's row, or flatten ``treated`` with the hot spots' values repeated per day.
    """
    t = np.asarray(treated)
    if t.dtype != np.bool_ or t.ndim != 1:
        raise ValueError("treated must be a 1-D bool array")
    labels = _as_labels(blocks, t.size, "blocks")
    counts = np.asarray(pre_counts, dtype=np.float64).reshape(-1)
    harm = np.asarray(pre_harm, dtype=np.float64).reshape(-1)
    if counts.shape != t.shape or harm.shape != t.shape:
        raise ValueError(f"pre_counts and pre_harm must have shape {t.shape}")
    label_arr = np.asarray(labels, dtype=object)
    rows = []
    for label in sorted(set(labels)):
        member = label_arr == label
        rows.append(_balance_row(label, t[member], counts[member], harm[member]))
    return BalanceTable(blocks=tuple(rows), overall=_balance_row(OVERALL, t, counts, harm))


def _balance_row(block: str, t: BoolArray, counts: FloatArray, harm: FloatArray) -> BalanceRow:
    return BalanceRow(
        block=block,
        treatment=_arm_summary(counts[t], harm[t]),
        control=_arm_summary(counts[~t], harm[~t]),
        count_std_diff=_std_diff(counts[t], counts[~t]),
        harm_std_diff=_std_diff(harm[t], harm[~t]),
    )


def _arm_summary(counts: FloatArray, harm: FloatArray) -> ArmSummary:
    n = int(counts.size)
    nan = float("nan")
    return ArmSummary(
        n=n,
        count_total=float(counts.sum()),
        count_mean=float(counts.mean()) if n else nan,
        harm_total=float(harm.sum()),
        harm_mean=float(harm.mean()) if n else nan,
    )


def _std_diff(x_t: FloatArray, x_c: FloatArray) -> float:
    if x_t.size < 2 or x_c.size < 2:
        return float("nan")
    diff = float(x_t.mean() - x_c.mean())
    pooled = math.sqrt((float(x_t.var(ddof=1)) + float(x_c.var(ddof=1))) / 2)
    if pooled == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return diff / pooled


__all__ = [
    "OVERALL",
    "UNPAIRED",
    "Allocation",
    "ArmSummary",
    "BalanceRow",
    "BalanceTable",
    "MinimumDetectableEffect",
    "PlaceDayAllocation",
    "ScheduledVisit",
    "balance_table",
    "block_labels",
    "blocked_allocation",
    "draw_hotspot",
    "generator",
    "harm_tiers",
    "koper_schedule",
    "minimum_detectable_effect",
    "new_seed",
    "paired_allocation",
    "placeday_allocation",
]
