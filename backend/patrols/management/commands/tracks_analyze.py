"""``manage.py tracks_analyze TRACK.gpx|csv --hotspots HOTSPOTS.geojson [--json OUT]``.

Runs the track analytics (``backend.analytics.tracks``, DESIGN.md defaults) on one device's
track file against hot spot polygons and prints its visits, stops and device gaps: for
analysts checking a device, and for tests. Touches no database.

The JSON written with ``--json``::

    {"visits": [{"hotspot", "entered_at", "exited_at", "dwell_s", "stopped_s", "mode",
                 "koper_compliant", "gaps_s"}],
     "stops": [{"start", "end", "lat", "lon", "duration_s"}],
     "gaps": [{"start", "end"}]}

``hotspot`` is the GeoJSON feature's ``id`` (as given, string or number), else its ``name``
property, else ``"feature-<index>"``; times are ISO-8601 UTC ending in ``Z`` (milliseconds
only when not whole seconds); durations are seconds rounded to milliseconds; ``lat``/``lon``
are WGS84 degrees rounded to 7 decimals (~1 cm).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.analytics.projection import LocalProjection
from backend.analytics.tracks import (
    MODE_NAMES,
    TrackAnalysis,
    TrackParams,
    analyze_tracks,
    build_hotspot_index,
)
from backend.patrols.trackfiles import (
    HotspotFeatures,
    TrackFile,
    read_hotspots_geojson,
    read_track,
)


def iso_utc(t: float) -> str:
    """Epoch seconds -> ``2019-02-18T07:45:50Z`` (``.123Z`` when not whole seconds)."""
    ms = round(t * 1000)
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    frac = f".{ms % 1000:03d}" if ms % 1000 else ""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def analyze_file(
    track: TrackFile, hotspots: HotspotFeatures, params: TrackParams
) -> tuple[dict[str, list[dict[str, Any]]], TrackAnalysis]:
    """Analyse one track file; returns the JSON contract (as a dict) and the raw analysis.

    The local projection is centred on the track's first fix.
    """
    proj = LocalProjection(float(track.lat[0]), float(track.lon[0]))
    x, y = proj.to_xy(track.lat, track.lon)
    index = build_hotspot_index([proj.geometry_to_xy(g) for g in hotspots.geometries])
    a = analyze_tracks(
        np.zeros(len(track), dtype=np.int64),
        track.t,
        x,
        y,
        index,
        accuracy_m=track.accuracy_m,
        speed_mps=track.speed_mps,
        params=params,
    )
    v, s = a.visits, a.stops
    stop_lat, stop_lon = proj.to_latlon(s.x, s.y)
    report: dict[str, list[dict[str, Any]]] = {
        "visits": [
            {
                "hotspot": hotspots.ids[int(v.hotspot[i])],
                "entered_at": iso_utc(float(v.entered_at[i])),
                "exited_at": iso_utc(float(v.exited_at[i])),
                "dwell_s": round(float(v.dwell_s[i]), 3),
                "stopped_s": round(float(a.modes.stopped_s[i]), 3),
                "mode": MODE_NAMES[int(a.modes.mode[i])],
                "koper_compliant": bool(a.koper_compliant[i]),
                "gaps_s": round(float(v.gaps_s[i]), 3),
            }
            for i in range(len(v))
        ],
        "stops": [
            {
                "start": iso_utc(float(s.start[i])),
                "end": iso_utc(float(s.end[i])),
                "lat": round(float(stop_lat[i]), 7),
                "lon": round(float(stop_lon[i]), 7),
                "duration_s": round(float(s.duration_s[i]), 3),
            }
            for i in range(s.first.size)
        ],
        "gaps": [
            {"start": iso_utc(float(g0)), "end": iso_utc(float(g1))}
            for g0, g1 in zip(a.gaps.start.tolist(), a.gaps.end.tolist(), strict=True)
        ],
    }
    return report, a


class Command(BaseCommand):
    help = (
        "Analyse a GPS track (GPX, or CSV with time,lat,lon[,accuracy_m,speed_mps]) against hot "
        "spot polygons (GeoJSON): print its visits, stops and device gaps; --json writes them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        d = TrackParams()
        parser.add_argument("track", help="A .gpx or .csv track file.")
        parser.add_argument(
            "--hotspots", required=True, help="GeoJSON FeatureCollection of (Multi)Polygons."
        )
        parser.add_argument("--json", help="Write the visits, stops and gaps to this path.")
        parser.add_argument(
            "--min-stop-s",
            type=float,
            default=d.min_stop_s,
            help=f"Minimum stop duration in seconds (default {d.min_stop_s:g}).",
        )
        parser.add_argument(
            "--stop-diameter-m",
            type=float,
            default=d.stop_distance_m,
            help=(
                "Stop distance threshold D in metres (default "
                f"{d.stop_distance_m:g}): with --stop-method anchor (Li et al.) the greatest "
                "distance from the stop's first fix; with window, the greatest diagonal of "
                "the box holding the stop's fixes."
            ),
        )
        parser.add_argument(
            "--stop-method",
            choices=["anchor", "window"],
            default=d.stop_method,
            help="Stay-point rule (default window: movingpandas'; anchor: Li et al. 2008).",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            params = replace(
                TrackParams(),
                min_stop_s=opts["min_stop_s"],
                stop_distance_m=opts["stop_diameter_m"],
                stop_method=opts["stop_method"],
            )
            track = read_track(opts["track"])
            hotspots = read_hotspots_geojson(opts["hotspots"])
            report, a = analyze_file(track, hotspots, params)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

        span = f"{iso_utc(float(track.t[0]))} .. {iso_utc(float(track.t[-1]))}"
        self.stdout.write(
            f"{Path(opts['track']).name}: {len(track):,} fixes ({a.kept.size:,} kept), {span}; "
            f"{len(hotspots.names)} hot spots"
        )
        visits = report["visits"]
        self.stdout.write(f"\nVisits ({len(visits)}):")
        if visits:
            width = max(7, *(len(str(v["hotspot"])) for v in visits))
            self.stdout.write(
                f"{'hotspot':<{width}}  {'entered_at':<24}  {'exited_at':<24}  {'dwell_s':>8}  "
                f"{'stopped_s':>9}  {'mode':<10}  {'koper':<5}  {'gaps_s':>7}"
            )
            for v in visits:
                self.stdout.write(
                    f"{v['hotspot']!s:<{width}}  {v['entered_at']:<24}  {v['exited_at']:<24}  "
                    f"{v['dwell_s']:>8.0f}  {v['stopped_s']:>9.0f}  {v['mode']:<10}  "
                    f"{'yes' if v['koper_compliant'] else 'no':<5}  {v['gaps_s']:>7.0f}"
                )
        stops = report["stops"]
        self.stdout.write(f"\nStops ({len(stops)}):")
        if stops:
            self.stdout.write(
                f"{'start':<24}  {'end':<24}  {'lat':>11}  {'lon':>12}  {'duration_s':>10}"
            )
            for s in stops:
                self.stdout.write(
                    f"{s['start']:<24}  {s['end']:<24}  {s['lat']:>11.6f}  {s['lon']:>12.6f}  "
                    f"{s['duration_s']:>10.0f}"
                )
        gaps = report["gaps"]
        self.stdout.write(f"\nDevice gaps (> {params.gap_s:g} s) ({len(gaps)}):")
        durations = (a.gaps.end - a.gaps.start).tolist()
        for g, seconds in zip(gaps, durations, strict=True):
            self.stdout.write(f"{g['start']}  ..  {g['end']}  ({seconds:.0f} s)")
        if opts["json"]:
            out = Path(opts["json"])
            out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
            self.stdout.write(f"\nWrote {out}")
