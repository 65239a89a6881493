"""The second factor: a TOTP authenticator (RFC 6238) with one-time recovery codes (django-otp).

Who needs it: sergeants, supervisors, analysts and administrators, and anyone who can use the
admin site (``is_staff``); officers too when ``PRESENCE_OTP_REQUIRED_FOR_OFFICERS`` is set.
Service accounts (the AVL feed) never: they have no person to hold a phone, and their token
reaches only the feed's endpoint.

- **Enrolment** (``factor_enrolment_start`` then ``factor_enrol_confirm``): an unconfirmed TOTP
  device is made; the user scans its QR code (or types its secret), and the first right code
  confirms it, replaces any earlier device and issues ``PRESENCE_RECOVERY_CODES`` recovery codes,
  shown once.
- **Verification** (``factor_verify``): a TOTP code or a recovery code. A TOTP code is accepted
  once only (django-otp keeps the last accepted time step, ``last_t``, and accepts only later
  steps); a recovery code is deleted when used. A wrong code makes the device wait 1 s, then
  2, 4, 8... before it checks another (django-otp's throttle, reset only by a right code).
- **Reset** (``factor_reset``): an administrator deletes a user's devices and API token; the
  user enrols again at the next sign-in.

Enrolment, reset and every wrong code write an audit row.
"""

from __future__ import annotations

import math
from base64 import b32encode
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.accounts.models import Role
from backend.accounts.tokens import token_revoke
from backend.audit.services import audit_record

ENROLMENT_DEVICE_NAME = "enrolment"
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"
TOTP_DIGITS = 6  # django-otp's default for new devices, and what authenticator apps show
# Codes are digits (TOTP) or 8 letters and digits (recovery): anything longer is not a code.
CODE_MAX_LENGTH = 16


class FactorThrottled(Exception):
    """The device waits after wrong codes: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong codes: try again in {retry_after} s")
        self.retry_after = retry_after


def factor_required(user: Any) -> bool:
    """True if ``user``'s role must pass a second factor to sign in."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True  # the admin site's users, whatever their role
    if user.role == Role.OFFICER:
        return bool(settings.PRESENCE_OTP_REQUIRED_FOR_OFFICERS)
    return bool(user.role != Role.SERVICE)


def factor_enrolled(user: Any) -> bool:
    """True if ``user`` has a confirmed authenticator."""
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def factor_enrolment_start(*, user: Any) -> Any:
    """The unconfirmed TOTP device ``user`` is enrolling (made on the first call, then the same
    one, so reloading the page shows the same QR code)."""
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name=ENROLMENT_DEVICE_NAME, confirmed=False
    )
    return device


def factor_qr_svg(*, device: Any) -> str:
    """The device's ``otpauth://`` address as an inline SVG QR code (for an authenticator app)."""
    return str(segno.make(device.config_url, error="m").svg_inline(scale=5, border=2))


def factor_secret(*, device: Any) -> str:
    """The device's secret in base32 (what an authenticator app asks for when typed by hand),
    in groups of four."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _recovery_codes_issue(*, user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.PRESENCE_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def _throttle_wait(device: Any) -> int:
    allowed, data = device.verify_is_allowed()
    if allowed or not data or "locked_until" not in data:
        return 0
    wait: float = (data["locked_until"] - timezone.now()).total_seconds()
    return max(1, math.ceil(wait))


@transaction.atomic
def factor_enrol_confirm(*, user: Any, code: str, ip: str | None = None) -> list[str] | None:
    """Confirm ``user``'s enrolment with a code from the new authenticator: the device becomes
    their only one and fresh recovery codes are returned (to show once). None if the code is
    wrong (audited as a failure). Raises :class:`FactorThrottled` while the device waits."""
    device = (
        TOTPDevice.objects.select_for_update()
        .filter(user=user, name=ENROLMENT_DEVICE_NAME, confirmed=False)
        .first()
    )
    if device is None:
        return None
    wait = _throttle_wait(device)
    if wait:
        raise FactorThrottled(wait)
    if not device.verify_token(code.strip()):
        audit_record(
            actor=user,
            action="factor.failure",
            obj=user,
            subject=user,
            after={"step": "enrol"},
            ip=ip,
        )
        return None
    replaced = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()[0]
    device.name = AUTHENTICATOR_NAME
    device.confirmed = True
    device.save(update_fields=["name", "confirmed"])
    codes = _recovery_codes_issue(user=user)
    audit_record(
        actor=user,
        action="factor.enrol",
        obj=user,
        subject=user,
        after={"recovery_codes": len(codes), "replaced_devices": replaced},
        ip=ip,
    )
    return codes


def factor_verify(*, user: Any, code: str, ip: str | None = None, via: str = "web") -> Any:
    """The device that accepts ``code`` (a TOTP code not used before, or an unused recovery
    code, which is then spent), or None (audited as a failure). Raises :class:`FactorThrottled`
    while the devices wait after wrong codes. ``via``: ``web`` or ``api``, for the audit."""
    code = code.strip().replace(" ", "").lower()
    # A 6-digit code is the authenticator's, anything else a recovery code: each is checked by
    # its own kind of device only, so a wrong one never makes the other kind wait.
    is_totp = code.isdigit() and len(code) == TOTP_DIGITS
    kind = TOTPDevice if is_totp else StaticDevice
    with transaction.atomic():
        devices = [
            d
            for d in devices_for_user(user, confirmed=True, for_verify=True)
            if isinstance(d, kind)
        ]
        waits = [_throttle_wait(d) for d in devices]
        if devices and all(waits):
            raise FactorThrottled(min(waits))
        accepted = None
        if code and len(code) <= CODE_MAX_LENGTH:
            for device in devices:
                if device.verify_token(code):
                    accepted = device
                    break
        if accepted is None:
            audit_record(
                actor=user,
                action="factor.failure",
                obj=user,
                subject=user,
                after={"step": "verify", "via": via},
                ip=ip,
            )
        elif isinstance(accepted, StaticDevice):
            audit_record(
                actor=user,
                action="factor.recovery_code",
                obj=user,
                subject=user,
                after={"left": accepted.token_set.count(), "via": via},
                ip=ip,
            )
    return accepted


@transaction.atomic
def factor_reset(*, user: Any, actor: Any, ip: str | None = None) -> bool:
    """Delete ``user``'s authenticator and recovery codes, and revoke their API token (it was
    issued on the old factor); False if they had none. Audited. Their web sessions ask for
    enrolment on the next page (the session's device no longer exists)."""
    totp = TOTPDevice.objects.filter(user=user, confirmed=True).count()
    recovery = StaticDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    token_revoke(user=user, reason="factor-reset", actor=actor, ip=ip)
    had = bool(totp or recovery)
    audit_record(
        actor=actor,
        action="factor.reset",
        obj=user,
        subject=user,
        before={"authenticators": totp, "recovery_devices": recovery},
        after={"authenticators": 0, "recovery_devices": 0},
        ip=ip,
    )
    return had


@transaction.atomic
def factor_enrol_with_key(*, user: Any, key_hex: str, actor: Any = None) -> Any:
    """Give ``user`` a confirmed authenticator with a known secret (hex): the demo's logins, whose
    secret is printed for anyone trying the demo. Never used for a real account (``seed_demo``
    refuses to run in production). Audited as an enrolment."""
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(
        user=user, name=AUTHENTICATOR_NAME, key=key_hex, confirmed=True
    )
    audit_record(
        actor=actor, action="factor.enrol", obj=user, subject=user, after={"known_key": True}
    )
    return device
