"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` for every cache operation;
with redis-py 8 that object's set-up cost more CPU than the round trip (about 0.7 ms), and an
API request makes several (token last use, rate limits). A ``redis.Redis`` is safe to share
between threads (each command takes a connection from the pool), so one per pool is kept.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # The stubs omit this private method of Django's client; it exists since Django 4.0.
        index: int = getattr(self, "_get_connection_pool_index")(write)  # noqa: B009
        client = self._clients.get(index)
        if client is None:
            client = self._clients[index] = super().get_client(key, write=write)
        return client


class PresenceRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` sharing its Redis clients (see module)."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _SharedClientRedisCacheClient
