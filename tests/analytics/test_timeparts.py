from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics.timeparts import local_parts


def test_new_york_dst_changes_are_respected() -> None:
    # 2026-03-08 07:30Z is 03:30 EDT (clocks jumped at 07:00Z); 06:30Z is 01:30 EST.
    # 2026-11-01 05:30Z is 01:30 EDT, 06:30Z is 01:30 EST (the repeated hour).
    t = [
        datetime(2026, 3, 8, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    ]
    parts = local_parts([x.timestamp() for x in t], "America/New_York")
    assert parts.hour.tolist() == [1, 3, 1, 1]
    assert parts.minute_of_day.tolist() == [90, 210, 90, 90]
    assert parts.weekday.tolist() == [6, 6, 6, 6]  # both are Sundays


@given(
    st.lists(st.integers(0, 2_000_000_000), min_size=1, max_size=50),
    st.sampled_from(["America/New_York", "Europe/London", "America/Chicago", "UTC"]),
)
def test_local_parts_match_python_datetime(seconds: list[int], zone: str) -> None:
    parts = local_parts(np.array(seconds, dtype=float), zone)
    tz = ZoneInfo(zone)
    epoch = datetime(1970, 1, 1).date()
    for i, s in enumerate(seconds):
        local = datetime.fromtimestamp(s, tz=UTC).astimezone(tz)
        assert parts.weekday[i] == local.weekday()
        assert parts.hour[i] == local.hour
        assert parts.minute_of_day[i] == local.hour * 60 + local.minute
        assert parts.day[i] == (local.date() - epoch) // timedelta(days=1)
