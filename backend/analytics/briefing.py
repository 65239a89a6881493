"""Briefings: what an officer reads in 20 seconds about a hot spot. Pure; no I/O.

Inputs are a hot spot's summary figures and its 24x7 profile (local time, Monday first);
outputs are structured fields and short sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PEAK_BLOCK_HOURS = 4  # a patrol shift can cover a 4-hour block; shorter peaks are noise


@dataclass(frozen=True)
class PeakTimes:
    """When incidents cluster in a 24x7 profile.

    start_hour: first hour of the busiest ``PEAK_BLOCK_HOURS``-hour block (wrapping midnight).
    block_share: share of all incidents that fall in that block, any day.
    days: the busiest weekdays (0 = Monday), at most two, busiest first.
    day_share: share of incidents on those days.
    """

    start_hour: int
    block_share: float
    days: tuple[int, ...]
    day_share: float

    @property
    def label(self) -> str:
        """e.g. ``"Fri-Sat 20:00-00:00"``."""
        end = (self.start_hour + PEAK_BLOCK_HOURS) % 24
        ds = sorted(self.days)
        if not ds:
            days = "Any day"
        elif len(ds) == 2 and (ds[1] - ds[0] == 1 or (ds[0], ds[1]) == (0, 6)):
            first, second = (ds[1], ds[0]) if (ds[0], ds[1]) == (0, 6) else (ds[0], ds[1])
            days = f"{DAY_NAMES[first]}-{DAY_NAMES[second]}"  # adjacent days read as a range
        else:
            days = " & ".join(DAY_NAMES[d] for d in ds)
        return f"{days} {self.start_hour:02d}:00-{end:02d}:00"


def peak_times(profile: npt.ArrayLike) -> PeakTimes:
    """Busiest hour block and weekdays of a (7, 24) profile of counts or harm (>= 0)."""
    p = np.asarray(profile, dtype=np.float64)
    if p.shape != (7, 24):
        raise ValueError(f"profile must have shape (7, 24), got {p.shape}")
    total = float(p.sum())
    if total <= 0:
        return PeakTimes(start_hour=0, block_share=0.0, days=(), day_share=0.0)
    by_hour = p.sum(axis=0)
    wrapped = np.concatenate([by_hour, by_hour[: PEAK_BLOCK_HOURS - 1]])
    blocks = np.convolve(wrapped, np.ones(PEAK_BLOCK_HOURS), mode="valid")[:24]
    # Among equally busy blocks prefer the one that centres the busy hours, then the earliest.
    centred = np.convolve(wrapped, np.array([1.0, 2.0, 2.0, 1.0])[::-1], mode="valid")[:24]
    start = int(np.lexsort((np.arange(24), -centred, -blocks))[0])
    by_day = p.sum(axis=1)
    order = np.lexsort((np.arange(7), -by_day))
    days = tuple(int(d) for d in order[:2] if by_day[d] > 0)
    return PeakTimes(
        start_hour=start,
        block_share=float(blocks[start] / total),
        days=days,
        day_share=float(by_day[list(days)].sum() / total),
    )


@dataclass(frozen=True)
class Briefing:
    """A hot spot's briefing. ``as_dict`` is what the API and the pages serve."""

    headline: str
    why_here: str
    why_now: str
    one_line: str
    peak: PeakTimes
    top_offences: tuple[tuple[str, int], ...]
    recent: tuple[Mapping[str, str], ...] = ()
    tactics: tuple[str, ...] = field(default_factory=tuple)
    lead_offence: str = ""  # the offence behind most harm (else the most frequent)

    def as_dict(self) -> dict[str, object]:
        return {
            "headline": self.headline,
            "lead_offence": self.lead_offence,
            "why_here": self.why_here,
            "why_now": self.why_now,
            "one_line": self.one_line,
            "peak_label": self.peak.label if self.peak.days else "",
            "peak_start_hour": self.peak.start_hour,
            "peak_days": [DAY_NAMES[d] for d in self.peak.days],
            "peak_block_share": round(self.peak.block_share, 3),
            "top_offences": [{"offence": name, "count": n} for name, n in self.top_offences],
            "recent": [dict(r) for r in self.recent],
            "tactics": list(self.tactics),
        }


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def make_briefing(
    *,
    rank: int,
    n_hotspots: int,
    harm: float,
    count: int,
    harm_share: float,
    counts_by_offence: Mapping[str, int],
    profile: npt.ArrayLike,
    lookback_days: int,
    recent: Sequence[Mapping[str, str]] = (),
    tactics: Sequence[str] = (),
    harm_by_offence: Mapping[str, float] | None = None,
) -> Briefing:
    """Compose the briefing of hot spot ``rank`` (of ``n_hotspots``).

    ``harm`` in days of custody over the look-back; ``harm_share`` its share of all harm in
    the analysed area (0-1); ``counts_by_offence`` incidents per offence name; ``profile`` a
    (7, 24) array of incidents by local weekday and hour; ``recent`` the latest incidents,
    newest first, as {"when", "offence"} strings; ``harm_by_offence`` (days per offence name),
    when given, names the offence behind most of the harm in the headline, since a hot spot
    ranked by harm is rarely explained by its most frequent offence.
    """
    top = tuple(sorted(counts_by_offence.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    peak = peak_times(profile)
    period = "year" if lookback_days == 365 else f"{lookback_days} days"
    offences = ", ".join(f"{n} {name.lower()}" for name, n in top) if top else "no incidents"
    why_here = (
        f"Rank {rank} of {n_hotspots} for harm: {_plural(count, 'incident')} in the last "
        f"{period} ({offences}); {harm:,.0f} days of harm, {100 * harm_share:.1f}% of all "
        "harm in the area."
    )
    if peak.days:
        why_now = (
            f"Busiest {peak.label}: {100 * peak.block_share:.0f}% of incidents fall between "
            f"{peak.start_hour:02d}:00 and {(peak.start_hour + PEAK_BLOCK_HOURS) % 24:02d}:00, "
            f"{100 * peak.day_share:.0f}% on " + " and ".join(DAY_NAMES[d] for d in peak.days) + "."
        )
    else:
        why_now = "No incidents in the period to time patrols by."
    if harm_by_offence:
        lead_name = max(harm_by_offence.items(), key=lambda kv: (kv[1], kv[0]))[0]
        lead = lead_name.lower()
        lead_text = f"most harm from {lead}"
    else:
        lead_name = top[0][0] if top else ""
        lead = lead_name.lower() or "incidents"
        lead_text = f"mostly {lead}"
    one_line = f"#{rank}: {_plural(count, 'incident')}, {lead_text}" + (
        f"; peak {peak.label}" if peak.days else ""
    )
    return Briefing(
        headline=f"Hot spot {rank}: {lead}",
        why_here=why_here,
        why_now=why_now,
        one_line=one_line,
        peak=peak,
        top_offences=top,
        recent=tuple(recent),
        tactics=tuple(tactics),
        lead_offence=lead_name,
    )
