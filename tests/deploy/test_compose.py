"""The deploy files keep their rules. There is no Docker engine in CI, so ``docker compose
config`` cannot run: the compose file is read with PyYAML (merge keys resolved) and checked for
what `docker compose config` would not catch anyway: no secret written in it, every variable
documented in ``deploy/env.example``, migrations as a one-shot the web waits for, a broker that
never evicts, health checks, and nginx serving what collectstatic writes."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, require_service

DEPLOY = REPO / "deploy"
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?])[^}]*)?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$|^KEY$|AUTH", re.IGNORECASE)


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def documented() -> set[str]:
    """Names deploy/env.example lists, set (NAME=...) or left commented (# NAME=...)."""
    text = (DEPLOY / "env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in strings(k) + strings(v)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_no_password_or_secret_is_written_in_the_compose_file() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert INTERPOLATION.fullmatch(value), f"{name}.{key} is written in the file"
    for text in strings(compose()):
        # Credentials inside URLs: user and password may only be ${VARIABLES}.
        for userinfo in re.findall(r"://([^/@\s]*)@", text):
            assert INTERPOLATION.sub("", userinfo).strip(":") == "", text
    command = services()["redis"]["command"]
    password = command[command.index("--requirepass") + 1]
    assert INTERPOLATION.fullmatch(password)


def test_env_example_sets_no_secret() -> None:
    text = (DEPLOY / "env.example").read_text(encoding="utf-8")
    for name, value in re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, flags=re.MULTILINE):
        if SECRET_NAME.search(name):
            assert value == "", f"env.example gives {name} a value"


def test_every_variable_the_compose_file_uses_is_in_env_example() -> None:
    used = {m for text in strings(compose()) for m in INTERPOLATION.findall(text)}
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD"} <= used
    assert used - documented() == set()


def test_every_variable_the_settings_gunicorn_and_scripts_read_is_in_env_example() -> None:
    settings = (REPO / "backend" / "config" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'_env(?:_bool|_int)?\("([A-Z][A-Z0-9_]*)"', settings))
    assert {"SECRET_KEY", "DATABASE_URL", "PRESENCE_TRUSTED_PROXIES"} <= read  # the regex works
    gunicorn = (DEPLOY / "gunicorn.conf.py").read_text(encoding="utf-8")
    read |= set(re.findall(r'os\.environ\.get\("([A-Z][A-Z0-9_]*)"', gunicorn))
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        read |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", unit.read_text(encoding="utf-8")))
    for script in ("backup.sh", "restore.sh"):
        text = (DEPLOY / script).read_text(encoding="utf-8")
        read |= set(re.findall(r"\$\{((?:PRESENCE|DATABASE)_[A-Z0-9_]*)", text))
    assert read - documented() == set()


def test_migrations_run_once_and_web_worker_beat_wait_for_them() -> None:
    migrate = services()["migrate"]
    assert migrate["command"][-2:] == ["migrate", "--noinput"]
    assert migrate["restart"] == "no"
    for name in ("web", "worker", "beat"):
        depends = services()[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name


def test_every_service_has_a_health_check_and_every_one_shot_is_awaited() -> None:
    awaited = {
        dependency
        for service in services().values()
        for dependency, rule in (service.get("depends_on") or {}).items()
        if isinstance(rule, dict) and rule.get("condition") == "service_completed_successfully"
    }
    for name, service in services().items():
        if service.get("restart") == "no":
            # A one-shot is judged by its exit status; something must wait for it.
            assert name in awaited, f"nothing waits for the one-shot {name}"
        else:
            check = service.get("healthcheck") or {}
            assert check.get("test") and not check.get("disable"), f"{name} has no health check"
    assert {"postgres", "redis", "web", "worker", "beat", "nginx"} <= set(services())


def test_the_broker_keeps_every_task() -> None:
    command = " ".join(services()["redis"]["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert any(v.startswith("redisdata:/data") for v in services()["redis"]["volumes"])


def test_nginx_serves_the_collected_static_files_and_proxies_the_phone_app_over_tls() -> None:
    collect = services()["collectstatic"]
    assert collect["command"][-2:] == ["collectstatic", "--noinput"]
    assert "static:/app/staticfiles" in collect["volumes"]  # STATIC_ROOT in the image
    nginx = services()["nginx"]
    assert "static:/srv/presence/static:ro" in nginx["volumes"]
    assert nginx["depends_on"]["collectstatic"] == {"condition": "service_completed_successfully"}
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert re.search(r"location /static/ \{\s*alias /srv/presence/static/;", conf)
    assert re.search(r"location /app/ \{\s*proxy_pass http://presence_web;", conf)
    assert "listen 443 ssl" in conf and "ssl_certificate " in conf
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "X-Forwarded-Proto $scheme" in conf  # how Django knows the request came over TLS


def test_app_services_get_production_settings_and_the_web_its_gunicorn_config() -> None:
    for name in ("migrate", "collectstatic", "web", "worker", "beat"):
        env = environment(services()[name])
        assert env["PRESENCE_ENV"] == "production", name
        assert {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL"} <= set(env), name
    assert services()["web"]["command"][-2:] == ["-c", "deploy/gunicorn.conf.py"]


def test_gunicorn_does_not_recycle_workers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GUNICORN_MAX_REQUESTS", "GUNICORN_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    namespace = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert namespace["max_requests"] == 0  # gthread drops connections when it recycles
    assert namespace["keepalive"] > 60  # longer than nginx's upstream keepalive_timeout


def test_systemd_units_start_after_the_migrations() -> None:
    units = {p.stem: p.read_text(encoding="utf-8") for p in (DEPLOY / "systemd").glob("*.service")}
    assert set(units) == {"presence-migrate", "presence-web", "presence-worker", "presence-beat"}
    assert "Type=oneshot" in units["presence-migrate"]
    for name in ("presence-web", "presence-worker", "presence-beat"):
        assert "Requires=presence-migrate.service" in units[name], name
        assert re.search(r"^After=presence-migrate\.service", units[name], re.MULTILINE), name
        assert "EnvironmentFile=/etc/presence/presence.env" in units[name], name
    assert "deploy/gunicorn.conf.py" in units["presence-web"]


SCRIPTS = [
    DEPLOY / "backup.sh",
    DEPLOY / "restore.sh",
    DEPLOY / "rowcounts.sh",
    DEPLOY / "demo.sh",
    REPO / ".ci" / "run",
    REPO / ".ci" / "production-smoke.sh",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shell_scripts_stop_at_the_first_error(script: Path) -> None:
    assert "\nset -euo pipefail\n" in script.read_text(encoding="utf-8")


def test_shell_scripts_are_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    require_service(shellcheck is not None, "shellcheck is not installed (apt install shellcheck)")
    assert shellcheck is not None
    result = subprocess.run(
        [shellcheck, "--severity=style", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


def test_the_secrets_file_and_certificates_stay_out_of_the_image_and_the_repository() -> None:
    # The image copies deploy/ (gunicorn.conf.py): deploy/.env must not travel with it.
    assert compose()["x-app"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {"deploy/.env", "deploy/tls/"} <= set(ignored)
    gitignored = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert {"/deploy/.env", "/deploy/tls/"} <= set(gitignored)
