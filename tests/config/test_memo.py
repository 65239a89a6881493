"""A process's short-lived memory of hot reads (backend/config/memo.py): what it keeps, for how
long, and that 0 seconds means every call reads afresh."""

from __future__ import annotations

from collections.abc import Hashable

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
