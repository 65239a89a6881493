"""A value kept in one process's memory for a few seconds: for reads every phone makes.

An officer's phone asks for nearby hot spots every 30 s; at thousands of officers the same
few rows (the active run's hot spots, today's dose, the running experiment) were read and
turned into objects many times a second by every web process. ``Memo`` keeps the last answer
per key for ``PRESENCE_HOT_READ_SECONDS`` (5 s in production, 0 locally: every call reads the
database, as the tests expect). Each process holds its own copy, so a change shows everywhere
within that many seconds; nothing is shared and nothing needs invalidating by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.conf import settings

T = TypeVar("T")


class Memo(Generic[T]):
    """The result of ``load(key)`` kept for ``max_age()`` seconds per key, in this process.

    Thread-safe: gunicorn's threads share one ``Memo``. One thread at a time reloads a key:
    while it does, the others keep answering with the previous value if there is one (a few
    seconds older at most), instead of each running the same read at once and each request
    paying for it; with no previous value they load too. Time is
    ``clock()`` (default ``now``, seconds). At most ``max_keys`` keys are kept (the oldest go
    first); a key is usually a day or a set of run ids, so a handful.
    """

    def __init__(
        self,
        load: Callable[[Hashable], T],
        *,
        max_age: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
        max_keys: int = 8,
    ) -> None:
        self._load = load
        self._max_age = max_age or hot_read_seconds
        self._clock = clock or (lambda: now())
        self._max_keys = max_keys
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[float, T]] = {}
        self._loading: set[Hashable] = set()
        _EVERY.append(self)

    def get(self, key: Hashable) -> T:
        age = self._max_age()
        now = self._clock()
        if age <= 0:
            return self._load(key)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None and now - hit[0] < age:
                return hit[1]
            if hit is not None and key in self._loading:
                return hit[1]  # another thread is reloading it: the previous answer meanwhile
            self._loading.add(key)
        try:
            value = self._load(key)
        finally:
            with self._lock:
                self._loading.discard(key)
        with self._lock:
            self._kept.pop(key, None)
            while len(self._kept) >= self._max_keys:
                self._kept.pop(next(iter(self._kept)))
            self._kept[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


_EVERY: list[Memo[Any]] = []


def now() -> float:
    """Seconds on a clock that never goes back (a test may replace this function)."""
    return time.monotonic()


def memo_clear_all() -> None:
    """Forget every kept value in this process (tests that turn hot reads on)."""
    for memo in _EVERY:
        memo.clear()


def hot_read_seconds() -> float:
    """``PRESENCE_HOT_READ_SECONDS``: how long a process may reuse a hot read."""
    return float(getattr(settings, "PRESENCE_HOT_READ_SECONDS", 0))
