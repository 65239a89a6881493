"""The analysts' page input, parsed by Django forms: a new analysis and a harm index version.

The forms check types and presence; the services check the ranges (``AnalysisParams``, the
harm weights), so that a page and the API refuse the same values with the same words.
"""

from __future__ import annotations

from django import forms

from backend.config.dates import SaneDateField
from backend.hotspots.services import AnalysisParams


class AnalysisForm(forms.Form):
    """A new analysis: its as-of day and grid; empty numbers take the usual defaults."""

    as_of = SaneDateField(label="As of")
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
