"""The rate limits' window counter (``backend.config.throttling.window_hit``), on Redis as in
production and on the local-memory cache a laptop without Redis uses."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache

from backend.config.throttling import window_hit
from tests.conftest import redis_available, require_service


@pytest.fixture
def on_redis(settings: Any) -> None:
    require_service(*redis_available())
    if "Redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("the cache is not Redis here (no REDIS_URL): the local-memory test covers it")


@pytest.fixture
def on_local_memory(settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_redis_counts_every_request_once_under_concurrency_and_reports_the_window(
    on_redis: None,
) -> None:
    key = f"presence-test-{secrets.token_hex(6)}:rate:ingest:u1"
    # 200 requests from 20 threads: a read-then-write counter would lose some; INCR must not.
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: window_hit(key, 60), range(200)))
    assert sorted(count for count, _ in results) == list(range(1, 201))
    assert all(0 < left <= 60 for _, left in results)
    # The window closes after its duration (shortened here on the Redis key itself), and the
    # next request opens a new one at 1.
    name = cache.make_and_validate_key(key)
    client = cache._cache.get_client(name, write=True)
    client.pexpire(name, 50)
    time.sleep(0.2)
    assert window_hit(key, 60) == (1, 60)


def test_local_memory_counts_and_reopens_the_window(on_local_memory: None) -> None:
    key = "rate:draw:u7"
    assert [window_hit(key, 60)[0] for _ in range(5)] == [1, 2, 3, 4, 5]
    count, left = window_hit(key, 60)
    assert count == 6 and 59 <= left <= 60
    # An expired window (its opening moved 61 s back) starts over.
    opened, count = cache.get(key)
    cache.set(key, (opened - 61, count))
    assert window_hit(key, 60) == (1, 60)
