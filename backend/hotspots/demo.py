"""The demo city: Miami's five target neighbourhoods, a police force, two years of incidents.

Deterministic for a given seed and end date; idempotent (users, squads and districts are
created only if missing, incidents are keyed by a source id derived from the seed).
"""

from __future__ import annotations

from base64 import b32decode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
import shapely
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from shapely.geometry import Polygon, mapping

from backend.accounts.factor import factor_enrol_with_key, factor_enrolled, factor_required
from backend.accounts.models import District, Role, Squad, User
from backend.accounts.services import district_upsert
from backend.analytics.projection import LocalProjection
from backend.analytics.synthetic import synthetic_incidents
from backend.config.localtime import agency_zone
from backend.config.timeparse import local_to_utc, utc_datetimes
from backend.incidents.models import Incident, OffenceType

DEMO_PASSWORD = "presence-demo"
# The second factor of the demo's staff logins: one published authenticator secret (base32, RFC
# 6238, 6 digits, 30 s) that anyone trying the demo adds to an authenticator app, or reads with
# ``manage.py demo_code``. The factor is never waived, even in DEBUG: the demo signs in through
# the same code page as a real force. seed_demo refuses to run in production.
DEMO_TOTP_SECRET = "PRESENCEDEMOSECRETPRESENCEDEMOAA"
DEMO_SOURCE = "demo"
DEMO_DAYS = 730
INSERT_BATCH = 5_000  # rows per INSERT: large enough to amortise round trips, small enough
# to stay far below SQLite's 32,766 bound-variable limit (9 columns x 5,000 = 45,000 on PG only
# matters for PostgreSQL's 65,535 limit, which it also respects).

# Approximate neighbourhood outlines (lon, lat), drawn from the street grid.
DISTRICTS: list[tuple[str, str, list[tuple[float, float]]]] = [
    (
        "Little Haiti",
        "little-haiti",
        [
            (-80.2010, 25.8150),
            (-80.1850, 25.8150),
            (-80.1830, 25.8320),
            (-80.1860, 25.8500),
            (-80.2010, 25.8500),
        ],
    ),
    (
        "Liberty City",
        "liberty-city",
        [
            (-80.2400, 25.8200),
            (-80.2030, 25.8200),
            (-80.2030, 25.8500),
            (-80.2250, 25.8500),
            (-80.2400, 25.8420),
        ],
    ),
    (
        "Allapattah",
        "allapattah",
        [(-80.2400, 25.7920), (-80.2030, 25.7920), (-80.2010, 25.8140), (-80.2400, 25.8140)],
    ),
    (
        "Downtown",
        "downtown",
        [(-80.2000, 25.7650), (-80.1860, 25.7650), (-80.1850, 25.7900), (-80.2000, 25.7900)],
    ),
    (
        "Little Havana",
        "little-havana",
        [(-80.2420, 25.7560), (-80.2030, 25.7560), (-80.2030, 25.7790), (-80.2420, 25.7790)],
    ),
]

# Offence mix of a US city's recorded crime (share of incidents) and how strongly each offence
# clusters at hot places (probability of occurring at a hot centre rather than anywhere).
OFFENCE_MIX: list[tuple[str, float, float]] = [
    ("larceny", 0.26, 0.30),
    ("simple-assault", 0.15, 0.45),
    ("vandalism", 0.09, 0.30),
    ("theft-from-vehicle", 0.08, 0.35),
    ("burglary-residential", 0.06, 0.25),
    ("motor-vehicle-theft", 0.05, 0.30),
    ("aggravated-assault", 0.06, 0.80),
    ("robbery-personal", 0.04, 0.80),
    ("robbery-business", 0.005, 0.60),
    ("drug-possession", 0.06, 0.60),
    ("drug-dealing", 0.01, 0.85),
    ("disorderly-conduct", 0.04, 0.55),
    ("trespass", 0.03, 0.40),
    ("shoplifting", 0.03, 0.50),
    ("burglary-commercial", 0.015, 0.30),
    ("weapons", 0.01, 0.80),
    ("rape", 0.002, 0.55),
    ("sexual-assault", 0.004, 0.50),
    ("homicide", 0.0005, 0.85),
]

# Squads patrol where the demo's serious crime concentrates: the published analysis finds its
# hot spots in Liberty City and Allapattah (none in Little Havana, one in Downtown), and a shift
# plan needs treated hot spots in the squad's district. Liberty City has a day and a night squad.
SQUADS = [
    ("Alpha", "liberty-city", time(7, 0)),
    ("Bravo", "allapattah", time(15, 0)),
    ("Charlie", "liberty-city", time(21, 0)),
]

