from __future__ import annotations

from base64 import b32decode
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp

from backend.hotspots.demo import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = (
        "Print the current second-factor code of the demo's staff logins (the published demo "
        "authenticator secret; for trying the demo without an authenticator app). A code works "
        "once: for a second sign-in wait for the next one (every 30 s). Refused in production."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_code is for the demo: refused with PRESENCE_ENV=production")
        code = totp(b32decode(DEMO_TOTP_SECRET))
        self.stdout.write(f"{code:06d}")
