"""Draw the phone app's PNG icons (iOS ignores SVG icons): 192 and 512 px, and a maskable 512 px
whose mark stays inside the central 80 % safe zone. The same mark as ``icons/icon.svg``; the
PNGs are committed, so run this only when the mark changes:

    python manage.py app_icons [--out mobile_web/icons]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from PIL import Image, ImageDraw

BLUE = (11, 61, 145, 255)
YELLOW = (255, 210, 63, 255)
SUPERSAMPLE = 4  # drawn 4x larger and scaled down: smooth edges without an SVG renderer


def draw_icon(size: int, *, maskable: bool) -> Image.Image:
    """The mark on a 512-unit grid (as in icon.svg), scaled to ``size`` px."""
    big = size * SUPERSAMPLE
    k = big / 512
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:  # full bleed; the mark shrinks into the safe zone (radius 0.4 * size)
        d.rectangle((0, 0, big, big), fill=BLUE)
        cy, r, w, dot, tail = 240, 90, 32, 30, (330, 390)
    else:
        d.rounded_rectangle((0, 0, big - 1, big - 1), radius=96 * k, fill=BLUE)
        cy, r, w, dot, tail = 236, 120, 40, 40, (356, 440)
    cx = 256
    d.ellipse(
        ((cx - r) * k, (cy - r) * k, (cx + r) * k, (cy + r) * k), outline=YELLOW, width=int(w * k)
    )
    d.ellipse(((cx - dot) * k, (cy - dot) * k, (cx + dot) * k, (cy + dot) * k), fill=YELLOW)
    d.line((cx * k, tail[0] * k, cx * k, tail[1] * k), fill=YELLOW, width=int(w * k))
    for y in tail:  # round caps
        d.ellipse(
            ((cx - w / 2) * k, (y - w / 2) * k, (cx + w / 2) * k, (y + w / 2) * k), fill=YELLOW
        )
    return img.resize((size, size), Image.Resampling.LANCZOS)


class Command(BaseCommand):
    help = "Draw the phone app's PNG icons (192, 512 and maskable 512 px)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "mobile_web" / "icons"))

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        out.mkdir(parents=True, exist_ok=True)
        for name, size, maskable in (
            ("icon-192.png", 192, False),
            ("icon-512.png", 512, False),
            ("icon-maskable-512.png", 512, True),
        ):
            path = out / name
            draw_icon(size, maskable=maskable).save(path, optimize=True)
            self.stdout.write(f"{path} ({path.stat().st_size} bytes)")
