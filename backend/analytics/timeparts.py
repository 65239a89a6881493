"""UTC instants to agency-local calendar parts, vectorized and DST-correct."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True, eq=False)
class LocalParts:
    """Local calendar parts of instants, each an int64 array shaped like the input.

    weekday: 0 = Monday .. 6; hour: 0..23; minute_of_day: 0..1439; day: local days since
    1970-01-01 (so equal values mean the same local date).
    """

    weekday: IntArray
    hour: IntArray
    minute_of_day: IntArray
    day: IntArray


def _offset_s(instant: datetime) -> float:
    """The UTC offset, in seconds, of an aware ``instant``."""
    offset = instant.utcoffset()
    if offset is None:
        raise ValueError("a naive datetime has no UTC offset")
    return offset.total_seconds()


def local_parts(t_utc: npt.ArrayLike, time_zone: str) -> LocalParts:
    """Split UTC epoch seconds ``t_utc`` into local parts in IANA zone ``time_zone``.

    The UTC offset is looked up once per distinct UTC hour: exact wherever offset changes
    happen on a whole UTC hour (every US, Canadian and European zone since the 1970s); millions
    of instants cost a few thousand lookups.
    """
    t = np.asarray(t_utc, dtype=np.float64)
    tz = ZoneInfo(time_zone)
    hour_key = np.floor(t / 3600.0).astype(np.int64)
    keys, inverse = np.unique(hour_key, return_inverse=True)
    offsets = np.array(
        [_offset_s(datetime.fromtimestamp(int(k) * 3600, tz=UTC).astimezone(tz)) for k in keys],
        dtype=np.float64,
    )
    local = np.floor(t + (offsets[inverse] if keys.size else 0.0)).astype(np.int64)
    day = local // 86400
    minute = (local % 86400) // 60
    return LocalParts(
        weekday=((day + _EPOCH_WEEKDAY) % 7).astype(np.int64),
        hour=(minute // 60).astype(np.int64),
        minute_of_day=minute.astype(np.int64),
        day=day.astype(np.int64),
    )
