"""factory-boy factories for the models tests build most often."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
import time as clock
from datetime import time
from typing import Any

import factory
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from shapely.geometry import box, mapping

from backend.accounts.factor import AUTHENTICATOR_NAME, factor_required
from backend.accounts.models import District, Role, Squad, User
from backend.accounts.tokens import token_issue
from backend.incidents.models import Incident, OffenceType


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"District {n}")
    code = factory.Sequence(lambda n: f"district-{n}")
    boundary = factory.LazyFunction(lambda: mapping(box(-80.24, 25.75, -80.18, 25.85)))
    min_lon, min_lat, max_lon, max_lat = -80.24, 25.75, -80.18, 25.85


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    role = Role.OFFICER
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            obj.save()


class SquadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Squad

    name = factory.Sequence(lambda n: f"Squad {n}")
    district = factory.SubFactory(DistrictFactory)
    sergeant = factory.SubFactory(UserFactory, role=Role.SERGEANT)
    shift_start = time(7, 0)


class IncidentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Incident

    source = "test"
    source_id = factory.Sequence(lambda n: f"t{n}")
    lat = 25.80
    lon = -80.21
    offence = factory.LazyFunction(lambda: OffenceType.objects.get(code="larceny"))


# --- Second factor ------------------------------------------------------------------------------
# Django's own force_login, kept before tests/conftest.py wraps it with ``login_verified``.
DJANGO_FORCE_LOGIN = Client.force_login


def totp_code(key: bytes, at: float, *, step: int = 30, digits: int = 6, t0: int = 0) -> str:
    """RFC 6238 TOTP (HMAC-SHA1) of ``key`` at Unix time ``at``, computed here with hmac and
    hashlib only: the oracle the app's codes (django-otp's) are checked against."""
    counter = int((at - t0) // step)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def verified_totp_device(user: User, *, key: bytes | None = None) -> TOTPDevice:
    """``user``'s confirmed authenticator (made with a random or given key if they have none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        key = key or secrets.token_bytes(20)
        device = TOTPDevice.objects.create(
            user=user, name=AUTHENTICATOR_NAME, key=key.hex(), confirmed=True
        )
    return device


def next_totp_code(device: TOTPDevice) -> str:
    """A code ``device`` accepts now: for the current time step, or, if that step's code was
    already used (two sign-ins within 30 s), the next step's, inside the device's tolerance."""
    device.refresh_from_db()
    now = clock.time()
    step = int((now - device.t0) // device.step) + device.drift
    wanted = max(step, device.last_t + 1)
    if wanted > step + device.tolerance:
        # A third sign-in within one 30 s step: only a later step's code is unused. Waiting for
        # the clock is the one honest way (a code is accepted once only).
        step_starts = device.t0 + (wanted - device.tolerance - device.drift) * device.step
        clock.sleep(step_starts - now + 0.1)
    # django-otp's counter is its time step plus the drift it learnt: the code of counter
    # ``wanted`` is the RFC's code at the start of that step.
    at = device.t0 + wanted * device.step
    key = bytes.fromhex(device.key)
    return totp_code(key, at, step=device.step, digits=device.digits, t0=device.t0)


def login_verified(client: Client, user: Any, backend: str | None = None) -> None:
    """``client.force_login(user)`` with the second factor passed, as a real sign-in with a
    right code leaves the session (tests/conftest.py makes every ``force_login`` this)."""
    DJANGO_FORCE_LOGIN(client, user, backend)
    if factor_required(user):
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = verified_totp_device(user).persistent_id
        session.save()


def force_login_without_factor(client: Client, user: Any) -> None:
    """A session that passed the password but not the second factor."""
    DJANGO_FORCE_LOGIN(client, user)


def api_client_verified(user: User, **extra: Any) -> Client:
    """An API client authenticated by a token, as ``POST /api/v1/auth/token`` gives a user who
    sent their password and, for a role that needs one, a right second-factor code (the token is
    issued by the same service the endpoint calls once both are checked)."""
    if factor_required(user):
        verified_totp_device(user)
    return Client(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}", **extra)


def sergeant_without_second_factor(*, enrolled: bool = True, **fields: Any) -> tuple[User, Client]:
    """The identity "a sergeant without a verified second factor": signed in with the password
    only (the session never passed a code); ``enrolled`` says whether they have an authenticator
    (the code page) or not (the enrolment page)."""
    user = UserFactory(role=Role.SERGEANT, **fields)
    if enrolled:
        verified_totp_device(user)
    client = Client()
    force_login_without_factor(client, user)
    return user, client
