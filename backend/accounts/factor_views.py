"""The second factor's pages: enter a code after the password, or enrol an authenticator.

Both pages need a signed-in user whose role needs the factor; ``SecondFactorRequiredMiddleware``
sends every other page of an unverified session here. A locked account (``lockout.py``) is signed
out instead of being asked for a code.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login

from backend.accounts.factor import (
    CODE_MAX_LENGTH,
    FactorThrottled,
    factor_enrol_confirm,
    factor_enrolled,
    factor_enrolment_start,
    factor_qr_svg,
    factor_required,
    factor_secret,
    factor_verify,
)
from backend.accounts.lockout import account_is_locked
from backend.accounts.middleware import session_factor_verified
from backend.accounts.permissions import SignedInRequest
from backend.accounts.signin_throttle import signin_failure_note
from backend.audit.services import request_ip


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=CODE_MAX_LENGTH,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "none",
                "autofocus": True,
            }
        ),
    )


def _next_url(request: SignedInRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("app:index") if request.user.role == "officer" else reverse("home")


def _locked_out(request: SignedInRequest) -> HttpResponse | None:
    if account_is_locked(username=request.user.get_username()):
        logout(request)
        return render(request, "accounts/locked_out.html", status=403)
    return None


def _wrong_code(request: SignedInRequest, form: CodeForm, message: str) -> None:
    signin_failure_note(ip=request_ip(request))
    form.add_error("code", message)


@login_required
def factor_verify_page(request: SignedInRequest) -> HttpResponse:
    """Ask for a code from the authenticator app, or one recovery code."""
    if not factor_required(request.user) or session_factor_verified(request):
        return HttpResponseRedirect(_next_url(request))
    if not factor_enrolled(request.user):
        return redirect(f"{reverse('factor-enrol')}?{request.GET.urlencode()}")
    locked = _locked_out(request)
    if locked:
        return locked
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = factor_verify(
                user=request.user, code=form.cleaned_data["code"], ip=request_ip(request)
            )
        except FactorThrottled as exc:
            form.add_error("code", f"Too many wrong codes: try again in {exc.retry_after} s.")
            status = 429
        else:
            if device is not None:
                otp_login(request, device)
                return HttpResponseRedirect(_next_url(request))
            _wrong_code(request, form, "That code is wrong or was already used.")
    return render(
        request,
        "accounts/factor_verify.html",
        {"form": form, "next": _next_url(request)},
        status=status,
    )


@login_required
def factor_enrol_page(request: SignedInRequest) -> HttpResponse:
    """Enrol an authenticator: its QR code and secret, confirmed by a first code; then the
    recovery codes, shown on this one response only."""
    if not factor_required(request.user) or session_factor_verified(request):
        return HttpResponseRedirect(_next_url(request))
    if factor_enrolled(request.user):
        # Replacing an authenticator is an administrator's reset, never a signed-in session's.
        return redirect(f"{reverse('factor-verify')}?{request.GET.urlencode()}")
    locked = _locked_out(request)
    if locked:
        return locked
    device = factor_enrolment_start(user=request.user)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = factor_enrol_confirm(
                user=request.user, code=form.cleaned_data["code"], ip=request_ip(request)
            )
        except FactorThrottled as exc:
            form.add_error("code", f"Too many wrong codes: try again in {exc.retry_after} s.")
            status = 429
        else:
            if codes is not None:
                device.refresh_from_db()
                otp_login(request, device)
                context: dict[str, Any] = {"codes": codes, "next": _next_url(request)}
                response = render(request, "accounts/factor_recovery_codes.html", context)
                response["Cache-Control"] = "no-store"
                return response
            _wrong_code(request, form, "That code is wrong: check the phone's clock and retry.")
    response = render(
        request,
        "accounts/factor_enrol.html",
        {
            "form": form,
            "next": _next_url(request),
            "qr_svg": factor_qr_svg(device=device),
            "secret": factor_secret(device=device),
        },
        status=status,
    )
    response["Cache-Control"] = "no-store"  # the secret must not stay in a cache
    return response
