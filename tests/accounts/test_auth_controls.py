"""Auth controls with a controlled clock: the second factor (enrolment, one-time codes, recovery
codes, reset), the gate on unverified sessions, session timeouts and the sign-in pages' limit
per address.

Already proven elsewhere, not repeated here: the web lockout and its admin unlock, failures more
than 15 minutes apart, token expiry and revocation by logout, lockout and deactivation
(``test_tokens.py``); the API sign-in's 429 per address and the other API limits
(``tests/config/test_rate_limits.py``); the absolute session limit from 1970
(``test_login_and_landing.py``).

Time is controlled, never mocked: expected TOTP codes are computed here from RFC 6238 with hmac
and hashlib (``tests.factories.totp_code``, checked against the RFC's own test vectors) for the
time step the device is in; session and limit times are moved by editing the stored times the
rules read (the session's expiry and start, the limit's failure times passed explicitly).
"""

from __future__ import annotations

import re
import time
from base64 import b32decode
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIRequestFactory, force_authenticate

from backend.accounts.api import MeApi
from backend.accounts.middleware import SESSION_STARTED_KEY
from backend.accounts.models import Role
from backend.accounts.signin_throttle import signin_failure_note, signin_retry_after
from backend.audit.models import AuditEvent
from tests.factories import (
    UserFactory,
    api_client_verified,
    force_login_without_factor,
    next_totp_code,
    sergeant_without_second_factor,
    totp_code,
    verified_totp_device,
)

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
RFC_SHA1_KEY = b"12345678901234567890"


def password_step(client: Client, username: str, password: str = PASSWORD, then: str = "") -> Any:
    url = reverse("login") + (f"?next={quote(then)}" if then else "")
    return client.post(url, {"username": username, "password": password})


def code_step(client: Client, code: str, then: str = "/") -> Any:
    return client.post(reverse("factor-verify"), {"code": code, "next": then})


def token_sign_in(username: str, otp: str | None = None, password: str = PASSWORD) -> Any:
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return Client().post(reverse("api-token"), body)


def a_minute_later(user: Any) -> None:
    """Move the time of ``user``'s last wrong code a minute back: the devices' wait is over."""
    earlier = timezone.now() - timedelta(minutes=1)
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=user).exclude(throttling_failure_timestamp=None).update(
            throttling_failure_timestamp=earlier
        )


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def current_code(device: TOTPDevice) -> str:
    """The RFC 6238 code for the time step django-otp's device is in now."""
    device.refresh_from_db()
    return totp_code(bytes.fromhex(device.key), time.time() + device.drift * device.step)


# --- The oracle ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
    ],
)
def test_the_tests_totp_matches_rfc_6238_sha1_vectors(at: int, expected: str) -> None:
    assert totp_code(RFC_SHA1_KEY, at, digits=8) == expected


# --- Who must pass a second factor --------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SERGEANT, Role.SUPERVISOR, Role.ANALYST, Role.ADMIN])
def test_staff_roles_are_sent_from_the_password_to_the_code_page(role: Role) -> None:
    user = UserFactory(role=role)
    verified_totp_device(user)
    response = password_step(Client(), user.username, then="/missions/board/")
    assert response.status_code == 302
    assert response["Location"] == reverse("factor-verify") + "?next=%2Fmissions%2Fboard%2F"


def test_officers_need_no_factor_unless_the_agency_says_so(settings: Any) -> None:
    UserFactory(username="off", role=Role.OFFICER)
    assert password_step(Client(), "off")["Location"] == "/app/"
    assert token_sign_in("off").status_code == 200  # the officers' API contract is unchanged
    settings.PRESENCE_OTP_REQUIRED_FOR_OFFICERS = True
    assert password_step(Client(), "off")["Location"].startswith(reverse("factor-enrol"))
    assert token_sign_in("off").json() == {
        "otp": ["This account has no second factor yet: enrol on the web sign-in page."]
    }


