"""Audit sign-ins and failed sign-ins; revoke a user's API token when they log out, are locked
out or are deactivated; count failed web sign-ins per address."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from backend.accounts.signin_throttle import signin_failure_note
from backend.accounts.tokens import token_revoke
from backend.audit.models import AuditEvent
from backend.audit.services import audit_record, request_ip


@receiver(user_logged_out)
def revoke_token_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        token_revoke(user=user, reason="logout", actor=user, ip=request_ip(request))


@receiver(user_locked_out)
def revoke_token_on_lockout(sender: Any, request: Any, username: str, **kwargs: Any) -> None:
    """Audit the lock (with the address the attempts came from) and revoke the API token."""
    user = get_user_model().objects.filter(username=username).first()
    ip = request_ip(request) if request else None
    if user is None:
        return
    # axes signals every refused attempt while locked: audit the lock once, until an unlock.
    last = (
        AuditEvent.objects.filter(subject=user, action__in=["account.lockout", "account.unlock"])
        .order_by("-id")
        .values_list("action", flat=True)
        .first()
    )
    if last != "account.lockout":
        audit_record(actor=None, action="account.lockout", obj=user, subject=user, ip=ip)
    token_revoke(user=user, reason="lockout", ip=ip)


@receiver(post_save, sender=get_user_model())
def revoke_token_on_deactivation(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not instance.is_active:
        token_revoke(user=instance, reason="deactivated")


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    ip = request_ip(request) if request is not None else None
    audit_record(actor=user, action="auth.login", obj=user, subject=user, ip=ip)


@receiver(user_login_failed)
def audit_failed_login(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """A wrong password for an existing account (web sign-in or API token). Names that match
    no account are not written here: django-axes keeps every attempt, with its address."""
    username = str(credentials.get("username") or "")[:150]
    user = get_user_model().objects.filter(username=username).first() if username else None
    if user is None:
        return
    ip = request_ip(request) if request is not None else None
    audit_record(
        actor=None,
        action="auth.login_failed",
        obj=user,
        subject=user,
        after={"username": username},
        ip=ip,
    )


@receiver(user_login_failed)
def count_failure_per_address(
    sender: Any, credentials: Any, request: Any = None, **kwargs: Any
) -> None:
    """A wrong password on a web sign-in page counts against the address's limit
    (``signin_throttle.py``); the API's sign-in has its own (``backend/config/throttling.py``)."""
    if request is not None and not request.path.startswith("/api/"):
        signin_failure_note(ip=request_ip(request))
