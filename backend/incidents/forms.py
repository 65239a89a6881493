"""Forms of the import pages: the upload with its column mapping, and mapping unknown offences."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from backend.incidents.mapping import FIELDS, HASH_ID
from backend.incidents.selectors import column_mapping_list, offence_choices


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Incident file (CSV or CSV.gz)",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".csv,.gz,.txt,text/csv,application/gzip"}
        ),
    )
    source = forms.CharField(
        label="Source (records system)",
        required=False,
        max_length=60,
        help_text="Ids are unique per source. Default: the saved mapping's, else the file name.",
    )
    mapping = forms.ChoiceField(label="Saved column mapping", required=False)
    col_id = forms.CharField(
        label="Id column",
        required=False,
        help_text=f"Leave empty or write {HASH_ID} when the file has no id column.",
    )
    col_occurred_at = forms.CharField(label="Time column", required=False)
    col_lat = forms.CharField(label="Latitude column", required=False)
    col_lon = forms.CharField(label="Longitude column", required=False)
    col_offence = forms.CharField(label="Offence column", required=False)
    col_premise = forms.CharField(label="Premise (place type) column", required=False)
    tz = forms.CharField(
        label="Time zone of local times",
        required=False,
        max_length=64,
        help_text=f"e.g. America/Chicago; empty: the mapping's, else {settings.TIME_ZONE}.",
    )
    offence = forms.ChoiceField(label="One offence for every row", required=False)
    save_as = forms.CharField(label="Save this mapping as", required=False, max_length=80)
    client_uuid = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(column_mapping_list().values_list("name", flat=True))
        self.fields["mapping"].choices = [("", "None: map the columns below")] + [
            (n, n) for n in names
        ]
        self.fields["offence"].choices = [
            ("", "None: the file has an offence column"),
            *offence_choices(),
        ]

    def columns(self) -> dict[str, str]:
        """{field: column} as typed (empty where not mapped); call after ``is_valid``."""
        return {f: self.cleaned_data.get(f"col_{f}", "").strip() for f in FIELDS}


class OffenceMapForm(forms.Form):
    """One offence picker per unknown file value (``offence-<n>``, in the import's order) and
    where to save the aliases."""

    target = forms.ChoiceField(
        choices=[("offence", "offence types"), ("mapping", "the saved mapping")],
        required=False,
    )

    def __init__(self, *args: Any, values: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.values = values
        choices = [("", ""), *offence_choices()]
        for n, _ in enumerate(values):
            self.fields[f"offence-{n}"] = forms.ChoiceField(choices=choices, required=False)

    def aliases(self) -> dict[str, str]:
        """{file value: offence code} for the values given an offence; after ``is_valid``."""
        return {
            value: self.cleaned_data[f"offence-{n}"]
            for n, value in enumerate(self.values)
            if self.cleaned_data.get(f"offence-{n}")
        }


class HarmIndexForm(forms.Form):
    """A new harm index version: one weight (days of custody) per offence, blank to keep the
    current one, and a note."""

    note = forms.CharField(required=False, max_length=500)

    def __init__(self, *args: Any, offences: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, name in offences:
            self.fields[f"w-{code}"] = forms.FloatField(required=False, min_value=0, label=name)
        self.codes = [code for code, _ in offences]

    def weights(self) -> dict[str, float]:
        """{offence code: days} for the weights given; after ``is_valid``."""
        return {
            code: self.cleaned_data[f"w-{code}"]
            for code in self.codes
            if self.cleaned_data.get(f"w-{code}") is not None
        }
