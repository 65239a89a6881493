"""The officer's one sentence (``backend.analytics.street``), worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from backend.analytics.briefing import make_briefing
from backend.analytics.street import (
    offence_plural,
    street_brief,
    street_sentence,
    time_of_day,
)


@pytest.mark.parametrize(
    ("name", "spoken"),
    [
        ("Robbery", "Robberies"),
        ("Robbery of business property", "Robberies of business property"),
        ("Theft / larceny (other)", "Thefts"),
        ("Homicide / murder", "Homicides"),
        ("Assault with injury (UK ABH)", "Assaults with injury"),
        ("Bicycle theft", "Bicycle thefts"),
        ("Drug possession", "Drug possession"),  # a mass noun: no plural
        ("Trespass", "Trespass"),
        ("Shoplifting", "Shoplifting"),
        ("Driving under the influence", "Driving under the influence"),
        ("GBH with intent / wounding (UK s.18)", "GBH with intent"),
        ("Weapons possession", "Weapons possession"),
    ],
)
def test_offence_names_become_what_people_say_of_several(name: str, spoken: str) -> None:
    assert offence_plural(name) == spoken


@pytest.mark.parametrize(
    ("start", "words"),
    [
        (20, "at night"),  # 20:00-00:00, middle 22:00
        (22, "at night"),  # 22:00-02:00, middle 00:00
        (1, "at night"),  # 01:00-05:00, middle 03:00
        (3, "in the morning"),  # 03:00-07:00, middle 05:00: the morning's first hour
        (8, "in the morning"),  # middle 10:00
        (10, "in the afternoon"),  # middle 12:00
        (14, "in the afternoon"),  # middle 16:00
        (15, "in the evening"),  # middle 17:00
        (18, "in the evening"),  # middle 20:00
        (19, "at night"),  # middle 21:00
    ],
)
def test_time_of_day_is_judged_by_the_middle_of_the_block(start: int, words: str) -> None:
    assert time_of_day(start) == words


def test_the_sentence_of_the_issue() -> None:
    s = street_sentence(
        offence="Robbery",
        address="0 block of W Madison St",
        peak_start_hour=20,
        peak_label="Fri-Sat 20:00-00:00",
        peak_share=0.4,
    )
    assert s == "Robberies at night near 0 block of W Madison St; busiest Fri-Sat 20:00-00:00"


def test_a_flat_profile_says_no_time_of_day_and_no_incidents_says_no_peak() -> None:
    # 0.2 of incidents in the busiest 4 hours is close to the uniform 4/24 = 0.167: no peak.
    flat = street_sentence(
        offence="Burglary",
        address="41.88300, -87.63100",
        peak_start_hour=9,
        peak_label="Mon-Tue 09:00-13:00",
        peak_share=0.2,
    )
    assert flat == "Burglaries near 41.88300, -87.63100; busiest Mon-Tue 09:00-13:00"
    none = street_sentence(offence="", address="41.88300, -87.63100")
    assert none == "Marked by an analyst near 41.88300, -87.63100"


def test_from_a_stored_briefing_the_offence_behind_most_harm_leads() -> None:
    # 6 thefts (5 days each = 30) and 2 robberies (365 each = 730): robbery leads on harm.
    # All 8 incidents on Friday (weekday 4) 21:00 and Saturday (5) 22:00: the 4-hour block
    # that centres them starts at 20:00 (20, 21, 22, 23 hold all 8), share 1.0.
    profile = np.zeros((7, 24))
    profile[4, 21] = 5
    profile[5, 22] = 3
    b = make_briefing(
        rank=1,
        n_hotspots=3,
        harm=760.0,
        count=8,
        harm_share=0.5,
        counts_by_offence={"Theft / larceny (other)": 6, "Robbery": 2},
        profile=profile,
        lookback_days=365,
        harm_by_offence={"Theft / larceny (other)": 30.0, "Robbery": 730.0},
    )
    stored = b.as_dict()
    assert stored["lead_offence"] == "Robbery"
    assert street_brief(stored, "0 block of W Madison St") == (
        "Robberies at night near 0 block of W Madison St; busiest Fri-Sat 20:00-00:00"
    )
    # A briefing stored before ``lead_offence`` existed: its most frequent offence leads.
    old = {k: v for k, v in stored.items() if k != "lead_offence"}
    assert street_brief(old, "0 block of W Madison St").startswith("Thefts at night near")
