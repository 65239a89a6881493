"""The shared input helpers of backend/config/forms.py, on a stand-alone form and request."""

from __future__ import annotations

import pytest
from django import forms
from django.test import RequestFactory

from backend.config.forms import bad_request, form_errors_text, page_of


class RangeForm(forms.Form):
    first = forms.IntegerField(min_value=1)
    last = forms.IntegerField()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", 1),  # no number: the first page
        ("?page=2", 2),
        ("?page=two", 1),  # malformed: the first page
        ("?page=99", 4),  # past the end: the last page (10 items, 3 a page: 3 + 3 + 3 + 1)
        ("?page=-1", 4),  # as Paginator.get_page treats any out-of-range number
    ],
)
def test_page_of_lands_on_a_page_whatever_the_link_says(query: str, expected: int) -> None:
    page = page_of(RequestFactory().get("/list/" + query), list(range(10)), 3)
    assert page.number == expected
    assert list(page.object_list) == list(range(10))[(expected - 1) * 3 : expected * 3]


def test_errors_name_each_field_in_one_line_and_a_400_carries_them() -> None:
    form = RangeForm({"first": "0", "last": "x"})
    assert not form.is_valid()
    expected = (
        "first: Ensure this value is greater than or equal to 1.; last: Enter a whole number."
    )
    assert form_errors_text(form) == expected
    response = bad_request(form)
    assert response.status_code == 400
    assert response.content.decode() == f"Bad request: {expected}"
