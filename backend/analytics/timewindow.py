"""Weekly time windows such as ``"Fri-Sat 20:00-04:00"``.

Semantics: a window *starts* on each listed day at the start time and runs until the end time.
When the end time is not after the start time the window crosses midnight and ends on the next
day, so ``"Fri-Sat 20:00-04:00"`` covers Fri 20:00 -> Sat 04:00 and Sat 20:00 -> Sun 04:00.
The start is inclusive and the end exclusive, at minute resolution. Days and minutes are in the
agency's local time; converting timestamps to local weekday and minute is the caller's job.

Accepted text (case-insensitive, extra spaces allowed)::

    [DAYS] HH:MM-HH:MM
    DAYS := DAY | DAY-DAY | DAYS,DAYS      e.g. "Sat", "Fri-Sat", "Sat-Mon", "Mon,Wed-Fri"
    DAY  := Mon Tue Wed Thu Fri Sat Sun    (or the full English name)

Omitting DAYS means every day. ``24:00`` is allowed as an end time only. A range of days wraps
around the week (``"Sat-Mon"`` is Sat, Sun, Mon). ``"00:00-24:00"`` is a whole day; an end equal
to the start (``"20:00-20:00"``) is a 24-hour window ending on the next day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MINUTES_PER_DAY = 1440
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name.lower(): i for i, name in enumerate(DAY_NAMES)} | {
    name: i for i, name in enumerate(_FULL_DAY_NAMES)
}
_WINDOW_RE = re.compile(
    r"^\s*(?:(?P<days>[A-Za-z][A-Za-z,\-\s]*?)\s+)?"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$"
)


@dataclass(frozen=True)
class TimeWindow:
    """A weekly window: starts on each ``start_days`` at ``start_minute``, ends at ``end_minute``.

    ``start_days`` are weekday numbers (0 = Monday ... 6 = Sunday), sorted and unique.
    ``start_minute`` is in [0, 1439] and ``end_minute`` in [0, 1440], minutes after local
    midnight. If ``end_minute <= start_minute`` the window ends on the following day.
    """

    start_days: tuple[int, ...]
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not self.start_days:
            raise ValueError("a time window needs at least one start day")
        if tuple(sorted(set(self.start_days))) != self.start_days:
            raise ValueError(f"start_days must be sorted and unique, got {self.start_days!r}")
        if not all(0 <= d <= 6 for d in self.start_days):
            raise ValueError(f"start_days must be in 0..6 (0 = Monday), got {self.start_days!r}")
        if not 0 <= self.start_minute < MINUTES_PER_DAY:
            raise ValueError(f"start_minute must be in [0, 1439], got {self.start_minute}")
        if not 0 <= self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(f"end_minute must be in [0, 1440], got {self.end_minute}")

    @property
    def crosses_midnight(self) -> bool:
        """True when the window ends on the day after it starts."""
        return self.end_minute <= self.start_minute

    def week_table(self) -> npt.NDArray[np.bool_]:
        """Boolean table shaped (7, 1440): ``[weekday, minute_of_day]`` is inside the window."""
        table = np.zeros((7, MINUTES_PER_DAY), dtype=np.bool_)
        for day in self.start_days:
            if self.crosses_midnight:
                table[day, self.start_minute :] = True
                table[(day + 1) % 7, : self.end_minute] = True
            else:
                table[day, self.start_minute : self.end_minute] = True
        return table

    def mask(self, weekday: npt.ArrayLike, minute_of_day: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which events fall inside the window.

        ``weekday`` (0 = Monday ... 6 = Sunday) and ``minute_of_day`` (0..1439, local time) are
        integer arrays of broadcastable shapes; returns a bool array of the broadcast shape.
        Raises ValueError if any value is out of range.
        """
        wd = np.asarray(weekday)
        mn = np.asarray(minute_of_day)
        for name, arr, hi in (("weekday", wd, 6), ("minute_of_day", mn, MINUTES_PER_DAY - 1)):
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
            if arr.size and (int(arr.min()) < 0 or int(arr.max()) > hi):
                raise ValueError(f"{name} values must be in [0, {hi}]")
        result: npt.NDArray[np.bool_] = self.week_table()[wd, mn]
        return result

    def __str__(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in self.start_days)
        return f"{days} {_fmt_minute(self.start_minute)}-{_fmt_minute(self.end_minute)}"


def parse_window(text: str) -> TimeWindow:
    """Parse window text (see the module docstring) into a ``TimeWindow``.

    Raises ValueError naming the offending part when the text is malformed.
    """
    match = _WINDOW_RE.match(text)
    if match is None:
        raise ValueError(
            f"cannot parse time window {text!r}: expected '[DAYS] HH:MM-HH:MM', "
            "e.g. 'Fri-Sat 20:00-04:00' or '20:00-04:00'"
        )
    start = _parse_clock(match["start"], text, allow_24=False)
    end = _parse_clock(match["end"], text, allow_24=True)
    days_text = match["days"]
    days = tuple(range(7)) if days_text is None else _parse_days(days_text, text)
    return TimeWindow(start_days=days, start_minute=start, end_minute=end)


def _parse_clock(clock: str, text: str, *, allow_24: bool) -> int:
    hours_s, minutes_s = clock.split(":")
    hours, minutes = int(hours_s), int(minutes_s)
    if minutes > 59:
        raise ValueError(f"bad time {clock!r} in window {text!r}: minutes must be 00-59")
    if hours == 24 and minutes == 0:
        if not allow_24:
            raise ValueError(f"bad start time {clock!r} in window {text!r}: use 00:00")
        return MINUTES_PER_DAY
    if hours > 23:
        raise ValueError(f"bad time {clock!r} in window {text!r}: hours must be 00-23 (or 24:00)")
    return hours * 60 + minutes


def _parse_day(name: str, text: str) -> int:
    key = name.strip().lower()
    if key not in _DAY_INDEX:
        raise ValueError(
            f"unknown day {name.strip()!r} in window {text!r}: use Mon, Tue, Wed, Thu, Fri, "
            "Sat or Sun"
        )
    return _DAY_INDEX[key]


def _parse_days(days_text: str, text: str) -> tuple[int, ...]:
    days: set[int] = set()
    for part in days_text.split(","):
        if not part.strip():
            raise ValueError(f"empty day in window {text!r}")
        ends = part.split("-")
        if len(ends) == 1:
            days.add(_parse_day(ends[0], text))
        elif len(ends) == 2:
            first, last = _parse_day(ends[0], text), _parse_day(ends[1], text)
            days.update((first + i) % 7 for i in range((last - first) % 7 + 1))
        else:
            raise ValueError(f"bad day range {part.strip()!r} in window {text!r}")
    return tuple(sorted(days))


def _fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
