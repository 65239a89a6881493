"""The demo city's Mission Menu (``seed_demo``): four entries with their tactics."""

from __future__ import annotations

from backend.missions.models import MissionType

MENU = [
    (
        "Visible presence",
        "Be seen: park, get out, walk the hot spot.",
        15,
        "Park and walk the block\nTalk to business owners\nCheck the bus stop and corner store",
    ),
    (
        "Problem solving",
        "Note and report conditions that invite crime.",
        15,
        "Note broken lights and vacant lots\nReport graffiti and dumping\nLog each problem",
    ),
    (
        "Community engagement",
        "Build trust with people who live and work here.",
        20,
        "Introduce yourself\nHand out the community card\nAsk what worries them",
    ),
    (
        "Violence reduction",
        "Deter shootings and robberies at peak hours.",
        15,
        "Stand at the corner with the most incidents\nCheck known hangouts\nNo stops without cause",
    ),
]


def mission_menu_seed() -> int:
    """Add the demo Mission Menu entries that are missing (by name); how many were added.

    Existing entries, edited or not, are left as they are.
    """
    added = 0
    for name, objective, minutes, tactics in MENU:
        _, created = MissionType.objects.get_or_create(
            name=name,
            defaults={"objective": objective, "target_minutes": minutes, "tactics": tactics},
        )
        added += created
    return added
