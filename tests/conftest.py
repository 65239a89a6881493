"""Shared fixtures: service requirements, a real Celery worker, factories' data, paths.

Tests that need PostgreSQL, Redis or a worker call :func:`require_service`. Without
``PRESENCE_REQUIRE_SERVICES=1`` a missing service skips the test with the reason printed
(``-ra`` shows it); with it, the test fails, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# No per-example deadline: timing belongs in bench/, and a loaded CI machine must not turn a
# slow example into a failure.
hypothesis_settings.register_profile("presence", deadline=None)
hypothesis_settings.load_profile("presence")

REPO = Path(__file__).resolve().parents[1]
# Real, public data sets that tests and benches read; tests/data/README.md gives their provenance.
TEST_DATA = REPO / "tests" / "data"
REQUIRE_SERVICES = os.environ.get("PRESENCE_REQUIRE_SERVICES") == "1"


def require_service(available: bool, reason: str) -> None:
    """Skip (or, under PRESENCE_REQUIRE_SERVICES=1, fail) when a service is missing."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"PRESENCE_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def redis_available() -> tuple[bool, str]:
    url = os.environ.get("REDIS_URL")
    if not url:
        return False, "REDIS_URL is not set (no broker)"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"Redis at {url} is unreachable: {exc}"
    return True, ""


@pytest.fixture(autouse=True)
def _no_tile_server(settings: Any) -> None:
    """Maps in tests draw with no basemap: a browser test must never fetch tiles from outside
    this machine. A test that wants tiles sets ``settings.LEAFLET_CONFIG["TILES"]`` itself."""
    settings.LEAFLET_CONFIG = {**settings.LEAFLET_CONFIG, "TILES": []}


@pytest.fixture(autouse=True)
def _own_rate_limit_counts(settings: Any) -> None:
    """Each test counts its requests against the API's rate limits afresh (its own cache keys),
    so limits are real in every test without one test's calls spending another's."""
    settings.PRESENCE_THROTTLE_PREFIX = f"presence-test-{secrets.token_hex(6)}:"


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """``client.force_login(user)`` signs in as if the user also typed a right second-factor code
    (``tests.factories.login_verified``: a confirmed authenticator, the session marked verified),
    so a test about something else need not. A test about the factor itself uses
    ``force_login_without_factor`` or ``sergeant_without_second_factor``."""
    from django.test import Client

    from tests.factories import login_verified

    monkeypatch.setattr(Client, "force_login", login_verified)


@pytest.fixture(autouse=True, scope="session")
def _celery_eager_by_default() -> Iterator[None]:
    """Tasks run in-process unless a test asks for the real worker (see ``celery_worker``)."""
    from backend.config.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture
def postgres(db: None) -> None:
    from django.db import connection

    require_service(
        connection.vendor == "postgresql",
        f"this test needs PostgreSQL; DATABASE_URL points at {connection.vendor}",
    )


@pytest.fixture
def redis_url() -> str:
    ok, reason = redis_available()
    require_service(ok, reason)
    return os.environ["REDIS_URL"]


def database_url_of_test_db() -> str:
    """A DATABASE_URL for the database this test session is using (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = f"{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}"
    return f"postgresql://{user}{password}@{host}/{s['NAME']}"


class Worker:
    def __init__(self, queue: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.queue = queue
        self.process = process
        self.log = log


def worker_start(*, redis_url: str, queue: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a real ``celery worker`` (solo pool) on ``queue`` and the default queue, in a
    process group of its own (so a test can SIGKILL the whole group), and wait until it is
    ready. It uses the test database and the broker at ``redis_url``."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_db(),
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "backend.config.settings",
    }
    with log.open("ab") as out:
        start_at = out.tell()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "backend.config",
                "worker",
                "--pool=solo",
                "-Q",
                f"{queue},celery",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                "-n",
                f"{queue}-{secrets.token_hex(2)}@%h",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while b"ready." not in log.read_bytes()[start_at:]:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process


def worker_stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """This process sends its tasks to the broker at ``url`` (a test's own Redis) meanwhile."""
    from backend.config.celery import app

    def reset() -> None:
        # Forget the app's pools; never close them: kombu's registry hands the same pool out
        # again for the same URL, and a closed one would fail every later test's publish.
        app._pool = None
        app.amqp._producer_pool = None

    before = app.conf.broker_url
    app.conf.broker_url = url
    reset()
    try:
        yield
    finally:
        app.conf.broker_url = before
        reset()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` that a test may stop and start (never the shared one).
    It keeps nothing on disk: a restart empties it, as a crashed broker without persistence."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server on port {self.port} did not start")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, started; stopped (whatever state it is in) at the end."""
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def real_broker(own_redis: RedisServer) -> Iterator[RedisServer]:
    """Tasks sent by this process go through the test's own Redis to real workers (PostgreSQL
    required: the workers share the test database)."""
    from django.db import connection

    from backend.config.celery import app

    require_service(connection.vendor == "postgresql", "fault tests need PostgreSQL")
    with broker_at(own_redis.url):
        app.conf.task_always_eager = False
        try:
            yield own_redis
        finally:
            app.conf.task_always_eager = True


def wait_until(condition: Any, timeout: float, what: str, log: Path | None = None) -> float:
    """Seconds until ``condition()`` held; fails with the worker's log after ``timeout``."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            tail = log.read_text()[-3000:] if log else ""
            pytest.fail(f"{what}: not after {timeout} s\n{tail}")
        time.sleep(0.1)
    return time.monotonic() - began


@pytest.fixture
def celery_worker(
    redis_url: str, django_db_serialized_rollback: None, transactional_db: None, tmp_path: Path
) -> Iterator[Worker]:
    """A real ``celery worker`` process on a queue of its own, using the test database."""
    from backend.config.celery import app

    queue = f"presence-test-{secrets.token_hex(4)}"
    log = tmp_path / "worker.log"
    # Messages an earlier test left on the shared default queue (a rollup's follow-up compliance
    # rebuild sent just before that test's worker stopped) would run against this test's data.
    app.control.purge()
    process = worker_start(redis_url=redis_url, queue=queue, log=log)
    try:
        app.conf.task_always_eager = False
        # Eager tasks run by live-server threads (browser tests) may leave Celery's global
        # "joining would block" flag set: this process is never a worker, so clear it.
        from celery._state import _set_task_join_will_block

        _set_task_join_will_block(False)
        yield Worker(queue, process, log)
    finally:
        app.conf.task_always_eager = True
        worker_stop(process)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Transactional tests must restore the database they flush: a flush drops the reference
    rows the migrations wrote (harm index, offence types, activity types), and a later test
    would then start without them, or fail to restore over re-created content types."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if (
            marker
            and marker.kwargs.get("transaction")
            and not marker.kwargs.get("serialized_rollback")
        ):
            raise pytest.UsageError(
                f"{item.nodeid}: use @pytest.mark.django_db(transaction=True, "
                "serialized_rollback=True)"
            )
