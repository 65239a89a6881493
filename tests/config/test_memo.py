"""A process's short-lived memory of hot reads (backend/config/memo.py): what it keeps, for how
long, and that 0 seconds means every call reads afresh."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.config.memo import Memo


class Source:
    """Counts loads; answers ``key`` with the load number so a reused answer shows."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self, key: Hashable) -> str:
        self.loads += 1
        return f"{key}#{self.loads}"


def test_an_answer_is_reused_until_it_is_max_age_seconds_old() -> None:
    t = [100.0]
    source = Source()
    memo = Memo(source, max_age=lambda: 5.0, clock=lambda: t[0])
    assert memo.get("day") == "day#1"
    t[0] = 104.9
    assert memo.get("day") == "day#1"  # 4.9 s old: kept
    t[0] = 105.0
    assert memo.get("day") == "day#2"  # 5 s old: read again
    assert memo.get("other") == "other#3"  # each key has its own answer
    assert source.loads == 3


def test_zero_seconds_reads_on_every_call() -> None:
    source = Source()
    memo = Memo(source, max_age=lambda: 0.0, clock=lambda: 1.0)
    assert [memo.get("k"), memo.get("k")] == ["k#1", "k#2"]


def test_at_most_max_keys_are_kept_the_oldest_going_first() -> None:
    source = Source()
    memo = Memo(source, max_age=lambda: 60.0, clock=lambda: 1.0, max_keys=2)
    memo.get("a"), memo.get("b"), memo.get("c")  # "a" makes room for "c"
    assert memo.get("b") == "b#2"
    assert memo.get("a") == "a#4"


def test_while_one_thread_reloads_the_others_answer_with_the_previous_value() -> None:
    """Many requests of one process reach an expired answer at once: one reloads, the others
    keep the previous answer meanwhile (no duplicate reads); the next call sees the new one."""
    t = [0.0]
    started, release = threading.Event(), threading.Event()
    loads: list[str] = []

    def load(key: Hashable) -> str:
        loads.append(threading.current_thread().name)
        if len(loads) == 2:  # the reload: hold it until the other threads have asked
            started.set()
            assert release.wait(10)
        return f"{key}#{len(loads)}"

    memo = Memo(load, max_age=lambda: 5.0, clock=lambda: t[0])
    assert memo.get("day") == "day#1"
    t[0] = 6.0  # expired
    reloader = threading.Thread(target=lambda: answers.append(memo.get("day")), name="reloader")
    answers: list[str] = []
    reloader.start()
    assert started.wait(10)
    with ThreadPoolExecutor(8) as pool:
        meanwhile = list(pool.map(lambda _: memo.get("day"), range(8)))
    assert meanwhile == ["day#1"] * 8  # the previous answer, no read of their own
    release.set()
    reloader.join(10)
    assert answers == ["day#2"]
    assert loads == ["MainThread", "reloader"]
    assert memo.get("day") == "day#2"


def test_a_failed_reload_lets_the_next_call_try_again() -> None:
    t = [0.0]
    calls = [0]

    def load(key: Hashable) -> str:
        calls[0] += 1
        if calls[0] == 2:
            raise ConnectionError("database went away")
        return f"{key}#{calls[0]}"

    memo = Memo(load, max_age=lambda: 5.0, clock=lambda: t[0])
    memo.get("day")
    t[0] = 6.0
    with pytest.raises(ConnectionError):
        memo.get("day")
    assert memo.get("day") == "day#3"  # not stuck answering the stale value for ever