# --- Enrolment and recovery codes ---------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_the_secret_then_recovery_codes_once() -> None:
    user = UserFactory(username="sarge", role=Role.SERGEANT)
    client = Client()
    assert password_step(client, "sarge")["Location"].startswith(reverse("factor-enrol"))
    page = client.get(reverse("factor-enrol"))
    html = page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert "<svg" in html and "otpauth" not in html  # the address is in the QR code only
    shown = re.search(r'<code id="secret">([A-Z2-7 ]+)</code>', html)
    assert shown is not None
    secret = shown.group(1)
    key = b32decode(secret.replace(" ", ""))
    assert client.get(reverse("factor-enrol")).content.decode().count(secret) == 1  # same device

    wrong = client.post(reverse("factor-enrol"), {"code": other_code(totp_code(key, time.time()))})
    assert "That code is wrong" in wrong.content.decode()
    assert client.get(reverse("home"))["Location"].startswith(reverse("factor-enrol"))
    a_minute_later(user)
    done = client.post(reverse("factor-enrol"), {"code": totp_code(key, time.time())})
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert done["Cache-Control"] == "no-store"
    assert client.get(reverse("home")).status_code == 200  # this session is verified
    assert set(codes) == set(
        StaticToken.objects.filter(device__user=user).values_list("token", flat=True)
    )
    enrol = AuditEvent.objects.get(action="factor.enrol")
    assert (enrol.actor, enrol.subject, enrol.after["recovery_codes"]) == (user, user, 10)
    assert AuditEvent.objects.filter(action="factor.failure", subject=user).count() == 1

    # Shown once: a new session is asked for a code, and enrolment cannot start again.
    again = Client()
    password_step(again, "sarge")
    assert again.get(reverse("factor-enrol"))["Location"].startswith(reverse("factor-verify"))
    asked = again.get(reverse("factor-verify")).content.decode()
    assert not any(code in asked for code in codes)


def test_a_recovery_code_works_once() -> None:
    user = UserFactory(username="sarge", role=Role.SERGEANT)
    verified_totp_device(user)
    recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    recovery.token_set.create(token="k7m2p9q4")
    recovery.token_set.create(token="x3v8n6b5")

    first = Client()
    password_step(first, "sarge")
    assert code_step(first, "k7m2p9q4", then="/missions/board/")["Location"] == "/missions/board/"
    assert first.get(reverse("home")).status_code == 200

    second = Client()
    password_step(second, "sarge")
    refused = code_step(second, "k7m2p9q4")
    assert refused.status_code == 200
    assert "wrong or was already used" in refused.content.decode()
    assert second.get(reverse("home")).status_code == 302
    assert list(recovery.token_set.values_list("token", flat=True)) == ["x3v8n6b5"]
    used = AuditEvent.objects.get(action="factor.recovery_code")
    assert used.after == {"left": 1, "via": "web"}


# --- A code is accepted once --------------------------------------------------------------------


def test_a_replayed_totp_code_is_refused_on_the_page_and_by_the_api() -> None:
    user = UserFactory(username="sup", role=Role.SUPERVISOR)
    device = verified_totp_device(user)
    code = current_code(device)

    first = Client()
    password_step(first, "sup")
    assert code_step(first, code)["Location"] == "/"
    step = TOTPDevice.objects.get(pk=device.pk).last_t
    assert step >= int(time.time() // 30) - 1  # the step of the accepted code is remembered

    replay = Client()
    password_step(replay, "sup")
    refused = code_step(replay, code)
    assert "wrong or was already used" in refused.content.decode()
    assert replay.get(reverse("home"))["Location"].startswith(reverse("factor-verify"))
    a_minute_later(user)
    assert token_sign_in("sup", otp=code).json() == {
        "otp": ["That code is wrong or was already used."]
    }
    assert not Token.objects.filter(user=user).exists()
    failures = AuditEvent.objects.filter(action="factor.failure", subject=user)
    assert sorted(e.after["via"] for e in failures) == ["api", "web"]


def test_the_api_asks_staff_for_a_code_and_accepts_a_fresh_one_once() -> None:
    user = UserFactory(username="ana", role=Role.ANALYST)
    device = verified_totp_device(user)
    missing = token_sign_in("ana")
    assert missing.status_code == 400
    assert missing.json() == {"otp": ["A second factor code is required for this account."]}
    assert token_sign_in("ana", password="wrong", otp=current_code(device)).status_code == 400

    code = current_code(device)
    issued = token_sign_in("ana", otp=code)
    assert issued.status_code == 200
    api = Client(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")
    assert api.get(reverse("api-me")).json()["username"] == "ana"
    assert token_sign_in("ana", otp=code).status_code == 400  # the same code again


def test_wrong_codes_make_the_factor_wait_and_the_api_says_how_long() -> None:
    user = UserFactory(username="ana", role=Role.ANALYST)
    device = verified_totp_device(user)
    right = current_code(device)
    assert token_sign_in("ana", otp=other_code(right)).status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # Three wrong codes in a row, the last one just now: the device waits 4 s (1, 2, 4...).
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=3, throttling_failure_timestamp=timezone.now()
    )
    waiting = token_sign_in("ana", otp=right)  # even the right code waits
    assert waiting.status_code == 429
    assert 1 <= int(waiting["Retry-After"]) <= 4
    assert waiting.json() == {
        "otp": [f"too many wrong codes: try again in {waiting['Retry-After']} s"]
    }
    # Signing in again with the password does not end the wait; time does.
    a_minute_later(user)
    assert token_sign_in("ana", otp=right).status_code == 200
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_the_sixth_attempt_with_the_right_password_and_code_is_refused() -> None:
    user = UserFactory(username="kim", role=Role.SERGEANT)
    device = verified_totp_device(user)
    for _ in range(5):
        assert token_sign_in("kim", password="wrong").status_code == 400
    sixth = token_sign_in("kim", otp=current_code(device))
    assert sixth.status_code == 400 and "token" not in sixth.json()
    web = password_step(Client(), "kim")
    assert web.status_code == 429 and "Account locked" in web.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).last_t == -1  # the code was never even checked


