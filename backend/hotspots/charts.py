"""Charts of hot spots, drawn with matplotlib (Agg: no display) as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from backend.analytics.briefing import DAY_NAMES
from backend.hotspots.models import Hotspot


def hotspot_heatmap_png(hotspot: Hotspot) -> bytes:
    """The hot spot's 24x7 incident profile (rows Mon..Sun, columns hours 0..23, local time)
    as a PNG heatmap, 8 x 2.8 inches at 110 dpi; an empty profile draws all zeros."""
    data = hotspot.profile_24x7 or [[0] * 24 for _ in range(7)]
    fig = Figure(figsize=(8, 2.8), dpi=110)
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(7), DAY_NAMES)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("Hour of day (local time)")
    ax.set_title(f"Hot spot {hotspot.rank}: incidents by day and hour")
    fig.colorbar(im, ax=ax, label="incidents", fraction=0.03)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
