"""API tokens end like sessions do: 12 h after sign-in, 30 min idle, and on logout, lockout and
deactivation; each sign-in issues a new one. Times are moved by editing the token's issue time
and its last-use stamp (the clock the rules read), never by mocking the code under test."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from backend.accounts.factor import factor_required
from backend.accounts.models import Role, User
from backend.accounts.tokens import _last_used_key
from backend.audit.models import AuditEvent
from tests.factories import UserFactory, next_totp_code, verified_totp_device

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"


def sign_in(username: str, password: str = PASSWORD) -> Any:
    """``POST /api/v1/auth/token``, with the authenticator's code where the role needs one."""
    body = {"username": username, "password": password}
    user = User.objects.get(username=username)
    if factor_required(user):
        body["otp"] = next_totp_code(verified_totp_device(user))
    return Client().post(reverse("api-token"), body)


REFUSED = 403  # DRF answers 403, not 401, when session authentication is listed first


def me(token: str) -> int:
    return Client(HTTP_AUTHORIZATION=f"Token {token}").get(reverse("api-me")).status_code


def age_token(key: str, *, issued: timedelta, last_used: timedelta | None = None) -> None:
    now = timezone.now()
    Token.objects.filter(key=key).update(created=now - issued)
    if last_used is None:
        cache.delete(_last_used_key(key))
    else:
        cache.set(_last_used_key(key), now - last_used)


def test_each_sign_in_issues_a_new_token_and_the_old_one_stops_working() -> None:
    UserFactory(username="ana", role=Role.OFFICER)
    first = sign_in("ana").json()["token"]
    assert me(first) == 200
    second = sign_in("ana").json()["token"]
    assert second != first
    assert (me(first), me(second)) == (REFUSED, 200)
    assert AuditEvent.objects.filter(action="token.issue").count() == 2


def test_a_token_expires_twelve_hours_after_sign_in_even_in_constant_use() -> None:
    UserFactory(username="ana", role=Role.OFFICER)
    key = sign_in("ana").json()["token"]
    age_token(key, issued=timedelta(hours=11, minutes=59), last_used=timedelta(minutes=1))
    assert me(key) == 200
    age_token(key, issued=timedelta(hours=12, minutes=1), last_used=timedelta(minutes=1))
    response = Client(HTTP_AUTHORIZATION=f"Token {key}").get(reverse("api-me"))
    assert response.status_code == REFUSED
    assert "12 hours" in response.json()["detail"]
    assert not Token.objects.filter(key=key).exists()


def test_a_token_idle_for_thirty_minutes_expires() -> None:
    UserFactory(username="ana", role=Role.OFFICER)
    key = sign_in("ana").json()["token"]
    age_token(key, issued=timedelta(hours=2), last_used=timedelta(minutes=29))
    assert me(key) == 200  # and this use restarts the idle clock
    age_token(key, issued=timedelta(hours=2), last_used=timedelta(minutes=31))
    assert me(key) == REFUSED
    # Never seen by the cache (e.g. issued before a cache flush): idle since it was issued.
    key = sign_in("ana").json()["token"]
    age_token(key, issued=timedelta(minutes=31))
    assert me(key) == REFUSED


def test_with_hot_reads_on_a_token_idle_for_thirty_minutes_still_expires(settings: Any) -> None:
    """Production skips the cache read for a token this process saw used under a minute ago;
    a token it has not seen is judged by the cache as before."""
    settings.PRESENCE_HOT_READ_SECONDS = 5
    UserFactory(username="ana", role=Role.OFFICER)
    key = sign_in("ana").json()["token"]
    age_token(key, issued=timedelta(hours=2), last_used=timedelta(minutes=29))
    assert me(key) == 200
    assert me(key) == 200  # used here seconds ago: no cache read needed
    key = sign_in("ana").json()["token"]
    age_token(key, issued=timedelta(hours=2), last_used=timedelta(minutes=31))
    assert me(key) == REFUSED


