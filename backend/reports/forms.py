"""Report filters: bounded date ranges and groupings, parsed by Django forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Self

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from backend.accounts.models import Squad
from backend.config.dates import FIRST_SANE_DAY
from backend.reports.compliance import MAX_REPORT_DAYS, REPORT_GROUPINGS

GROUPING_LABELS = {
    "hotspot": "Hot spot",
    "officer": "Officer",
    "squad": "Squad",
    "shift": "Shift",
    "district": "District",
    "arm": "Experiment arm",
}
DEFAULT_DAYS = 7
EARLIEST = FIRST_SANE_DAY  # the window every date input shares (config/dates.py)


def default_range() -> tuple[date, date]:
    """The last ``DEFAULT_DAYS`` days up to yesterday (today is still being patrolled)."""
    yesterday = timezone.localdate() - timedelta(days=1)
    return yesterday - timedelta(days=DEFAULT_DAYS - 1), yesterday


class DateRangeForm(forms.Form):
    """``from`` and ``to`` (inclusive, agency-local days), at most ``MAX_REPORT_DAYS`` apart,
    not after today."""

    from_ = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}), required=True
    )
    to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}), required=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the field is ``from_`` and its form name is "from".
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["from", "to"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("from"), data.get("to")
        today = timezone.localdate()
        if first and first < EARLIEST:
            self.add_error("from", f"Pick a day on or after {EARLIEST:%-d %b %Y}.")
        if last and last > today:
            self.add_error("to", "Pick today or an earlier day: the future has no patrols yet.")
        if first and last:
            if last < first:
                self.add_error("to", "The last day is before the first day.")
            elif (last - first).days + 1 > MAX_REPORT_DAYS:
                self.add_error(
                    "to",
                    f"At most {MAX_REPORT_DAYS} days at once; this range has "
                    f"{(last - first).days + 1}. Shorten it or export a few ranges.",
                )
        return data

    @classmethod
    def from_query(
        cls,
        query: Mapping[str, Any],
        *,
        names: Sequence[str] = (),
        defaults: Mapping[str, str] | None = None,
    ) -> Self:
        """Bound to ``query`` when it carries any of the form's fields (``from``, ``to`` and
        ``names``); else bound to the defaults, so that a first visit shows the last week."""
        if any(k in query for k in ("from", "to", *names)):
            return cls(query)
        first, last = default_range()
        initial = {"from": first.isoformat(), "to": last.isoformat()}
        initial.update(defaults or {})
        return cls(initial)


class ComplianceFilterForm(DateRangeForm):
    by = forms.ChoiceField(
        label="Group by",
        choices=[(g, GROUPING_LABELS[g]) for g in REPORT_GROUPINGS],
        initial="hotspot",
        required=False,
    )

    @classmethod
    def from_query(
        cls,
        query: Mapping[str, Any],
        *,
        names: Sequence[str] = ("by",),
        defaults: Mapping[str, str] | None = None,
    ) -> Self:
        return super().from_query(query, names=names, defaults=defaults or {"by": "hotspot"})

    def clean_by(self) -> str:
        return str(self.cleaned_data.get("by") or "hotspot")


class RecomputeForm(DateRangeForm):
    """The range a "Recompute" button asks to rebuild, and where to go back to."""

    by = forms.ChoiceField(choices=[(g, g) for g in REPORT_GROUPINGS], required=False)


class SquadChoiceForm(forms.Form):
    """Which of the viewer's squads to show."""

    squad = forms.ModelChoiceField(queryset=Squad.objects.none(), label="Squad", empty_label=None)

    def __init__(self, *args: Any, squads: QuerySet[Squad], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["squad"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = squads


class SquadExportForm(SquadChoiceForm):
    """A download of the squad's shift visits: location data, so the viewer says why."""

    reason = forms.CharField(
        max_length=200,
        label="Why you need this export",
        help_text="Recorded in the audit log with your name, e.g. a complaint or case number.",
    )


class SnapshotDayForm(forms.Form):
    """The day whose daily snapshot a "Recompute" button rebuilds."""

    day = forms.DateField(error_messages={"invalid": "Day must be a date like 2026-11-25."})

    def clean_day(self) -> date:
        day: date = self.cleaned_data["day"]
        if not EARLIEST <= day <= timezone.localdate():
            raise forms.ValidationError(
                f"Pick a day from {EARLIEST:%-d %b %Y} to today: {day:%-d %b %Y} has no data."
            )
        return day


class LayerFormatForm(forms.Form):
    """``?format=`` of a map download: GeoJSON (the default) or a GeoPackage."""

    format = forms.ChoiceField(
        choices=[("geojson", "GeoJSON"), ("gpkg", "GeoPackage")], required=False
    )


class RecomputeJobForm(forms.Form):
    """The recompute job a page was sent back to watch (``?job=``)."""

    job = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
