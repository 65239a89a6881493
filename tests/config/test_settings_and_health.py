"""Production settings refuse to start without secrets; /healthz reports what is broken.

These run Django in a subprocess with a given environment: the settings module reads the
environment at import, so a fresh interpreter is the honest way to test it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEALTH_SCRIPT = (
    "import django, json; django.setup()\n"
    "from django.test import Client\n"
    "from backend.config.health import current_health\n"
    "r = Client().get('/healthz')\n"
    "print(json.dumps({'status': r.status_code, 'body': r.json(), 'details': current_health()}))\n"
)

PRODUCTION_ENV = {
    "PRESENCE_ENV": "production",
    "SECRET_KEY": "x" * 64 + "-a-long-random-production-secret",
    "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/presence",
    "ALLOWED_HOSTS": "presence.example.org",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_django(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    dropped = {*PRODUCTION_ENV, "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**base, "DJANGO_SETTINGS_MODULE": "backend.config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "REDIS_URL"])
def test_production_refuses_to_start_without_each_secret(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_django("import django; django.setup()", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_settings_pass_djangos_deploy_checks() -> None:
    result = run_django(
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('check', deploy=True, fail_level='WARNING')\n",
        **PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_local_settings_need_no_server_and_run_celery_eagerly() -> None:
    result = run_django(
        "import django, json; django.setup()\n"
        "from django.conf import settings\n"
        "print(json.dumps([settings.DATABASES['default']['ENGINE'], "
        "settings.CELERY_TASK_ALWAYS_EAGER, settings.CACHES['default']['BACKEND'], "
        "settings.TIME_ZONE, settings.PRESENCE_ORIGIN]))\n",
        DATABASE_URL="",
        REDIS_URL="",
        PRESENCE_ENV="",
        PRESENCE_TIME_ZONE="",
    )
    assert result.returncode == 0, result.stderr
    engine, eager, cache, tz, origin = json.loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert eager is True
    assert cache.endswith("LocMemCache")
    assert tz == "America/New_York"
    assert origin == [25.80, -80.21]


def test_a_bad_origin_is_refused_with_the_expected_format() -> None:
    result = run_django("import django; django.setup()", PRESENCE_ORIGIN="north,west")
    assert result.returncode != 0
    assert "PRESENCE_ORIGIN must be 'lat,lon'" in result.stderr


def test_healthz_is_200_with_a_database_and_eager_celery(client: object, db: None) -> None:
    from tests.factories import UserFactory

    response = client.get("/healthz")  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # anonymous callers learn nothing more

    client.force_login(UserFactory(role="admin"))  # type: ignore[attr-defined]
    body = client.get("/healthz").json()  # type: ignore[attr-defined]
    assert body["database"] == "ok"
    assert body["broker"] == "eager"
    assert body["version"]


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    result = run_django(
        HEALTH_SCRIPT, DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere", REDIS_URL=""
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == 503
    # The error names the host and port: anonymous callers see only "degraded".
    assert out["body"] == {"status": "degraded"}
    assert out["details"]["status"] == "unhealthy"
    assert out["details"]["database"].startswith("error: OperationalError")


def test_healthz_is_503_when_the_broker_is_unreachable() -> None:
    result = run_django(HEALTH_SCRIPT, REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL="")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["status"] == 503
    assert out["body"] == {"status": "degraded"}
    assert out["details"]["database"] == "ok"
    assert out["details"]["broker"].startswith("error")


def test_openapi_schema_lists_the_api_and_docs_use_no_cdn(client: object, db: None) -> None:
    from tests.factories import UserFactory

    client.force_login(UserFactory(role="analyst"))  # type: ignore[attr-defined]
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")  # type: ignore[attr-defined]
    assert schema.status_code == 200
    doc = json.loads(schema.content)
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/me", "/api/v1/districts", "/api/v1/snapshots"} <= set(doc["paths"])
    docs = client.get("/api/docs/")  # type: ignore[attr-defined]
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html


def test_production_redirects_plain_http_to_https_except_the_health_probe() -> None:
    result = run_django(
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "c = Client(HTTP_HOST='presence.example.org')\n"
        "print(json.dumps([c.get('/healthz').status_code, c.get('/login/').status_code,"
        " c.get('/login/')['Location']]))\n",
        **PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    health, login, location = json.loads(result.stdout.strip().splitlines()[-1])
    assert health in (200, 503)  # answered (503: no database named presence here), not moved
    assert login == 301 and location == "https://presence.example.org/login/"


def test_the_uploads_folder_is_set_from_the_environment(tmp_path: Path) -> None:
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings; print(settings.MEDIA_ROOT)"
    )
    shared = tmp_path / "shared-uploads"
    assert run_django(code, PRESENCE_UPLOADS_DIR=str(shared)).stdout.strip() == str(shared)
    assert run_django(code, PRESENCE_UPLOADS_DIR="").stdout.strip() == str(REPO / "var" / "uploads")