def test_a_session_waiting_for_its_code_is_signed_out_when_the_account_locks() -> None:
    user = UserFactory(username="kim", role=Role.SERGEANT)
    device = verified_totp_device(user)
    waiting = Client()
    password_step(waiting, "kim")
    for _ in range(5):
        password_step(Client(), "kim", password="wrong")
    locked = code_step(waiting, current_code(device))
    assert locked.status_code == 403 and "Account locked" in locked.content.decode()
    assert waiting.get(reverse("home"))["Location"].startswith(reverse("login"))


# --- An unverified session gets nothing ---------------------------------------------------------


def test_a_sergeant_without_a_verified_factor_gets_nothing_from_pages_or_the_api() -> None:
    _, client = sergeant_without_second_factor(username="sgt-unverified")
    for page in [reverse("home"), reverse("missions:board"), "/admin/", "/app/"]:
        response = client.get(page)
        assert response.status_code == 302, page
        assert response["Location"] == f"{reverse('factor-verify')}?next={quote(page, safe='')}"
        assert response.content == b""
    for name in ["api-me", "api-squads", "api-missions", "api-hotspots", "api-districts"]:
        response = client.get(reverse(name))
        assert response.status_code == 403, name
        assert response.json() == {
            "detail": "A second factor code is required: finish signing in first."
        }
    assert client.get(reverse("api-schema")).status_code == 403
    assert client.get(reverse("api-docs")).status_code == 403
    # Not enrolled yet: the enrolment page instead, and the API still refuses.
    _, fresh = sergeant_without_second_factor(username="sgt-new", enrolled=False)
    assert fresh.get(reverse("home"))["Location"].startswith(reverse("factor-enrol"))
    assert fresh.get(reverse("api-me")).status_code == 403


def test_the_api_permission_refuses_an_unverified_session_user_but_not_a_token() -> None:
    """``IsPerson`` checks again, for a view reached without the middleware's gate."""
    sergeant = UserFactory(role=Role.SERGEANT)
    factory = APIRequestFactory()
    unverified = factory.get("/api/v1/me")
    force_authenticate(unverified, user=sergeant)  # a session user that never passed a code
    refused = MeApi.as_view()(unverified)
    assert refused.status_code == 403
    assert refused.data == {"detail": "A second factor code is required: finish signing in first."}
    with_token = factory.get("/api/v1/me")
    force_authenticate(with_token, user=sergeant, token=Token.objects.create(user=sergeant))
    assert MeApi.as_view()(with_token).status_code == 200


def test_the_helpers_for_other_tests_give_verified_and_unverified_identities() -> None:
    supervisor = UserFactory(role=Role.SUPERVISOR)
    assert api_client_verified(supervisor).get(reverse("api-me")).status_code == 200
    client = Client()
    client.force_login(supervisor)  # tests/conftest.py: a verified session
    assert client.get(reverse("api-me")).status_code == 200
    raw = Client()
    force_login_without_factor(raw, supervisor)
    assert raw.get(reverse("api-me")).status_code == 403


# --- Reset --------------------------------------------------------------------------------------


def test_an_admin_resets_a_factor_which_is_audited_and_ends_its_token(admin_client: Client) -> None:
    user = UserFactory(username="sarge", role=Role.SERGEANT)
    api = api_client_verified(user)
    StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    changelist = reverse("admin:accounts_user_changelist")
    done = admin_client.post(
        changelist, {"action": "reset_second_factor", "_selected_action": [user.pk]}
    )
    assert done.status_code == 302
    reset = AuditEvent.objects.get(action="factor.reset")
    assert (reset.actor.username, reset.subject) == ("admin", user)
    assert reset.before == {"authenticators": 1, "recovery_devices": 1}
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert api.get(reverse("api-me")).status_code == 403  # the token issued on it is revoked
    assert AuditEvent.objects.filter(action="token.revoke", after__reason="factor-reset").exists()
    assert password_step(Client(), "sarge")["Location"].startswith(reverse("factor-enrol"))


def test_the_admin_shows_no_authenticator_secrets(admin_client: Client) -> None:
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert admin_client.get("/admin/otp_static/staticdevice/").status_code == 404


# --- Session timeouts ---------------------------------------------------------------------------


