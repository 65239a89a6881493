"""Small pieces every app's pages share for reading input through Django forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse


class PageForm(forms.Form):
    """``?page=``: the page of a paginated table."""

    page = forms.IntegerField(required=False)


def page_of(request: HttpRequest, items: Any, per_page: int) -> Page[Any]:
    """The ``?page=`` page of ``items``. A missing or malformed number shows the first page
    and one past the end the last, as ``Paginator.get_page`` does: a stale link still lands."""
    form = PageForm(request.GET)
    number = form.cleaned_data["page"] if form.is_valid() else None
    return Paginator(items, per_page).get_page(number)


def form_errors_text(form: forms.BaseForm) -> str:
    """Every error of ``form`` as one line naming each field: ``to: The last day is ...``."""
    return "; ".join(
        f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()
    )


def bad_request(form: forms.BaseForm) -> HttpResponse:
    """A plain-text 400 naming each refused field and why (for downloads, which have no page
    to show the form on)."""
    return HttpResponse(
        f"Bad request: {form_errors_text(form)}",
        status=400,
        content_type="text/plain; charset=utf-8",
    )
