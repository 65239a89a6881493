from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from backend.accounts.navigation import areas_for
from backend.accounts.permissions import SignedInRequest
from backend.accounts.selectors import district_list, squad_list_for


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    """The role-aware landing page: the areas this user may use, and their squad."""
    return render(
        request,
        "accounts/home.html",
        {
            "areas": areas_for(request.user),
            "squads": squad_list_for(user=request.user),
            "districts": district_list(),
        },
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
