"""The two middleware stacks of the WSGI application (backend/config/wsgi.py).

Token-only API calls take the lean stack; everything else, and anything carrying a session
cookie, the full one. These tests call the production WSGI ``application`` itself (the test
client has its own handler with the full stack), and compare its answers with the full stack's
on the same requests.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from backend.accounts.tokens import token_issue
from backend.config import wsgi
from backend.patrols.models import PatrolSession, Ping
from tests.factories import UserFactory

TOKEN = {"HTTP_AUTHORIZATION": "Token abc"}

# Headers whose value differs between two calls for reasons other than the stack.
VOLATILE = {"date", "content-length"}


def environ(method: str, path: str, *, token: str = "", body: Any = None, **extra: str) -> dict:
    env: dict[str, Any] = {}
    setup_testing_defaults(env)
    env.update(
        {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "HTTP_HOST": "testserver",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_ACCEPT": "application/json",
        }
    )
    if token:
        env["HTTP_AUTHORIZATION"] = f"Token {token}"
    if body is not None:
        raw = json.dumps(body).encode()
        env.update(
            {
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(raw)),
                "wsgi.input": io.BytesIO(raw),
            }
        )
    env.update(extra)
    return env


def call(app: Any, env: dict) -> tuple[int, dict[str, str], bytes]:
    seen: list[Any] = []
    body = b"".join(app(env, lambda status, headers, exc=None: seen.append((status, headers))))
    status, headers = seen[0]
    return int(status.split()[0]), {k.lower(): v for k, v in headers}, body


@pytest.mark.parametrize(
    ("path", "headers", "lean"),
    [
        ("/api/v1/pings/batch", {**TOKEN}, True),
        ("/api/v1/hotspots/nearby", {**TOKEN}, True),
        # a CSRF cookie alone is no session: still token-only
        (
            "/api/v1/pings/batch",
            {**TOKEN, "HTTP_COOKIE": "csrftoken=x"},
            True,
        ),
        # a session cookie: the full stack (DRF tries the session first, with CSRF)
        (
            "/api/v1/pings/batch",
            {**TOKEN, "HTTP_COOKIE": "sessionid=s"},
            False,
        ),
        (
            "/api/v1/pings/batch",
            {**TOKEN, "HTTP_COOKIE": "a=1; sessionid=s"},
            False,
        ),
        # no token, another scheme, a page, sign-in and sign-out
        ("/api/v1/pings/batch", {}, False),
        ("/api/v1/pings/batch", {"HTTP_AUTHORIZATION": "Bearer abc"}, False),
        ("/board/", {**TOKEN}, False),
        ("/api/v1/auth/token", {**TOKEN}, False),
        ("/api/v1/auth/logout", {**TOKEN}, False),
    ],
)
def test_only_token_only_api_calls_take_the_lean_stack(
    path: str, headers: dict, lean: bool
) -> None:
    env = {"PATH_INFO": path, **headers}
    assert wsgi.token_api_call(env) is lean


def test_the_lean_stack_keeps_every_header_middleware_and_drops_the_session_ones() -> None:
    lean = settings.PRESENCE_TOKEN_API_MIDDLEWARE
    full = settings.MIDDLEWARE
    assert [m for m in full if m in lean] == lean  # a subset, in the same order
    for needed in ("SecurityMiddleware", "GZipMiddleware", "CSPMiddleware", "LocaleMiddleware"):
        assert any(m.endswith(needed) for m in lean)
    for skipped in ("SessionMiddleware", "CsrfViewMiddleware", "AxesMiddleware"):
        assert not any(m.endswith(skipped) for m in lean)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_ping_batch_gets_the_same_answer_and_headers_from_either_stack() -> None:
    officer = UserFactory(role="officer")
    token = token_issue(user=officer).key
    session = PatrolSession.objects.create(
        officer=officer, client_uuid=uuid.uuid4(), started_at=timezone.now() - timedelta(hours=1)
    )
    now = timezone.now()
    items = [
        {
            "client_uuid": str(uuid.uuid4()),
            "recorded_at": (now - timedelta(seconds=s)).isoformat(),
            "lat": 25.8,
            "lon": -80.21,
            "accuracy_m": 8.0,
        }
        for s in (20, 10)
    ]
    body = {"pings": items, "session": session.pk}
    env = environ("POST", "/api/v1/pings/batch", token=token, body=body)
    assert wsgi.token_api_call(env)
    lean_status, lean_headers, lean_body = call(wsgi.application, env)
    # The same batch again through the full stack: the same shape, both items now duplicates
    # of the ids the first call gave.
    full_status, full_headers, full_body = call(
        wsgi._full, environ("POST", "/api/v1/pings/batch", token=token, body=body)
    )
    assert lean_status == full_status == 200, lean_body
    first, again = json.loads(lean_body), json.loads(full_body)
    assert [i["status"] for i in first["items"]] == ["accepted", "accepted"]
    assert [i["status"] for i in again["items"]] == ["duplicate", "duplicate"]
    assert [i["id"] for i in again["items"]] == [i["id"] for i in first["items"]]
    assert Ping.objects.filter(session=session).count() == 2
    # Every header the full stack sends (security, CSP, language), the lean one sends too. The
    # one difference: the full stack's session middleware adds "Cookie" to Vary (DRF looked for
    # a session user); a token-only answer does not vary with cookies, and a response to a
    # request with Authorization is not kept by shared caches anyway.
    lean_vary = lean_headers.pop("vary").split(", ")
    full_vary = full_headers.pop("vary").split(", ")
    assert lean_vary == [v for v in full_vary if v != "Cookie"]
    assert "Accept-Language" in lean_vary
    assert {k: v for k, v in lean_headers.items() if k not in VOLATILE} == {
        k: v for k, v in full_headers.items() if k not in VOLATILE
    }
    assert "set-cookie" not in lean_headers


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_wrong_token_and_a_language_get_the_same_answer_from_either_stack() -> None:
    env = {"HTTP_ACCEPT_LANGUAGE": "es"}
    lean = call(wsgi.application, environ("GET", "/api/v1/hotspots/nearby", token="nope", **env))
    full = call(wsgi._full, environ("GET", "/api/v1/hotspots/nearby", token="nope", **env))
    assert wsgi.token_api_call(environ("GET", "/api/v1/hotspots/nearby", token="nope"))
    assert lean[0] == full[0] == 403  # DRF: the first scheme (session) sends no challenge
    assert lean[2] == full[2]
    assert json.loads(lean[2])["detail"]  # DRF's message, in Spanish on both
    assert lean[1]["content-language"] == full[1]["content-language"] == "es"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_call_with_a_session_cookie_takes_the_full_stack_and_its_csrf_check() -> None:
    """A signed-in browser session with a token header still gets CSRF protection: DRF
    authenticates the session first, and without a CSRF token a write is refused."""
    officer = UserFactory(role="officer")
    token = token_issue(user=officer).key
    store = SessionStore()
    store[SESSION_KEY] = str(officer.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = officer.get_session_auth_hash()
    store.create()
    cookie = f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
    env = environ(
        "POST",
        "/api/v1/patrols/sessions",
        token=token,
        body={"client_uuid": str(uuid.uuid4())},
        HTTP_COOKIE=cookie,
    )
    assert not wsgi.token_api_call(env)
    status, _, body = call(wsgi.application, env)
    assert status == 403
    assert b"CSRF" in body
    assert not PatrolSession.objects.filter(officer=officer).exists()