FIRST = [
    "Ana",
    "Luis",
    "Marie",
    "Jean",
    "Carlos",
    "Keisha",
    "David",
    "Rosa",
    "Malik",
    "Sofia",
    "Andre",
    "Nadia",
    "Pedro",
    "Tanya",
    "Omar",
]
LAST = [
    "Garcia",
    "Joseph",
    "Rodriguez",
    "Pierre",
    "Williams",
    "Hernandez",
    "Baptiste",
    "Lopez",
    "Johnson",
    "Martinez",
]


@dataclass(frozen=True)
class DemoSeedResult:
    users_created: int
    incidents_created: int
    incidents_total: int


def _names(rng: np.random.Generator, n: int) -> list[tuple[str, str]]:
    first = rng.choice(len(FIRST), n)
    last = rng.choice(len(LAST), n)
    return [(FIRST[f], LAST[la]) for f, la in zip(first, last, strict=True)]


def _local_to_utc(start: date, day: np.ndarray, minute: np.ndarray) -> list[datetime]:
    """Agency-local (day index from ``start``, minute of day) to aware UTC datetimes (DST rules:
    ``backend.config.timeparse``)."""
    local = (start - date(1970, 1, 1)).days * 86400 + day * 86400 + minute * 60
    return utc_datetimes(local_to_utc(local, agency_zone()))


def _seed_people(rng: np.random.Generator) -> int:
    password = make_password(DEMO_PASSWORD)
    created = 0
    districts = {d.code: d for d in District.objects.all()}
    names = _names(rng, 36)

    def user(username: str, role: str, first_last: tuple[str, str], **extra: object) -> User:
        nonlocal created
        obj, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "role": role,
                "first_name": first_last[0],
                "last_name": first_last[1],
                "password": password,
                **extra,
            },
        )
        created += int(was_created)
        if factor_required(obj) and not factor_enrolled(obj):
            factor_enrol_with_key(user=obj, key_hex=b32decode(DEMO_TOTP_SECRET).hex())
        return obj

    user("admin", Role.ADMIN, ("Alex", "Admin"), is_staff=True, is_superuser=True)
    user("supervisor", Role.SUPERVISOR, names[0])
    user("analyst", Role.ANALYST, names[1])
    for s, (squad_name, district_code, shift_start) in enumerate(SQUADS):
        sergeant = user(f"sergeant{s + 1}", Role.SERGEANT, names[2 + s])
        squad, _ = Squad.objects.get_or_create(
            name=squad_name,
            defaults={
                "district": districts[district_code],
                "sergeant": sergeant,
                "shift_start": shift_start,
                "shift_hours": 10,
            },
        )
        if sergeant.squad_id is None:
            User.objects.filter(pk=sergeant.pk).update(squad=squad)
        for k in range(10):
            number = s * 10 + k + 1
            user(
                f"officer{number:02d}",
                Role.OFFICER,
                names[5 + (number - 1) % 31],
                squad=squad,
                badge_number=f"{1000 + number}",
            )
    return created


@dataclass(frozen=True, eq=False)
class _Sample:
    """The demo's incidents as drawn, before anything is written (row i has source id
    ``{seed}-{i:07d}``); ``day`` counts local days from ``end - DEMO_DAYS``."""

    lon: np.ndarray
    lat: np.ndarray
    day: np.ndarray
    minute: np.ndarray
    offence_id: np.ndarray
    district_id: np.ndarray
    start: date


def _incident_sample(rng: np.random.Generator, *, n: int, end: date) -> _Sample:
    offences = {o.code: o.pk for o in OffenceType.objects.all()}
    codes = [code for code, _, _ in OFFENCE_MIX]
    missing = [c for c in codes if c not in offences]
    if missing:
        raise LookupError(f"Offence types missing (run migrate): {', '.join(missing)}")
    polygons = {d.pk: shapely.geometry.shape(d.boundary) for d in District.objects.all()}
    area = shapely.union_all(list(polygons.values()))
    start = end - timedelta(days=DEMO_DAYS)
    sample = synthetic_incidents(
        rng=rng,
        area=area,
        n=n,
        days=DEMO_DAYS,
        start_weekday=start.weekday(),
        offence_share=np.array([s for _, s, _ in OFFENCE_MIX]),
        offence_hot_probability=np.array([p for _, _, p in OFFENCE_MIX]),
    )
    district = np.full(n, -1, dtype=np.int64)
    for pk, polygon in polygons.items():
        district[shapely.contains_xy(polygon, sample.lon, sample.lat)] = pk
    offence_ids = np.array([offences[c] for c in codes], dtype=np.int64)
    return _Sample(
        lon=np.round(sample.lon, 6),
        lat=np.round(sample.lat, 6),
        day=sample.day,
        minute=sample.minute,
        offence_id=offence_ids[sample.offence],
        district_id=district,
        start=start,
    )


DEMO_BLOCK_M = 160.0  # the demo city's street grid: a block every 160 m (a tenth of a mile)


def _ordinal(n: int) -> str:
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


