"""The sergeant's board: its query and its three posts (schedule, assign, cancel) parsed by
Django forms. A squad is one the user leads; "assign to" offers the squad's officers only, with
none chosen, and refuses anyone else."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from backend.accounts.models import Squad, User
from backend.config.dates import SaneDateField, SaneDateTimeField
from backend.missions.models import MissionType


def officer_label(user: User) -> str:
    """How the board names an officer: name and badge number (names repeat)."""
    name = user.get_full_name() or user.username
    return f"{name} · #{user.badge_number}" if user.badge_number else name


class OfficerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return officer_label(obj)


class BoardQueryForm(forms.Form):
    """``?squad=&date=&page=``: a bad or foreign squad falls back to the first one led, a bad
    date to today (the board always shows something)."""

    squad = forms.IntegerField(required=False, min_value=1)
    date = SaneDateField(required=False)
    page = forms.IntegerField(required=False, min_value=1)

    def squad_in(self, squads: QuerySet[Squad]) -> Squad | None:
        sid = self.cleaned_data.get("squad") if self.is_valid() else None
        return (squads.filter(pk=sid).first() if sid else None) or squads.first()

    def day(self) -> dt.date:
        day = self.cleaned_data.get("date") if self.is_valid() else None
        return day or timezone.localdate()

    def page_number(self) -> int:
        return (self.cleaned_data.get("page") if self.is_valid() else None) or 1


class _SquadDayForm(forms.Form):
    squad = forms.ModelChoiceField(queryset=Squad.objects.none())
    date = SaneDateField()

    def __init__(self, *args: Any, squads: QuerySet[Squad], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["squad"].queryset = squads  # type: ignore[attr-defined]


class ScheduleForm(_SquadDayForm):
    mission_type = forms.ModelChoiceField(
        queryset=MissionType.objects.filter(is_active=True), required=False
    )
    replace = forms.BooleanField(required=False)


class AssignForm(_SquadDayForm):
    """A mission by hand. ``officer`` is one of the squad's officers (checked in ``clean``,
    since the squad is a field of the same form)."""

    officer = OfficerChoiceField(
        queryset=User.objects.none(), label=_("Assign to"), empty_label=_("Choose an officer")
    )
    hotspot = forms.IntegerField(min_value=1, label=_("Hot spot"))
    window_start = SaneDateTimeField(
        label=_("Start"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
    )
    minutes = forms.IntegerField(min_value=1, max_value=720, initial=15, label=_("Minutes"))
    mission_type = forms.ModelChoiceField(
        queryset=MissionType.objects.filter(is_active=True), required=False
    )

    def __init__(self, *args: Any, squads: QuerySet[Squad], officers: QuerySet[User], **kw: Any):
        super().__init__(*args, squads=squads, **kw)
        self.fields["officer"].queryset = officers  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        squad, officer = data.get("squad"), data.get("officer")
        if squad is not None and officer is not None and officer.squad_id != squad.pk:
            self.add_error("officer", _("Choose an officer of %(squad)s.") % {"squad": squad})
        return data


class CancelForm(forms.Form):
    note = forms.CharField(required=False, max_length=500)


class MissionActForm(forms.Form):
    """An officer's step on their own mission from the "My missions" page."""

    action = forms.ChoiceField(
        choices=[(a, a) for a in ("accept", "arrive", "complete", "interrupt", "decline")]
    )
    reason = forms.CharField(required=False, max_length=40)
    note = forms.CharField(required=False, max_length=2000)
