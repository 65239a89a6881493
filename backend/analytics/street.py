"""The officer's briefing in street language: one sentence first, then the figures. Pure; no I/O.

"Robberies at night near 0 block of W Madison St; busiest Fri-Sat 20:00-00:00" is built from a
hot spot's briefing (its offence behind most harm, its busiest 4-hour block and days) and its
address. The analysts' wording (ranks, days of harm, shares) stays on the analysts' pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from backend.analytics.briefing import PEAK_BLOCK_HOURS

# A busiest block holding less than this share of incidents is no real peak: a uniform spread
# puts 4/24 = 0.167 in any 4-hour block; 0.25 is 1.5 times that.
PEAK_SHARE_MIN = 0.25

# Offence words that take no plural in speech ("drug possession", "fraud", "trespass").
_MASS_NOUNS = {
    "arson",
    "damage",
    "disorder",
    "fraud",
    "graffiti",
    "harassment",
    "influence",
    "loitering",
    "possession",
    "prostitution",
    "shoplifting",
    "trespass",
    "vandalism",
    "kidnapping",
    "soliciting",
    "driving",
    "dealing",
    "trafficking",
    "abuse",
}
# "Robbery of business property": the noun to make plural is the one before these words.
_JOINS = (" of ", " with ", " from ", " under ", " in ", " on ", " at ", " by ")


def _plural_word(word: str) -> str:
    low = word.lower()
    if (
        (word.isupper() and len(word) > 1)
        or low in _MASS_NOUNS
        or low.endswith(("ss", "ing", "ion", "s"))
    ):
        return word
    if re.search(r"[^aeiou]y$", low):
        return word[:-1] + "ies"
    if low.endswith(("ch", "sh", "x", "z")):
        return word + "es"
    return word + "s"


def offence_plural(name: str) -> str:
    """An offence type's name as people say it of several: ``Robbery`` -> ``Robberies``,
    ``Theft / larceny (other)`` -> ``Thefts``, ``Robbery of business property`` ->
    ``Robberies of business property``, ``Drug possession`` unchanged."""
    text = re.sub(r"\([^)]*\)", "", name or "").split("/")[0]
    text = " ".join(text.split())
    if not text:
        return "Incidents"
    cut = len(text)
    for join in _JOINS:
        i = text.lower().find(join)
        if 0 < i < cut:
            cut = i
    head, tail = text[:cut], text[cut:]
    words = head.split(" ")
    words[-1] = _plural_word(words[-1])
    out = " ".join(words) + tail
    return out[:1].upper() + out[1:]


def time_of_day(start_hour: int) -> str:
    """The part of the day a ``PEAK_BLOCK_HOURS``-hour block starting at ``start_hour`` covers,
    judged by its middle: morning 05-12, afternoon 12-17, evening 17-21, night 21-05."""
    middle = (start_hour + PEAK_BLOCK_HOURS / 2) % 24
    if 5 <= middle < 12:
        return "in the morning"
    if 12 <= middle < 17:
        return "in the afternoon"
    if 17 <= middle < 21:
        return "in the evening"
    return "at night"


def street_sentence(
    *,
    offence: str,
    address: str,
    peak_start_hour: int | None = None,
    peak_label: str = "",
    peak_share: float = 0.0,
) -> str:
    """One sentence an officer reads first.

    ``offence``: the offence behind most harm (an offence type's name; empty for a hand-drawn
    hot spot); ``address``: the hot spot's address in words; ``peak_label`` e.g.
    ``"Fri-Sat 20:00-00:00"`` (empty: no incidents to time by) starting at ``peak_start_hour``
    and holding ``peak_share`` of incidents. The time of day is said only when the block is a
    real peak (at least ``PEAK_SHARE_MIN``).
    """
    what = offence_plural(offence) if offence else "Marked by an analyst"
    when = ""
    if peak_label and peak_start_hour is not None and peak_share >= PEAK_SHARE_MIN:
        when = " " + time_of_day(int(peak_start_hour))
    where = f" near {address}" if address else ""
    busiest = f"; busiest {peak_label}" if peak_label else ""
    return f"{what}{when}{where}{busiest}"


def street_brief(briefing: Mapping[str, object], address: str) -> str:
    """``street_sentence`` from a stored briefing (``Briefing.as_dict``) and an address."""
    offence = str(briefing.get("lead_offence") or "")
    if not offence:
        top = briefing.get("top_offences") or []
        if isinstance(top, list) and top and isinstance(top[0], Mapping):
            offence = str(top[0].get("offence") or "")
    start = briefing.get("peak_start_hour")
    share = briefing.get("peak_block_share") or 0.0
    return street_sentence(
        offence=offence,
        address=address,
        peak_start_hour=int(start) if isinstance(start, int | float) else None,
        peak_label=str(briefing.get("peak_label") or ""),
        peak_share=float(share) if isinstance(share, int | float) else 0.0,
    )