def demo_blocks(lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """Block addresses for the demo city, as a records system writes them: numbered streets
    run east-west (62nd St at the origin, numbers rising northward), numbered avenues
    north-south (17th Ave at the origin, rising westward), on a 160 m grid; an incident is on
    the nearer of its street or avenue, in that street's hundred block ("017XX NW 62ND ST")."""
    x, y = LocalProjection(*settings.PRESENCE_ORIGIN).to_xy(lat, lon)
    street = 62 + y / DEMO_BLOCK_M
    avenue = 17 - x / DEMO_BLOCK_M
    out = []
    for st, av in zip(street.tolist(), avenue.tolist(), strict=True):
        quadrant = ("N" if st >= 0 else "S") + ("W" if av >= 0 else "E")
        if abs(st - round(st)) <= abs(av - round(av)):  # nearer a street than an avenue
            n = abs(round(st))
            out.append(
                f"{abs(int(av)):03d}XX {quadrant} {_ordinal(n)} ST"
                if n
                else f"{abs(int(av)):03d}XX W FLAGLER ST"
            )
        else:
            n = abs(round(av))
            out.append(
                f"{abs(int(st)):03d}XX {quadrant} {_ordinal(n)} AVE"
                if n
                else f"{abs(int(st)):03d}XX N MIAMI AVE"
            )
    return out


def _insert_incidents(sample: _Sample, *, seed: int, rows: np.ndarray) -> int:
    """Write the sample's ``rows`` (indices) that are missing; returns how many were new."""
    before = Incident.objects.filter(source=DEMO_SOURCE).count()
    occurred = _local_to_utc(sample.start, sample.day[rows], sample.minute[rows])
    blocks = demo_blocks(sample.lat[rows], sample.lon[rows])
    for lo in range(0, rows.size, INSERT_BATCH):
        hi = min(rows.size, lo + INSERT_BATCH)
        Incident.objects.bulk_create(
            [
                Incident(
                    source=DEMO_SOURCE,
                    source_id=f"{seed}-{i:07d}",
                    occurred_at=occurred[k],
                    lat=float(sample.lat[i]),
                    lon=float(sample.lon[i]),
                    offence_id=int(sample.offence_id[i]),
                    district_id=int(sample.district_id[i]) if sample.district_id[i] >= 0 else None,
                    block=blocks[k],
                )
                for k, i in enumerate(rows[lo:hi].tolist(), start=lo)
            ],
            ignore_conflicts=True,
        )
    return Incident.objects.filter(source=DEMO_SOURCE).count() - before


@transaction.atomic(durable=True)
def demo_city_seed(
    *, seed: int = 1, incidents: int = 200_000, end: date, hold_from: date | None = None
) -> DemoSeedResult:
    """Create the demo city if missing and add its incidents for the two years before ``end``.

    Deterministic for a given (seed, end): the same rows with the same source ids. Idempotent:
    existing users, squads, districts and incidents are left exactly as they are. With
    ``hold_from``, incidents on or after that local day are not written:
    ``demo_incidents_release`` writes them later (the demo randomizes an experiment on the
    earlier ones first, then thins the later ones).
    """
    rng = np.random.default_rng(seed)
    for name, code, ring in DISTRICTS:
        if not District.objects.filter(code=code).exists():
            district_upsert(name=name, code=code, boundary=mapping(Polygon(ring)))
    users_created = _seed_people(np.random.default_rng([seed, 1]))
    sample = _incident_sample(rng, n=incidents, end=end)
    rows = np.arange(incidents)
    if hold_from is not None:
        rows = rows[sample.day < (hold_from - sample.start).days]
    created = _insert_incidents(sample, seed=seed, rows=rows)
    total = Incident.objects.filter(source=DEMO_SOURCE).count()
    return DemoSeedResult(users_created, created, total)


@dataclass(frozen=True)
class ReleaseResult:
    created: int
    withheld: int
    total: int


@transaction.atomic(durable=True)
def demo_incidents_release(
    *,
    seed: int = 1,
    incidents: int = 200_000,
    end: date,
    hold_from: date,
    withhold: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> ReleaseResult:
    """Write the incidents ``demo_city_seed(hold_from=...)`` held back, except those that
    ``withhold(lon, lat)`` (degrees, arrays over the held-back incidents in source-id order)
    marks True: those are never written, as if they had not happened. Same sample, same source
    ids, so it is deterministic and idempotent like ``demo_city_seed``.
    """
    sample = _incident_sample(np.random.default_rng(seed), n=incidents, end=end)
    rows = np.flatnonzero(sample.day >= (hold_from - sample.start).days)
    drop = np.zeros(rows.size, dtype=bool)
    if withhold is not None and rows.size:
        drop = np.asarray(withhold(sample.lon[rows], sample.lat[rows]), dtype=bool)
    created = _insert_incidents(sample, seed=seed, rows=rows[~drop])
    total = Incident.objects.filter(source=DEMO_SOURCE).count()
    return ReleaseResult(created, int(drop.sum()), total)
