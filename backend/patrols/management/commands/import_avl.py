from __future__ import annotations

import math
import time as clock
import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backend.patrols.ingest import MAX_BATCH, avl_ingest
from backend.patrols.models import AvlUnit
from backend.patrols.tasks import unit_visit_rebuild_task
from backend.patrols.trackfiles import read_track

# Deterministic client UUIDs: the same fix in a re-imported file maps to the same UUID, so a
# file imported twice is stored once (the database's unique constraint decides).
AVL_NAMESPACE = uuid.UUID("5b0f6c3e-8f55-4a8e-9a57-6a1d9a0c2f11")


class Command(BaseCommand):
    help = (
        "Import a vehicle's AVL track (GPX, or CSV with columns time,lat,lon[,accuracy_m,"
        "speed_mps]) for one unit, exactly once, then roll up its visits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .gpx or .csv file.")
        parser.add_argument("--unit", required=True, help="The vehicle's call sign, e.g. CAR-12.")
        parser.add_argument(
            "--default-accuracy-m",
            type=float,
            default=10.0,
            help="Accuracy to record for fixes that report none (AVL units often don't).",
        )
        parser.add_argument("--no-rollup", action="store_true", help="Skip the visit rollup.")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            track = read_track(opts["path"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        unit = opts["unit"].strip()
        if not unit:
            raise CommandError("--unit must name the vehicle")
        started = clock.perf_counter()
        items = []
        for t, lat, lon, acc, speed in zip(
            track.t, track.lat, track.lon, track.accuracy_m, track.speed_mps, strict=True
        ):
            key = f"{unit}|{t:.3f}|{lat:.7f}|{lon:.7f}"
            item: dict[str, Any] = {
                "client_uuid": str(uuid.uuid5(AVL_NAMESPACE, key)),
                "recorded_at": datetime.fromtimestamp(float(t), tz=UTC).isoformat(),
                "lat": float(lat),
                "lon": float(lon),
                "accuracy_m": opts["default_accuracy_m"] if math.isnan(acc) else float(acc),
                "unit": unit,
            }
            if not math.isnan(speed):
                item["speed_mps"] = float(speed)
            items.append(item)
        totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
        reasons: list[str] = []
        for lo in range(0, len(items), MAX_BATCH):
            result = avl_ingest(items=items[lo : lo + MAX_BATCH])
            for k, v in result.counts().items():
                totals[k] += v
            reasons += [
                f"fix {lo + i + 1}: {r.reason}"
                for i, r in enumerate(result.items)
                if r.status == "rejected"
            ]
        elapsed = clock.perf_counter() - started
        self.stdout.write(
            f"{unit}: imported {totals['accepted']:,} · duplicates {totals['duplicate']:,} · "
            f"rejected {totals['rejected']:,} ({len(items):,} fixes in {elapsed:.1f} s)"
        )
        for line in reasons[:20]:
            self.stdout.write(f"  {line}")
        if opts["no_rollup"] or not totals["accepted"]:
            return
        unit_id = AvlUnit.objects.get(call_sign=unit[:40]).pk
        days = sorted(
            {timezone.localtime(datetime.fromtimestamp(float(t), tz=UTC)).date() for t in track.t}
        )
        for day in days:
            unit_visit_rebuild_task.delay(unit_id, day.isoformat())
        self.stdout.write(f"Visits rolled up for {len(days)} day(s).")