def test_logout_revokes_the_token_by_api_and_by_web_logout() -> None:
    UserFactory(username="ana", role=Role.OFFICER)
    key = sign_in("ana").json()["token"]
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.post(reverse("api-logout")).status_code == 204
    assert me(key) == REFUSED

    key = sign_in("ana").json()["token"]
    web = Client()
    assert web.post(reverse("login"), {"username": "ana", "password": PASSWORD}).status_code == 302
    web.post(reverse("logout"))
    assert me(key) == REFUSED
    reasons = [e.after["reason"] for e in AuditEvent.objects.filter(action="token.revoke")]
    assert reasons == ["logout", "logout"]


def test_a_lockout_and_a_deactivation_revoke_the_token() -> None:
    user = UserFactory(username="kim", role=Role.SERGEANT)
    key = sign_in("kim").json()["token"]
    for _ in range(5):
        sign_in("kim", "wrong")
    assert me(key) == REFUSED
    assert AuditEvent.objects.filter(action="token.revoke", after__reason="lockout").exists()

    other = UserFactory(username="lee", role=Role.OFFICER)
    key = sign_in("lee").json()["token"]
    other.is_active = False
    other.save()
    assert me(key) == REFUSED
    assert user.pk != other.pk


def test_a_service_token_does_not_expire_but_is_revoked_by_deactivation() -> None:
    feed = UserFactory(username="avl-feed", role=Role.SERVICE)
    key = sign_in("avl-feed").json()["token"]
    age_token(key, issued=timedelta(days=400))
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert (
        client.post(reverse("api-avl-batch"), [], content_type="application/json").status_code
        == 200
    )
    assert client.get(reverse("api-squads")).status_code == 403  # limited to its endpoint
    feed.is_active = False
    feed.save()
    assert (
        client.post(reverse("api-avl-batch"), [], content_type="application/json").status_code
        == REFUSED
    )
    assert not Token.objects.filter(user=feed).exists()


def test_passwords_need_twelve_characters_and_must_not_be_common_or_like_the_user() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    user = UserFactory(username="margaret.okafor", first_name="Margaret", last_name="Okafor")
    for weak in ["Tr0ub4dor&3", "password1234", "margaret.okafor"]:  # 11 chars, common, alike
        with pytest.raises(ValidationError):
            validate_password(weak, user)
    validate_password("violet-harbour-lantern", user)  # 22 characters, none of the above


def test_a_locked_account_stays_locked_until_an_admin_unlocks_it(admin_client: Client) -> None:
    from axes.models import AccessAttempt

    from backend.accounts.lockout import failures_forget_stale

    kim = UserFactory(username="kim", role=Role.SERGEANT)
    web = Client()
    for _ in range(5):
        web.post(reverse("login"), {"username": "kim", "password": "wrong"})
    assert (
        Client().post(reverse("login"), {"username": "kim", "password": PASSWORD}).status_code
        == 429
    )
    lock = AuditEvent.objects.get(action="account.lockout")
    assert lock.subject == kim
    # A day later, and after the stale-failure job, still locked: only an admin unlocks.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(days=1))
    failures_forget_stale()
    refused = sign_in("kim")  # the right password, through the API: no token either
    assert refused.status_code == 400 and "token" not in refused.json()
    assert (
        Client().post(reverse("login"), {"username": "kim", "password": PASSWORD}).status_code
        == 429
    )

    changelist = reverse("admin:accounts_user_changelist")
    done = admin_client.post(changelist, {"action": "unlock", "_selected_action": [kim.pk]})
    assert done.status_code == 302
    assert (
        Client().post(reverse("login"), {"username": "kim", "password": PASSWORD}).status_code
        == 302
    )
    unlock = AuditEvent.objects.get(action="account.unlock")
    assert (unlock.subject, unlock.actor.username) == (kim, "admin")


def test_failures_more_than_fifteen_minutes_apart_never_add_up_to_a_lock() -> None:
    from axes.models import AccessAttempt

    from backend.accounts.lockout import failures_forget_stale

    UserFactory(username="kim")
    for _ in range(4):
        Client().post(reverse("login"), {"username": "kim", "password": "wrong"})
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert failures_forget_stale() == 1
    Client().post(reverse("login"), {"username": "kim", "password": "wrong"})  # the 5th overall
    assert (
        Client().post(reverse("login"), {"username": "kim", "password": PASSWORD}).status_code
        == 302
    )
    assert not AuditEvent.objects.filter(action="account.lockout").exists()
