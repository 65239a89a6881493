"""Workload page filters and the upload form, bounded as every input is."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from backend.config.dates import FIRST_SANE_DAY, SaneDateField
from backend.workload.imports import MAX_FILE_BYTES
from backend.workload.models import ImportKind
from backend.workload.selectors import DEFAULT_DAYS, MAX_DAYS, district_choices

EARLIEST = FIRST_SANE_DAY  # the window every date input shares (config/dates.py)


def default_range() -> tuple[date, date]:
    """The four weeks up to yesterday: every weekday occurs four times."""
    last = timezone.localdate() - timedelta(days=1)
    return last - timedelta(days=DEFAULT_DAYS - 1), last


class WorkloadFilterForm(forms.Form):
    district = forms.ChoiceField(label="District")
    from_ = SaneDateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    to = SaneDateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = district_choices()  # type: ignore[attr-defined]
        # "from" is a Python keyword: the field is ``from_`` and its form name is "from".
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["district", "from", "to"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("from"), data.get("to")
        if first and first < EARLIEST:
            self.add_error("from", f"Pick a day on or after {EARLIEST:%-d %b %Y}.")
        if last and last > timezone.localdate():
            self.add_error("to", "Pick today or an earlier day.")
        if first and last:
            if last < first:
                self.add_error("to", "The last day is before the first day.")
            elif (last - first).days + 1 > MAX_DAYS:
                self.add_error("to", f"At most {MAX_DAYS} days at once.")
        return data

    @classmethod
    def from_query(cls, query: Any) -> WorkloadFilterForm:
        if any(k in query for k in ("district", "from", "to")):
            return cls(query)
        first, last = default_range()
        return cls({"district": "citywide", "from": first.isoformat(), "to": last.isoformat()})


class WorkloadUploadForm(forms.Form):
    client_uuid = forms.UUIDField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(label="What the file holds", choices=ImportKind.choices)
    district = forms.ChoiceField(
        label="District (matrices only)",
        required=False,
        help_text="The district a 24x7 matrix describes, or Citywide. Calls and rosters name "
        "the district on every row.",
    )
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, at most 50 MB.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = district_choices()  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > MAX_FILE_BYTES:
            raise forms.ValidationError(f"The file is over {MAX_FILE_BYTES >> 20} MB.")
        return f
