"""Hot spot figures (matplotlib, Agg): drawn here, served by the views."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure

from backend.analytics.briefing import DAY_NAMES


def heatmap_png(profile: Sequence[Sequence[float]], *, title: str) -> bytes:
    """A 7 x 24 incident profile (Monday first, local hours) as a PNG heatmap."""
    fig = Figure(figsize=(8, 2.8), dpi=110)
    ax = fig.add_subplot()
    im = ax.imshow(profile, aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(7), DAY_NAMES)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("Hour of day (local time)")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="incidents", fraction=0.03)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
