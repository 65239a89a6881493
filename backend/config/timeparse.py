"""Local wall-clock times to UTC, vectorized and DST-correct, and parsing of time columns.

Times are int64 seconds since 1970-01-01T00:00 throughout: a *local* value counts wall-clock
seconds as if the local zone were UTC; a *UTC* value is an ordinary epoch instant.

DST rules, as zoneinfo applies them with ``fold=0``: a local time in the repeated hour of the
autumn change is read as its first occurrence (daylight time, e.g. 01:30 EDT); a local time in
the hour skipped in spring takes the offset in force before the change (02:30 in New York on
the spring-forward day is read as 02:30 EST = 07:30Z, which is 03:30 EDT).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_EPOCH = datetime(1970, 1, 1)
_HOUR = 3600

TIME_FORMATS_HELP = (
    "ISO-8601 such as 2024-05-01 21:30, 2024-05-01T21:30:00Z or 2024-05-01T21:30:00-04:00, "
    "or MM/DD/YYYY HH:MM[:SS] [AM|PM]"
)

_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?")


def _offset_seconds(local_seconds: int, tz: ZoneInfo) -> int:
    wall = _EPOCH + timedelta(seconds=local_seconds)
    offset = wall.replace(tzinfo=tz).utcoffset()
    if offset is None:  # a ZoneInfo always answers; the check is for the type
        raise ValueError(f"{tz} gives no UTC offset for {wall}")
    return int(offset.total_seconds())


def _offsets(local: IntArray, tz: ZoneInfo, spans: tuple[int, ...]) -> IntArray:
    """UTC offsets (seconds) of local times, looked up once per distinct span (day, then hour).

    Where the offsets at a span's first and last second agree, the span is taken to have one
    offset; a span where they differ is split into the next, smaller spans, and after the last
    every time is looked up on its own.
    """
    if not spans:
        return np.array([_offset_seconds(int(s), tz) for s in local], dtype=np.int64)
    span = spans[0]
    keys, inverse = np.unique(local // span, return_inverse=True)
    start = np.array([_offset_seconds(int(k) * span, tz) for k in keys], dtype=np.int64)
    end = np.array([_offset_seconds(int(k) * span + span - 1, tz) for k in keys], np.int64)
    out = start[inverse]
    changing = (start != end)[inverse]
    if changing.any():
        out[changing] = _offsets(local[changing], tz, spans[1:])
    return out


def local_to_utc(local_seconds: npt.ArrayLike, tz: ZoneInfo) -> IntArray:
    """Convert local wall-clock seconds (int64, any shape) in ``tz`` to UTC epoch seconds.

    The UTC offset is looked up per distinct local day, per hour only on the days when the
    clocks change, and per time only in an hour when they change off the hour: millions of
    times cost a few thousand lookups, and the result equals zoneinfo's for every time.
    """
    local = np.asarray(local_seconds, dtype=np.int64)
    if local.size == 0:
        return local.copy()
    flat = local.reshape(-1)
    return (flat - _offsets(flat, tz, (86_400, _HOUR))).reshape(local.shape)


@dataclass(frozen=True, eq=False)
class ParsedTimes:
    """A time column parsed: ``utc`` epoch seconds where ``ok``; ``naive`` marks local times.

    ``utc`` is meaningless where ``ok`` is False; ``missing`` marks empty cells.
    """

    utc: IntArray
    ok: BoolArray
    naive: BoolArray
    missing: BoolArray


def _looks_like_iso_dates(values: npt.NDArray[np.str_]) -> bool:
    """True if every value starts ``DDDD-DD-DD`` (numpy would also accept "now" or "2024")."""
    if values.size == 0 or values.dtype.itemsize // 4 < 10:
        return False
    codes = values.view(np.uint32).reshape(values.size, -1)[:, :10]
    digits = (codes >= ord("0")) & (codes <= ord("9"))
    dashes = codes[:, [4, 7]] == ord("-")
    return bool(digits[:, [0, 1, 2, 3, 5, 6, 8, 9]].all() and dashes.all())


def _read_datetime(text: str) -> datetime | None:
    """ISO-8601 or ``MM/DD/YYYY HH:MM[:SS] [AM|PM]`` as a datetime (naive when the text gives no
    offset), or None if it is neither."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        m = _US.fullmatch(text)
        if m is None:
            return None
        month, day, year, hour, minute, second, ampm = m.groups()
        h = int(hour)
        if ampm:
            if not 1 <= h <= 12:
                return None
            h = h % 12 + (12 if ampm.lower() == "pm" else 0)
        try:
            return datetime(int(year), int(month), int(day), h, int(minute), int(second or 0))
        except ValueError:
            return None


def parse_time(text: str, tz: ZoneInfo) -> datetime | None:
    """One value as an aware UTC datetime (a value without an offset is wall time in ``tz``,
    read with ``fold=0``), or None if it is not a time we read. The one-value form of
    :func:`parse_times`, for files read row by row."""
    parsed = _read_datetime(text.strip()) if text.strip() else None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _parse_one(text: str) -> tuple[int, bool] | None:
    """(seconds, naive) for one value, or None if it is not a time we read."""
    parsed = _read_datetime(text)
    if parsed is None:
        return None
    if parsed.tzinfo is not None:
        return int(parsed.timestamp() // 1), False
    return (parsed - _EPOCH) // timedelta(seconds=1), True


def parse_times(values: Sequence[str], tz: ZoneInfo) -> ParsedTimes:
    """Parse a column of time strings; local times (no offset) are read in ``tz``.

    Accepts ISO-8601 (``T`` or space, minute or second resolution, optional fraction, optional
    ``Z`` or ``+HH:MM`` offset) and ``MM/DD/YYYY HH:MM[:SS] [AM|PM]``. Fractions of a second
    are dropped. A time with an offset is converted to UTC as it says; a time without one is
    local to ``tz`` (see the module docstring for DST). The whole column goes through numpy in
    one call when every value is a plain ISO local time; otherwise each value is parsed alone.
    """
    n = len(values)
    local = np.zeros(n, dtype=np.int64)
    ok = np.ones(n, dtype=bool)
    naive = np.ones(n, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    fast = False
    arr = np.asarray(values, dtype=np.str_)
    if _looks_like_iso_dates(arr):
        try:
            with warnings.catch_warnings():
                # numpy warns when a value carries an offset: those take the per-value path.
                warnings.simplefilter("error")
                stamps = arr.astype("datetime64[s]")
            fast = not np.isnat(stamps).any()
        except (ValueError, UserWarning, DeprecationWarning):
            fast = False
        if fast:
            local = stamps.astype(np.int64)
    if not fast:
        for i, raw in enumerate(values):
            text = raw.strip()
            if not text:
                ok[i] = False
                missing[i] = True
                continue
            one = _parse_one(text)
            if one is None:
                ok[i] = False
                continue
            local[i], naive[i] = one
    utc = local.copy()
    convert = ok & naive
    if convert.any():
        utc[convert] = local_to_utc(local[convert], tz)
    return ParsedTimes(utc=utc, ok=ok, naive=naive & ok, missing=missing)


def utc_datetimes(utc_seconds: npt.ArrayLike) -> list[datetime]:
    """Epoch seconds to aware UTC datetimes."""
    return [datetime.fromtimestamp(s, tz=UTC) for s in np.asarray(utc_seconds, np.int64).tolist()]
