"""GPX reading: gpxpy (``read_gpx``) against the streaming expat reader (``read_gpx_fast``).

Run: ``python bench/gpx.py [--points 10000 100000] [--repeat 3]``. Reads the real bus
track of ``tests/data/gps`` (2,144 points) and synthetic GPX 1.1 files of a vehicle at one fix
a second (elevation, time, and a Garmin speed extension on every point, as fleet exports
write them), written to a temporary folder. Prints one row per file and reader: file size,
points, best wall time of ``--repeat``, points per second and peak Python memory
(tracemalloc, a separate run), and checks that both readers give the same points.
``read_gpx`` takes gpxpy below ``GPX_FAST_BYTES`` and the fast path above it; this bench
calls gpxpy directly on every file so that the two are compared at every size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from backend.patrols import trackfiles
from bench.hotspots import best_of

BUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "gps"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<gpx version="1.1" creator="bench" xmlns="http://www.topografix.com/GPX/1/1"\n'
    ' xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">\n'
    " <trk><trkseg>\n"
)


def synthetic(path: Path, n: int) -> None:
    rng = np.random.default_rng(n)
    lat = 52.6 + np.cumsum(rng.normal(0, 5e-5, n))
    lon = -8.6 + np.cumsum(rng.normal(0, 8e-5, n))
    speed = rng.uniform(0, 15, n)
    t0 = np.datetime64("2024-06-01T05:00:00")
    with path.open("w") as f:
        f.write(HEAD)
        for k in range(n):
            when = str(t0 + np.timedelta64(k, "s"))
            f.write(
                f'  <trkpt lat="{lat[k]:.7f}" lon="{lon[k]:.7f}"><ele>12.5</ele>'
                f"<time>{when}Z</time><extensions><gpxtpx:TrackPointExtension>"
                f"<gpxtpx:speed>{speed[k]:.2f}</gpxtpx:speed></gpxtpx:TrackPointExtension>"
                "</extensions></trkpt>\n"
            )
        f.write(" </trkseg></trk>\n</gpx>\n")


def gpxpy_reader(path: Path) -> trackfiles.TrackFile:
    """``read_gpx``'s gpxpy path whatever the file's size."""
    saved = trackfiles.GPX_FAST_BYTES
    trackfiles.GPX_FAST_BYTES = 1 << 62
    try:
        return trackfiles.read_gpx(path)
    finally:
        trackfiles.GPX_FAST_BYTES = saved


def peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def same(a: trackfiles.TrackFile, b: trackfiles.TrackFile) -> bool:
    return all(
        np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True)
        for f in ("t", "lat", "lon", "accuracy_m", "speed_mps")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"read_gpx takes the fast path above GPX_FAST_BYTES = {trackfiles.GPX_FAST_BYTES:,}")
    print(f"{'file':<34}{'MB':>7}{'points':>9}{'reader':>8}{'s':>8}{'points/s':>11}{'peak MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        files = [BUS / "limerick_bus_304_2019-02-18.gpx"]
        for n in args.points:
            files.append(Path(tmp) / f"synthetic_{n}.gpx")
            synthetic(files[-1], n)
        for path in files:
            mb = path.stat().st_size / 1e6
            results = []
            for name, reader in (("gpxpy", gpxpy_reader), ("fast", trackfiles.read_gpx_fast)):
                sec, tf = best_of(args.repeat, lambda r=reader, p=path: r(p))
                peak = peak_mb(lambda r=reader, p=path: r(p))
                results.append((sec, tf))
                n = len(tf)
                print(
                    f"{path.name:<34}{mb:>7.2f}{n:>9,}{name:>8}{sec:>8.3f}{n / sec:>11,.0f}"
                    f"{peak:>9.1f}"
                )
            ratio = results[0][0] / results[1][0]
            agree = same(results[0][1], results[1][1])
            print(f"{'':<34}gpxpy / fast: {ratio:.1f}x the time; same points: {agree}")


if __name__ == "__main__":
    main()
