"""Muted text keeps a contrast of at least 4.5:1 (WCAG 2.x AA) on cards and on the page, in the
light and the dark scheme of ``static/css/presence.css``; nothing fades text with opacity (the
landing page's "not built yet" cards at opacity .75 measured 4.06:1)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

CSS = Path(settings.BASE_DIR) / "backend" / "static" / "css" / "presence.css"


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_formula_on_known_pairs() -> None:
    assert round(contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast("#767676", "#ffffff"), 2) == 4.54  # the classic AA-passing grey


def schemes() -> list[dict[str, str]]:
    text = CSS.read_text(encoding="utf-8")
    roots = re.findall(r":root\s*\{([^}]*)\}", text)
    out = []
    for body in roots[:2]:  # light, then the dark scheme's override
        found = re.findall(r"--([a-z]+):\s*#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", body)
        out.append({k: "#" + (v if len(v) == 6 else "".join(c * 2 for c in v)) for k, v in found})
    light, dark = out
    return [light, {**light, **dark}]


def test_muted_text_reaches_4_5_to_1_on_cards_and_page_in_both_schemes() -> None:
    for colours in schemes():
        for ground in ("card", "bg"):
            ratio = contrast(colours["muted"], colours[ground])
            assert ratio >= 4.5, (colours["muted"], colours[ground], round(ratio, 2))


def test_no_rule_fades_text_with_opacity() -> None:
    text = CSS.read_text(encoding="utf-8")
    faded = re.findall(r"([^{}]+)\{[^}]*\bopacity:\s*(0?\.\d+)", text)
    assert faded == []
