"""Report figures as SVG text (matplotlib, Agg): the same figure serves the page and exports.

Text is kept as SVG ``<text>`` (``svg.fonttype = none``), escaped by matplotlib, so a chart is
small, readable by screen readers through its ``<title>`` and safe to inline.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")
from matplotlib import rcParams
from matplotlib.figure import Figure

rcParams["svg.fonttype"] = "none"
rcParams["svg.hashsalt"] = "presence"  # stable element ids: the same data, the same SVG

DONE, PARTLY, NONE, CONTROL, ACCENT = "#15803d", "#d97706", "#b91c1c", "#6b7280", "#1d4ed8"


def _svg(fig: Figure, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # drop the XML prolog and doctype: inlined in HTML
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;")
    text = re.sub(
        r"<svg ",
        '<svg role="img" aria-label="' + safe_title.replace('"', "&quot;") + '" ',
        text,
        count=1,
    )
    # Let CSS size the figure to its column (the viewBox keeps the aspect ratio).
    text = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", text, count=1)
    return text


def _figure(width: float = 6.4, height: float = 2.8) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0)
    return fig


def compliance_by_squad_svg(names: Sequence[str], pct: Sequence[float | None]) -> str:
    """Horizontal bars: % of prescribed visits delivered per squad (a squad with nothing
    prescribed is labelled so rather than drawn as 0%)."""
    fig = _figure(6.4, max(1.4, 0.4 * len(names) + 0.9))
    ax = fig.add_subplot()
    y = list(range(len(names)))[::-1]
    values = [p or 0.0 for p in pct]
    colours = [
        CONTROL if p is None else DONE if p >= 100 else PARTLY if p > 0 else NONE for p in pct
    ]
    ax.barh(y, values, color=colours, height=0.6)
    for yi, p in zip(y, pct, strict=True):
        label = "nothing prescribed" if p is None else f"{p:.0f}%"
        ax.text((p or 0.0) + 3, yi, label, va="center", fontsize=9)
    ax.axvline(100, color="#111827", linewidth=1, linestyle="--")
    ax.set_yticks(y, list(names))
    ax.set_xlim(0, max(125, max(values, default=0) + 35))
    ax.set_xlabel("% of prescribed visits delivered")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "Compliance by squad: percent of prescribed visits delivered")


def dose_by_hour_svg(minutes: Sequence[float]) -> str:
    """Bars: delivered minutes in each local hour of the day."""
    fig = _figure(6.4, 2.6)
    ax = fig.add_subplot()
    ax.bar(range(24), list(minutes), color=ACCENT, width=0.8)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlim(-0.6, 23.6)
    ax.set_xlabel("Hour of day (local time)")
    ax.set_ylabel("Delivered minutes")
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "Dose by hour of day: delivered minutes in each local hour")


def treatment_vs_control_svg(
    days: Sequence[date], treatment: Sequence[float], control: Sequence[float]
) -> str:
    """Lines over the days: dose delivered in treated hot spots, presence in control ones."""
    fig = _figure(6.4, 2.6)
    ax = fig.add_subplot()
    x = list(range(len(days)))
    marker = "o" if len(days) <= 31 else None
    ax.plot(x, list(treatment), color=DONE, marker=marker, label="Treated: dose delivered")
    ax.plot(
        x,
        list(control),
        color=CONTROL,
        marker=marker,
        linestyle="--",
        label="Control: presence (contamination)",
    )
    step = max(1, -(-len(days) // 6))  # at most 6 date labels: they must not overlap
    ax.set_xticks(x[::step], [f"{d:%-d %b}" for d in days[::step]])
    ax.set_ylabel("Minutes")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig, "Treatment against control minutes over the days")
