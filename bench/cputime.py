"""CPU seconds used by a set of processes (Linux /proc), to report cost per unit of work.

On a machine shared with other jobs the wall-clock rate moves with everyone else's load; the
CPU each side spends per unit of work (web workers, PostgreSQL backends, clients) does not, and
says what dedicated cores would serve.
"""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one live process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    """Direct children of ``pid``."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


def pg_backends(database: str) -> list[int]:
    """PostgreSQL backend processes connected to ``database`` (by their process title)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres: ") and f" {database} " in title:
                out.append(int(entry.name))
    return out


class CpuMeter:
    """CPU seconds spent by some processes between ``start()`` and ``stop()``; processes that
    appear in between count from zero (a new PostgreSQL backend, a new worker)."""

    def __init__(self, find: object) -> None:
        self.find = find  # () -> list of pids
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = {pid: cpu_seconds(pid) for pid in self.find()}  # type: ignore[operator]

    def stop(self) -> float:
        now = {pid: cpu_seconds(pid) for pid in self.find()}  # type: ignore[operator]
        return sum(max(0.0, t - self.before.get(pid, 0.0)) for pid, t in now.items())
