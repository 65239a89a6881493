"""Where a hot spot is, in words: the most frequent block address or intersection among its
incidents, falling back to its centre's coordinates.

Incident files carry the place as the records system writes it (Chicago: ``001XX W MADISON ST``;
others an intersection, ``NW 62ND ST & NW 7TH AVE``); the import stores it on ``Incident.block``.
:func:`hotspot_address` is pure (strings in, a string out); :func:`hotspot_addresses` reads the
blocks of a run's incidents in one query per batch of ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from backend.incidents.models import Incident

ADDRESS_MAX = 160  # Hotspot.address's length; a block text is cut to it
_ID_BATCH = 5_000  # incident ids per query (SQLite's variable limit is far above)

_HUNDRED_BLOCK = re.compile(r"^\s*(\d+)(X+)\s+(.+)$", re.IGNORECASE)  # 001XX W MADISON ST
# Directions and street types written in capitals in the records system: kept short, cased.
_DIRECTIONS = {"N", "S", "E", "W", "NE", "NW", "SE", "SW"}
_ORDINAL = re.compile(r"^(\d+)(ST|ND|RD|TH)$", re.IGNORECASE)


def _norm(text: str) -> str:
    """The key two spellings of one place share: spaces collapsed, case folded."""
    return " ".join(text.split()).casefold()


def _word(w: str) -> str:
    if w.upper() in _DIRECTIONS:
        return w.upper()
    m = _ORDINAL.match(w)
    if m:
        return m[1] + m[2].lower()
    if w in {"&", "/", "@"}:
        return "&"
    if "-" in w:
        return "-".join(_word(p) for p in w.split("-"))
    return w[:1].upper() + w[1:].lower()


def _street(text: str) -> str:
    """``W MADISON ST`` -> ``W Madison St``; text already in mixed case is kept as written."""
    text = " ".join(text.split())
    if text != text.upper():
        return text
    return " ".join(_word(w) for w in text.split(" "))


def address_words(block: str) -> str:
    """A records system's block or intersection as words an officer reads.

    ``000XX W MADISON ST`` -> ``0 block of W Madison St`` (Chicago writes the hundred block with
    its last digits as X); ``S STATE ST & E 63RD ST`` -> ``S State St & E 63rd St``.
    """
    text = " ".join((block or "").split())
    m = _HUNDRED_BLOCK.match(text)
    if m:
        number = int(m[1]) * 10 ** len(m[2])
        return f"{number} block of {_street(m[3])}"[:ADDRESS_MAX]
    return _street(text)[:ADDRESS_MAX]


def coordinates_words(lat: float, lon: float) -> str:
    """The fallback: ``41.88300, -87.63100`` (5 decimals, about a metre)."""
    return f"{lat:.5f}, {lon:.5f}"


def hotspot_address(blocks: Iterable[str], *, lat: float, lon: float) -> str:
    """The most frequent block or intersection among a hot spot's incidents, in words.

    Blank values are ignored; spellings differing only in spaces or case count as one place,
    shown as its most frequent spelling. A tie goes to the spelling first in alphabetical order
    (so the result does not depend on the incidents' order). With no block at all: the
    coordinates of the hot spot's centre (``lat``, ``lon``).
    """
    places: Counter[str] = Counter()
    spellings: dict[str, Counter[str]] = {}
    for raw in blocks:
        text = " ".join((raw or "").split())
        if not text:
            continue
        key = _norm(text)
        places[key] += 1
        spellings.setdefault(key, Counter())[text] += 1
    if not places:
        return coordinates_words(lat, lon)
    key = min(places, key=lambda k: (-places[k], k))
    spelling = min(spellings[key], key=lambda s: (-spellings[key][s], s))
    return address_words(spelling)


def hotspot_addresses(
    members: Mapping[int, Sequence[int]], centres: Mapping[int, tuple[float, float]]
) -> dict[int, str]:
    """{hot spot key: address} from each hot spot's incident ids and its centre (lat, lon)."""

    wanted = sorted({int(i) for ids in members.values() for i in ids})
    block_of: dict[int, str] = {}
    for lo in range(0, len(wanted), _ID_BATCH):
        chunk = wanted[lo : lo + _ID_BATCH]
        block_of.update(
            Incident.objects.filter(pk__in=chunk).exclude(block="").values_list("pk", "block")
        )
    out = {}
    for key, ids in members.items():
        lat, lon = centres[key]
        out[key] = hotspot_address((block_of.get(int(i), "") for i in ids), lat=lat, lon=lon)
    return out
