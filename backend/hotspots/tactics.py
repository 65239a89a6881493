"""Suggested tactics for a hot spot's briefing, chosen by the offence group with the most harm.

Hot spots sit below missions, so this module cannot read the Mission Menu itself: the missions
app registers a provider at start-up (``MissionsConfig.ready``) that returns the tactics of the
menu entry suiting a group. With no provider, or none that has tactics for the group, the
defaults below are used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

TacticsProvider = Callable[[str], Sequence[str]]

DEFAULT_TACTICS = (
    "Park, get out and walk the hot spot for 15 minutes",
    "Talk to people who live and work here",
    "Note and report conditions that invite crime",
)

_providers: list[TacticsProvider] = []


def tactics_provider_register(provider: TacticsProvider) -> None:
    """Add ``provider`` (offence group -> tactics, empty when it has none); once only."""
    if provider not in _providers:
        _providers.append(provider)


def tactics_for(group: str) -> list[str]:
    """The first registered provider's non-blank tactics for ``group``, else the defaults."""
    for provider in _providers:
        tactics = [t.strip() for t in provider(group) if t.strip()]
        if tactics:
            return tactics
    return list(DEFAULT_TACTICS)
