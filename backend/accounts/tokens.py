"""API tokens that end: issued per sign-in, expiring, revoked by logout, lockout and deactivation.

Session cookies (the web pages and the phone app) already end after 30 idle minutes and 12 hours
(``AbsoluteSessionLimitMiddleware``); a token must not be a way around those limits:

- a token expires ``PRESENCE_SESSION_ABSOLUTE_SECONDS`` (12 h, one shift) after it was issued,
  and after ``SESSION_COOKIE_AGE`` (30 min) without use. Last use is kept in the cache (Redis in
  production, shared by every process); a token never seen by the cache counts from its issue;
- signing in issues a new token and the old one stops working;
- logout (web or ``POST /api/v1/auth/logout``), an axes lockout and deactivation revoke it;
- a service account's token (an AVL feed) does not expire, but is revoked the same ways, and the
  role permissions limit it to the AVL endpoint.

Every issue and revocation writes an audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections, router, transaction
from django.db.models import BooleanField
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from backend.accounts.models import Role, User
from backend.audit.services import audit_record
from backend.config.memo import hot_read_seconds


def token_max_age() -> timedelta:
    return timedelta(seconds=settings.PRESENCE_SESSION_ABSOLUTE_SECONDS)


def token_idle_limit() -> timedelta:
    return timedelta(seconds=settings.SESSION_COOKIE_AGE)


def _last_used_key(key: str) -> str:
    return f"presence:token-used:{key}"


def token_issue(*, user: Any, ip: str | None = None) -> Token:
    """A new token for ``user``; any earlier one stops working."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        audit_record(actor=user, action="token.issue", obj=user, subject=user, ip=ip)
    return token


def token_revoke(*, user: Any, reason: str, actor: Any = None, ip: str | None = None) -> bool:
    """Delete ``user``'s token; True if there was one. ``reason``: logout, lockout, deactivated."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        audit_record(
            actor=actor,
            action="token.revoke",
            obj=user,
            subject=user,
            after={"reason": reason},
            ip=ip,
        )
    return bool(deleted)


def token_expired(token: Token, *, now: Any = None) -> str:
    """Why ``token`` has expired, or '' while it is valid."""
    return _expiry(token, now or timezone.now())[0]


# Last uses this process wrote to the cache, by token key. While one is under
# LAST_USED_RESOLUTION old the cache holds that use or a later one, so the token is not idle and
# nothing needs writing: the cache read is skipped. Kept only while hot reads are on
# (PRESENCE_HOT_READ_SECONDS, production), so a test that ages a token in the cache sees it.
_USED_HERE: dict[str, Any] = {}
_USED_HERE_MAX = 100_000  # keys; about 10 MB, then it starts over


def _used_here(key: str, now: Any) -> Any:
    """When this process last recorded ``key``'s use, if under ``LAST_USED_RESOLUTION`` ago."""
    seen = _USED_HERE.get(key)
    if seen is not None and now - seen < LAST_USED_RESOLUTION and hot_read_seconds() > 0:
        return seen
    return None


# Last use is written at most once a minute per token: a phone calls every few seconds, and a
# cache write per request bought nothing (the idle limit is 30 minutes).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _expiry(token: Token, now: Any) -> tuple[str, Any]:
    """(why ``token`` has expired or '', its last use as the cache knows it or None)."""
    if token.user.role == Role.SERVICE:
        return "", None
    if now - token.created > token_max_age():
        return "API token expired (12 hours after sign-in): sign in again", None
    seen = _used_here(token.key, now) or cache.get(_last_used_key(token.key))
    if now - (seen or token.created) > token_idle_limit():
        return "API token expired after 30 minutes without use: sign in again", seen
    return "", seen


def _token_with_user(key: str) -> Token | None:
    """The token ``key`` with its user, in one query written once (DRF's
    ``select_related(...).get()`` spent more CPU building its SQL than the database answering).
    """
    user_fields = [f for f in User._meta.concrete_fields]
    if not _TOKEN_SQL:
        columns = ", ".join(f'u."{f.column}"' for f in user_fields)
        _TOKEN_SQL.append(
            f'SELECT t."created", {columns} FROM "{Token._meta.db_table}" t '
            f'JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" WHERE t."key" = %s'
        )
    with connections[router.db_for_read(Token)].cursor() as cursor:
        cursor.execute(_TOKEN_SQL[0], [key])
        row = cursor.fetchone()
    if row is None:
        return None
    db = router.db_for_read(Token)
    values = [_python_value(f, v) for f, v in zip(user_fields, row[1:], strict=True)]
    user = User.from_db(db, [f.attname for f in user_fields], values)
    created = _python_value(Token._meta.get_field("created"), row[0])
    token = Token.from_db(db, ["key", "user_id", "created"], [key, user.pk, created])
    token.user = user
    return token


def _python_value(field: Any, value: Any) -> Any:
    """A raw column value as the ORM would give it: SQLite's cursor returns datetimes without
    their offset (stored as UTC under ``USE_TZ``) and booleans as 0/1; PostgreSQL's are already
    right."""
    if isinstance(value, datetime) and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    if isinstance(field, BooleanField) and value is not None:
        return bool(value)
    return value


_TOKEN_SQL: list[str] = []  # built on first use, when every model is loaded


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication with the expiry rules above."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        token = _token_with_user(key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        user = token.user
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        now = timezone.now()
        reason, seen = _expiry(token, now)
        if reason:
            token_revoke(user=user, reason="expired")
            raise AuthenticationFailed(reason)
        if token.user.role != Role.SERVICE and (seen is None or now - seen >= LAST_USED_RESOLUTION):
            timeout = int(token_idle_limit().total_seconds()) + 60
            cache.set(_last_used_key(token.key), now, timeout=timeout)
            if hot_read_seconds() > 0:
                if len(_USED_HERE) >= _USED_HERE_MAX:
                    _USED_HERE.clear()
                _USED_HERE[token.key] = now
        return user, token
