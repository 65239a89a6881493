from __future__ import annotations

import numpy as np
import pytest

from backend.analytics.briefing import make_briefing, peak_times


def test_peak_block_wraps_midnight_and_names_adjacent_days_as_a_range() -> None:
    profile = np.zeros((7, 24))
    profile[4, 22] = 5  # Fri 22:00
    profile[4, 23] = 5  # Fri 23:00
    profile[5, 0] = 4  # Sat 00:00
    profile[5, 1] = 4  # Sat 01:00
    profile[0, 12] = 2  # Mon noon
    peak = peak_times(profile)
    # Block 22:00-02:00 holds 18 of 20 incidents; Fri 10 and Sat 8 are the busiest days.
    assert peak.start_hour == 22
    assert peak.block_share == pytest.approx(18 / 20)
    assert peak.days == (4, 5)
    assert peak.day_share == pytest.approx(18 / 20)
    assert peak.label == "Fri-Sat 22:00-02:00"


def test_non_adjacent_days_are_not_written_as_a_range() -> None:
    profile = np.zeros((7, 24))
    profile[0, 20] = 3  # Mon
    profile[5, 20] = 2  # Sat
    assert peak_times(profile).label == "Mon & Sat 18:00-22:00"
    sun_mon = np.zeros((7, 24))
    sun_mon[6, 9], sun_mon[0, 9] = 3, 2
    assert peak_times(sun_mon).label == "Sun-Mon 07:00-11:00"


def test_an_empty_profile_has_no_peak() -> None:
    peak = peak_times(np.zeros((7, 24)))
    assert (peak.days, peak.block_share) == ((), 0.0)


def test_briefing_states_rank_counts_harm_share_and_the_offence_behind_the_harm() -> None:
    profile = np.zeros((7, 24))
    profile[5, 21] = 12
    b = make_briefing(
        rank=2,
        n_hotspots=17,
        harm=1460.0,
        count=12,
        harm_share=0.0412,
        counts_by_offence={"Theft": 8, "Robbery": 4},
        profile=profile,
        lookback_days=365,
        harm_by_offence={"Theft": 40.0, "Robbery": 1460.0},
        recent=[{"when": "Sat 21 Nov 2026 21:10", "offence": "Robbery"}],
        tactics=["Walk it"],
    )
    assert b.why_here == (
        "Rank 2 of 17 for harm: 12 incidents in the last year (8 theft, 4 robbery); "
        "1,460 days of harm, 4.1% of all harm in the area."
    )
    assert b.one_line.startswith("#2: 12 incidents, most harm from robbery; peak Sat")
    assert b.as_dict()["tactics"] == ["Walk it"]
    assert b.as_dict()["peak_days"] == ["Sat"]
