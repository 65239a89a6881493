"""Account lockout: 5 failed sign-ins within 15 minutes lock the username until an admin unlocks.

django-axes counts failures per username (not per address: officers share station networks) and
refuses the locked username, right password or not. Its cool-off is off (``AXES_COOLOFF_TIME =
None``), so a lock lasts until ``account_unlock``; failures that never reached the limit are
forgotten once ``PRESENCE_FAILED_LOGIN_WINDOW`` passes without another (the every-minute
``accounts.forget_stale_failures`` job), so only failures close together add up.

Because anyone can type five wrong passwords for a username, the sign-in API is also limited per
address (``backend/config/throttling.py``), and each lock and unlock is audited; see
docs/security.md for how an administrator sees and ends an attack on one account.
"""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.utils import timezone

from backend.audit.services import audit_record


def failures_forget_stale(*, now: Any = None) -> int:
    """Delete failure counts below the limit whose last failure is older than the window."""
    cutoff = (now or timezone.now()) - settings.PRESENCE_FAILED_LOGIN_WINDOW
    deleted, _ = AccessAttempt.objects.filter(
        failures_since_start__lt=settings.AXES_FAILURE_LIMIT, attempt_time__lt=cutoff
    ).delete()
    return deleted


def account_is_locked(*, username: str) -> bool:
    return AccessAttempt.objects.filter(
        username=username, failures_since_start__gte=settings.AXES_FAILURE_LIMIT
    ).exists()


def account_unlock(*, user: Any, actor: Any, ip: str | None = None) -> bool:
    """Unlock ``user``'s username (audited); False if it was not locked."""
    was_locked = account_is_locked(username=user.username)
    reset(username=user.username)
    if was_locked:
        audit_record(actor=actor, action="account.unlock", obj=user, subject=user, ip=ip)
    return was_locked
