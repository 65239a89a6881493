from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from backend.accounts.factor import factor_enrolled, factor_required
from backend.accounts.middleware import session_factor_verified
from backend.accounts.models import Role
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


class LoginView(auth_views.LoginView):
    """Sign-in; with no ``next``, an officer lands in the phone app (``/app/``), everyone else
    on the role-aware landing page."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if getattr(user, "role", None) == Role.OFFICER:
            return reverse("app:index")
        return super().get_default_redirect_url()

    def get_success_url(self) -> str:
        """Where the password leads: for a role that needs a second factor, the code page (or
        enrolment), which then goes on to the page asked for."""
        then = super().get_success_url()
        user = self.request.user
        if not factor_required(user) or session_factor_verified(self.request):
            return then
        target = "factor-verify" if factor_enrolled(user) else "factor-enrol"
        return f"{reverse(target)}?{urlencode({'next': then})}"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django-level 400s (a body over the size limit, a bad host): JSON with the reason on the
    API, where a phone reads it; a page elsewhere."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail, status = f"request body larger than {limit} bytes: send smaller batches", 413
    elif isinstance(exception, TooManyFieldsSent):
        detail, status = "too many form fields in the request", 400
    else:
        detail, status = "bad request", 400
    if _is_api(request):
        return JsonResponse({"detail": detail}, status=status)
    return render(request, "errors/400.html", {"detail": detail}, status=status)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return render(request, "errors/403.html", status=403)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """An address no route matches: JSON on the API (a phone reads the reason), a page
    elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "errors/404.html", status=404)


def error_500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "server error: the request was not completed"}, status=500)
    return render(request, "errors/500.html", status=500)
