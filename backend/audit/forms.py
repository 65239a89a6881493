"""The audit page's filters, read through a form: bounded text and dates in the sane window."""

from __future__ import annotations

from typing import Any

from django import forms

from backend.audit.selectors import AuditFilter
from backend.config.dates import SaneDateField


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, max_length=150, label="Who acted (username)")
    subject = forms.CharField(required=False, max_length=150, label="Whose data (username)")
    action = forms.CharField(
        required=False,
        max_length=80,
        label="Action",
        help_text='Exact, e.g. "track.read", or a family ending in a dot, e.g. "mission."',
    )
    object_type = forms.CharField(required=False, max_length=80, label="Object type")
    object_id = forms.CharField(required=False, max_length=64, label="Object id")
    from_ = SaneDateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    to = SaneDateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword: the field is ``from_`` and its form name is "from".
        self.fields["from"] = self.fields.pop("from_")
        self.order_fields(["actor", "subject", "action", "object_type", "object_id", "from", "to"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("from"), data.get("to")
        if first and last and last < first:
            self.add_error("to", "The last day is before the first day.")
        return data

    def filters(self) -> AuditFilter:
        """The filters of a valid form."""
        d = self.cleaned_data
        return AuditFilter(
            actor=d["actor"].strip(),
            subject=d["subject"].strip(),
            action=d["action"].strip(),
            object_type=d["object_type"].strip(),
            object_id=d["object_id"].strip(),
            first=d.get("from"),
            last=d.get("to"),
        )
