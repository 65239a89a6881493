"""Counts from a CSV file (the ``impact_report --counts`` command): parse and compute."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from backend.analytics.impact import impact_counts


class CountsCsvError(ValueError):
    """Bad rows of a counts CSV: ``errors`` lists "line N: reason" for every one."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class CountsTable:
    places: list[str]
    blocks: list[str] | None
    treated: np.ndarray
    before: np.ndarray
    during: np.ndarray


MAX_CSV_ROWS = 100_000  # a city's hot spots number in the hundreds; this bounds memory


def counts_csv_parse(*, text: str) -> CountsTable:
    """Parse ``place,block,arm,before,during`` (header required; ``block`` optional).

    ``arm`` is ``treatment`` or ``control``; ``before``/``during`` are numbers >= 0 (counts or
    harm). Raises ``CountsCsvError`` naming every bad line (line 1 is the header) and its
    reason; nothing is returned unless every row is good.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise CountsCsvError(["line 1: the file is empty; expected place,block,arm,before,during"])
    cols = [h.strip().lower() for h in header]
    missing = [c for c in ("place", "arm", "before", "during") if c not in cols]
    if missing:
        raise CountsCsvError([f"line 1: missing column(s) {', '.join(missing)}"])
    at = {c: cols.index(c) for c in ("place", "block", "arm", "before", "during") if c in cols}
    errors: list[str] = []
    places: list[str] = []
    blocks: list[str] = []
    arms: list[bool] = []
    before: list[float] = []
    during: list[float] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(places) >= MAX_CSV_ROWS:
            errors.append(f"line {line}: more than {MAX_CSV_ROWS:,} rows")
            break
        if len(row) < len(cols):
            errors.append(f"line {line}: expected {len(cols)} columns, got {len(row)}")
            continue
        place = row[at["place"]].strip()
        arm = row[at["arm"]].strip().lower()
        reasons = []
        if not place:
            reasons.append("place is empty")
        elif place in seen:
            reasons.append(f"place {place!r} repeats line {seen[place]}")
        if arm not in ("treatment", "control"):
            reasons.append(f"arm must be treatment or control, got {row[at['arm']].strip()!r}")
        values = []
        for name in ("before", "during"):
            raw = row[at[name]].strip()
            try:
                v = float(raw)
            except ValueError:
                reasons.append(f"{name} is not a number: {raw!r}")
                continue
            if not math.isfinite(v) or v < 0:
                reasons.append(f"{name} must be a number >= 0, got {raw!r}")
            values.append(v)
        if reasons:
            errors.append(f"line {line}: " + "; ".join(reasons))
            continue
        seen[place] = line
        places.append(place)
        blocks.append(row[at["block"]].strip() if "block" in at else "")
        arms.append(arm == "treatment")
        before.append(values[0])
        during.append(values[1])
    if errors:
        raise CountsCsvError(errors)
    if not places:
        raise CountsCsvError(["line 2: no rows after the header"])
    return CountsTable(
        places=places,
        blocks=blocks if "block" in at and any(blocks) else None,
        treated=np.array(arms, dtype=np.bool_),
        before=np.array(before, dtype=np.float64),
        during=np.array(during, dtype=np.float64),
    )


def counts_impact(*, table: CountsTable, permutations: int, seed: int) -> dict[str, Any]:
    """``impact_counts`` on a parsed counts table, JSON-ready (with ``seed`` and ``places``)."""
    result = impact_counts(
        before=table.before,
        during=table.during,
        treated=table.treated,
        blocks=table.blocks,
        permutations=permutations,
        rng=np.random.default_rng(seed),
    )
    return result.to_dict() | {"seed": seed, "places": len(table.places)}
