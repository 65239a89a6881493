from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backend.reports.smoke import SmokeFailure, SmokeOptions, StepResult, smoke_run
from backend.reports.smoke_fixture import smoke_fixture_ensure


class Command(BaseCommand):
    help = (
        "Smoke-test a running production stack through HTTP only: /healthz, sign-in, a draw, "
        "a patrol's pings, the visit rolled up by a real Celery worker, the officer's dose "
        "report, sign-out. Exits non-zero at the first failure. --prepare (run once, on the "
        "server, with the stack's settings) creates the smoke officer, and a hot spot when "
        "none is published."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="Where the stack answers (default http://127.0.0.1:8000, gunicorn itself).",
        )
        parser.add_argument(
            "--username",
            default=settings.PRESENCE_SMOKE_USERNAME,
            help="An officer account (default PRESENCE_SMOKE_USERNAME, smoke-officer).",
        )
        parser.add_argument(
            "--password",
            default=settings.PRESENCE_SMOKE_PASSWORD,
            help="Its password (default PRESENCE_SMOKE_PASSWORD; prefer the variable: "
            "arguments show in the process list).",
        )
        parser.add_argument(
            "--forwarded-proto",
            choices=["https"],
            default=None,
            help="Send X-Forwarded-Proto: https as the TLS proxy would: for a stack with no "
            "proxy in front (CI), which would otherwise redirect every request to HTTPS.",
        )
        parser.add_argument(
            "--host",
            default=None,
            help="Host header to send (one of ALLOWED_HOSTS) when --base-url names an address.",
        )
        parser.add_argument(
            "--rollup-timeout",
            type=float,
            default=180.0,
            help="Seconds to wait for the worker's rollup (default 180).",
        )
        parser.add_argument(
            "--prepare",
            action="store_true",
            help="Create or reset the smoke officer (and a hot spot if none is published) in "
            "this settings' database, then exit. Sets the password given.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        username, password = opts["username"], opts["password"]
        if not username or not password:
            raise CommandError(
                "smoke_production needs an officer's username and password: --username and "
                "PRESENCE_SMOKE_PASSWORD (or --password)"
            )
        if opts["prepare"]:
            self._prepare(username, password)
            return
        if not 1 <= opts["rollup_timeout"] <= 3600:
            raise CommandError("--rollup-timeout must be from 1 to 3600 seconds")
        options = SmokeOptions(
            base_url=opts["base_url"],
            username=username,
            password=password,
            forwarded_proto=opts["forwarded_proto"],
            host=opts["host"],
            rollup_timeout_s=opts["rollup_timeout"],
        )
        self.stdout.write(f"Smoke test of {options.base_url} as {username}")
        started = time.perf_counter()
        try:
            smoke_run(options, echo=self._echo)
        except SmokeFailure as exc:
            raise CommandError(f"FAILED at {exc}") from exc
        total = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS(f"Smoke test passed in {total:.1f} s"))

    def _echo(self, step: StepResult) -> None:
        self.stdout.write(f"  ok  {step.name:<14} {step.seconds:7.3f} s  {step.detail}")

    def _prepare(self, username: str, password: str) -> None:
        try:
            fixture = smoke_fixture_ensure(username=username, password=password)
        except ValidationError as exc:
            raise CommandError("the smoke password: " + " ".join(exc.messages)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        verb = "created" if fixture.officer_created else "reset (password, unlocked)"
        self.stdout.write(f"Smoke officer {username} {verb}.")
        if fixture.hotspot is not None:
            self.stdout.write(
                f"No hot spot was published: published hand-drawn hot spot {fixture.hotspot.pk} "
                f"at PRESENCE_ORIGIN {settings.PRESENCE_ORIGIN} for the smoke test."
            )
        else:
            self.stdout.write(f"{fixture.active_hotspots} published hot spot(s): none added.")
