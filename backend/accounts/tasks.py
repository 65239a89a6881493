"""Accounts' beat jobs."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="accounts.forget_stale_failures", ignore_result=True)
def forget_stale_failures_task() -> int:
    """Every minute: failed sign-ins that stayed below the limit for 15 minutes are forgotten."""
    from backend.accounts.lockout import failures_forget_stale

    return failures_forget_stale()
