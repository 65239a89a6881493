"""The analysts' page input, parsed by Django forms: a new analysis and a harm index version.

The forms check types and presence; the services check the ranges (``AnalysisParams``, the
harm weights), so that a page and the API refuse the same values with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from backend.hotspots.models import OffenceType
from backend.hotspots.services import AnalysisParams


class AnalysisForm(forms.Form):
    """A new analysis: its as-of day and grid; empty numbers take the usual defaults."""

    as_of = forms.DateField(label="As of")
    lookback_days = forms.IntegerField(label="Look-back (days)", required=False)
    cell_size_m = forms.FloatField(label="Cell size (metres)", required=False)
    top_k = forms.IntegerField(label="Top cells per district", required=False)
    window = forms.CharField(label="Time window", required=False, max_length=200)
    district = forms.IntegerField(label="District", required=False, min_value=1)
    publish = forms.BooleanField(label="Publish when finished", required=False)

    def params(self) -> AnalysisParams:
        """The valid form as the analysis service's parameters."""
        d = self.cleaned_data
        return AnalysisParams(
            as_of=d["as_of"],
            lookback_days=d["lookback_days"] or 365,
            cell_size_m=d["cell_size_m"] or 150,
            top_k=d["top_k"] or 20,
            window=d["window"],
            district_id=d["district"],
        )


class _DaysField(forms.FloatField):
    """A weight in days; blank (spaces too) means "not changed"."""

    def clean(self, value: Any) -> Any:
        return super().clean(value.strip() if isinstance(value, str) else value)


class HarmIndexForm(forms.Form):
    """A new harm index version: one optional weight (days) per offence, ``w-<code>``, and a
    note. An empty weight leaves that offence out of the new version's changes."""

    note = forms.CharField(required=False, strip=False)

    def __init__(self, *args: Any, offences: Iterable[OffenceType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offences = {f"w-{o.code}": o for o in offences}
        for name, offence in self.offences.items():
            self.fields[name] = _DaysField(
                label=offence.name,
                required=False,
                error_messages={"invalid": "is not a number"},
            )

    def weights(self) -> dict[str, float]:
        """The valid form's weights by offence code (the offences left empty are absent)."""
        return {
            offence.code: self.cleaned_data[name]
            for name, offence in self.offences.items()
            if self.cleaned_data.get(name) is not None
        }

    def error_lines(self) -> list[str]:
        """One line per refused field, naming the offence and the value sent."""
        lines = []
        for name, errors in self.errors.items():
            offence = self.offences.get(name)
            if offence is None:
                lines.append(f"{name}: {' '.join(str(e) for e in errors)}")
            else:
                raw = self.data.get(name, "")
                lines.append(f"{offence.name}: {raw!r} {' '.join(str(e) for e in errors)}")
        return lines