def _session_row(client: Client) -> Session:
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


def test_a_session_idle_for_thirty_minutes_ends() -> None:
    user = UserFactory(role=Role.SUPERVISOR)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("home")).status_code == 200
    # 29 minutes idle: the session's expiry (refreshed on every request) is a minute away.
    Session.objects.filter(pk=_session_row(client).pk).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    )
    assert client.get(reverse("home")).status_code == 200
    expiry = _session_row(client).expire_date - timezone.now()
    assert timedelta(minutes=29) < expiry <= timedelta(minutes=30)  # renewed by that request
    # 30 minutes and a second idle.
    Session.objects.filter(pk=_session_row(client).pk).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))
    assert client.get(reverse("api-me")).status_code == 403


def test_a_busy_session_ends_twelve_hours_after_sign_in() -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.SERGEANT))

    def started(seconds_ago: int) -> None:
        session = client.session
        session[SESSION_STARTED_KEY] = int(time.time()) - seconds_ago
        session.save()

    started(12 * 3600 - 60)  # 11 h 59 min
    assert client.get(reverse("home")).status_code == 200
    started(12 * 3600 + 60)  # 12 h 1 min
    assert client.get(reverse("home"))["Location"].startswith(reverse("login"))


# --- The sign-in pages' limit per address -------------------------------------------------------


def test_the_limit_per_address_counts_failures_in_a_sliding_window() -> None:
    ip = "198.51.100.20"
    for k in range(20):
        signin_failure_note(ip=ip, now=1_000_000.0 + k)
    assert signin_retry_after(ip=ip, now=1_000_019.0) == 900 - 19  # the first leaves at +900
    assert signin_retry_after(ip=ip, now=1_000_899.0) == 1
    assert signin_retry_after(ip=ip, now=1_000_900.0) == 0
    assert signin_retry_after(ip="203.0.113.5", now=1_000_019.0) == 0


def test_the_sign_in_page_answers_429_to_an_address_after_twenty_failures() -> None:
    UserFactory(username="lee", role=Role.OFFICER)
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    answers = [  # one guess for each of 21 usernames: no username reaches its lockout
        attacker.post(reverse("login"), {"username": f"victim{k}", "password": "guess"})
        for k in range(21)
    ]
    assert [a.status_code for a in answers[:20]] == [200] * 20  # wrong password, same page
    assert answers[20].status_code == 429
    assert 800 <= int(answers[20]["Retry-After"]) <= 900
    assert "Too many sign-ins failed" in answers[20].content.decode()
    # Independent of the username: even a right password from that address waits.
    right = attacker.post(reverse("login"), {"username": "lee", "password": PASSWORD})
    assert right.status_code == 429
    # Another address signs in.
    other = Client(REMOTE_ADDR="203.0.113.9")
    assert other.post(reverse("login"), {"username": "lee", "password": PASSWORD})["Location"] == (
        "/app/"
    )


def test_wrong_codes_count_toward_the_address_limit(settings: Any) -> None:
    settings.PRESENCE_SIGNIN_ADDRESS_FAILURES = 2
    user = UserFactory(username="sup", role=Role.SUPERVISOR)
    device = verified_totp_device(user)
    client = Client(REMOTE_ADDR="198.51.100.8")
    password_step(client, "sup")
    right = next_totp_code(device)
    assert code_step(client, other_code(right)).status_code == 200
    a_minute_later(user)  # past the device's own wait: only the address limit is left
    assert code_step(client, other_code(right)).status_code == 200
    a_minute_later(user)
    blocked = code_step(client, right)
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0


def test_the_published_schema_says_the_token_sign_in_takes_a_second_factor_code() -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/auth/token"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert "otp" in fields["properties"] and "otp" not in fields["required"]
    assert {"200", "400", "429"} <= set(operation["responses"])


def test_the_demo_staff_sign_in_with_the_published_authenticator_secret() -> None:
    import io

    from django.core.management import call_command

    from backend.hotspots.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

    out = io.StringIO()
    call_command("seed_demo", "--incidents=0", "--end=2026-01-01", stdout=out)
    assert DEMO_TOTP_SECRET in out.getvalue()
    key = b32decode(DEMO_TOTP_SECRET)
    now = time.time()
    printed = io.StringIO()
    call_command("demo_code", stdout=printed)
    assert printed.getvalue().strip() in {totp_code(key, now + d) for d in (-30, 0, 30)}
    client = Client()
    signed = password_step(client, "sergeant1", password=DEMO_PASSWORD)
    assert signed["Location"].startswith(reverse("factor-verify"))
    assert code_step(client, totp_code(key, time.time()))["Location"] == "/"
    officer = password_step(Client(), "officer01", password=DEMO_PASSWORD)
    assert officer["Location"] == "/app/"  # officers: no factor
