"""Presence settings: the one module that reads the environment.

Every value comes from an environment variable with a safe local default, so that a laptop
needs no server at all (SQLite under ``var/``, eager Celery, local-memory cache). With
``PRESENCE_ENV=production`` the secrets have no default: startup fails if they are missing.
The README lists every variable.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path
from typing import Any, overload

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from backend.config.geolibs import gdal_library_path, geos_library_path

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

VERSION = "0.1.0"


@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: None = None) -> str | None: ...
def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value if value else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return default if value is None else int(value)


PRESENCE_ENV = _env("PRESENCE_ENV", "local")
if PRESENCE_ENV not in {"local", "production"}:
    raise ImproperlyConfigured(
        f"PRESENCE_ENV must be 'local' or 'production', not {PRESENCE_ENV!r}"
    )
PRODUCTION = PRESENCE_ENV == "production"

if PRODUCTION:
    _missing = [n for n in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS") if not _env(n)]
    if _missing:
        raise ImproperlyConfigured(
            "PRESENCE_ENV=production refuses to start without " + ", ".join(_missing)
        )
    if not _env("REDIS_URL"):
        raise ImproperlyConfigured(
            "PRESENCE_ENV=production never runs Celery eagerly: set REDIS_URL to the broker"
        )

# Local default only; production has no default (checked above).
SECRET_KEY = _env("SECRET_KEY", "local-insecure-presence-key-not-for-production")
DEBUG = _env_bool("DEBUG", not PRODUCTION)
ALLOWED_HOSTS = [
    h.strip()
    for h in (_env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver") or "").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in (_env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver (the demo) serves static files through WhiteNoise too.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Second factor (TOTP and recovery codes); before backend.accounts, whose admin hides their
    # device admins (an administrator resets a factor, never reads its secret).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "leaflet",
    "backend.accounts",
    "backend.audit",
    "backend.incidents",
    "backend.hotspots",
    "backend.missions",
    "backend.patrols",
    "backend.reports",
    "backend.workload",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost after security: compresses what every later middleware and view returns (pages,
    # the API, static files WhiteNoise has no .gz copy of). BREACH: see deploy/README.md.
    "django.middleware.gzip.GZipMiddleware",
    # Static files (with collectstatic's .gz copies) before anything that needs a session.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # user.is_verified(): the session passed its second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "backend.accounts.middleware.UserLanguageMiddleware",
    "backend.accounts.middleware.AbsoluteSessionLimitMiddleware",
    # 429 on the sign-in pages for an address past its failures (before the views count more).
    "backend.accounts.middleware.SignInAddressThrottleMiddleware",
    # A session whose role needs a second factor reaches only the code and enrolment pages.
    "backend.accounts.middleware.SecondFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Axes must be last: it turns lockouts raised by the backend into responses.
    "axes.middleware.AxesMiddleware",
]

# Token-only API calls (no session cookie; backend/config/wsgi.py) skip the page middleware,
# which has nothing to do for them: the same order as MIDDLEWARE, fewer entries.
PRESENCE_TOKEN_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"
ASGI_APPLICATION = "backend.config.asgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.accounts.navigation.navigation_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = _env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'presence.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so that a worker process started by a test sees the same rows.
    _db_file = Path(DATABASES["default"]["NAME"])
    _db_file.parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(_db_file.with_name(f"test-{_db_file.name}"))}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # IMMEDIATE: a write transaction takes the write lock when it begins, so two writers wait
    # for each other (up to the timeout) instead of one failing at once with "database is
    # locked" when it upgrades a read lock (the demo's in-process rollups write beside pings).
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = _env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "backend.config.cache.PresenceRedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = _env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 60
# Redis redelivers a message whose worker died (acks_late) after the visibility timeout: set it
# just past the longest hard time limit, so the task runs again within minutes, not an hour.
# No task is scheduled with an ETA or countdown, which this timeout would also cap.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 60}
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "daily-snapshot": {
        "task": "reports.snapshot_build_yesterday",
        "schedule": crontab(hour=6, minute=0),  # idempotent: recomputes yesterday's snapshot
    },
    "daily-snapshot-catch-up": {
        "task": "reports.snapshot_build_yesterday",
        "schedule": crontab(hour="7-23", minute=0),  # late incidents and a missed 06:00 run
    },
    "nightly-compliance": {
        "task": "reports.compliance_rebuild_yesterday",
        "schedule": crontab(hour=5, minute=30),  # after late pings; before the snapshot
    },
    "forget-stale-login-failures": {
        "task": "accounts.forget_stale_failures",
        "schedule": timedelta(minutes=1),  # failures outside the 15-minute window never lock
    },
    "sweep-due-rollups": {
        "task": "patrols.sweep_due_rollups",
        "schedule": timedelta(minutes=1),  # rollups whose message was lost (broker down)
    },
    "sweep-due-imports": {
        "task": "incidents.sweep_due_imports",
        "schedule": timedelta(minutes=1),  # incident imports whose message was lost
    },
    "sweep-due-analyses": {
        "task": "hotspots.sweep_due_analyses",
        "schedule": timedelta(minutes=1),  # analysis runs whose message was lost
    },
    "sweep-due-recomputes": {
        "task": "reports.sweep_due_recomputes",
        "schedule": timedelta(minutes=1),  # compliance recomputations whose message was lost
    },
    "sweep-open-patrol-sessions": {
        "task": "patrols.sweep_open_sessions",
        "schedule": timedelta(minutes=10),  # visits of officers still on patrol
    },
    "reconcile-yesterdays-visits": {
        "task": "patrols.visits_rebuild_yesterday",
        "schedule": timedelta(hours=6),  # idempotent; catches pings that arrived late
    },
    "ping-partitions-ahead": {
        "task": "patrols.ping_partitions_ensure",
        "schedule": timedelta(hours=1),  # idempotent; a missed run still leaves 7 days ahead
    },
    "ping-retention": {
        "task": "patrols.pings_retention",
        "schedule": crontab(hour=3, minute=15),  # quiet hour; after the 6-hourly reconcile
    },
}

# --- Agency ---------------------------------------------------------------------------------
TIME_ZONE = _env("PRESENCE_TIME_ZONE", "America/New_York")
# Beat's crontab hours are the agency's: the snapshot is due at 06:00 local, DST or not.
CELERY_TIMEZONE = TIME_ZONE
USE_TZ = True
LANGUAGE_CODE = "en"
USE_I18N = True
# English and Spanish; the user's profile (User.language) wins over the browser's
# Accept-Language (backend.accounts.middleware.UserLanguageMiddleware).
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "backend" / "locale"]

_origin = (_env("PRESENCE_ORIGIN", "25.80,-80.21") or "").split(",")
try:
    PRESENCE_ORIGIN = (float(_origin[0]), float(_origin[1]))
except (ValueError, IndexError) as exc:
    raise ImproperlyConfigured("PRESENCE_ORIGIN must be 'lat,lon', e.g. '25.80,-80.21'") from exc
if not (-90 <= PRESENCE_ORIGIN[0] <= 90 and -180 <= PRESENCE_ORIGIN[1] <= 180):
    raise ImproperlyConfigured("PRESENCE_ORIGIN is out of range")
# The agency area: imported incidents farther than this from PRESENCE_ORIGIN are rejected.
try:
    PRESENCE_AREA_RADIUS_KM = float(_env("PRESENCE_AREA_RADIUS_KM", "40") or "40")
except ValueError as exc:
    raise ImproperlyConfigured("PRESENCE_AREA_RADIUS_KM must be a number of km") from exc
if not 0 < PRESENCE_AREA_RADIUS_KM <= 1000:
    raise ImproperlyConfigured("PRESENCE_AREA_RADIUS_KM must be in (0, 1000]")

# How far (metres, from the officer to a hot spot's centre) a "next hot spot" draw may reach.
try:
    PRESENCE_DRAW_REACH_M = float(_env("PRESENCE_DRAW_REACH_M", "2000") or "2000")
except ValueError as exc:
    raise ImproperlyConfigured("PRESENCE_DRAW_REACH_M must be a number of metres") from exc

# How many seconds a web process may reuse what every phone reads (the active hot spots, today's
# dose, the running experiment) before reading it again (backend/config/memo.py). 0 locally and
# in tests: every call reads the database.
PRESENCE_HOT_READ_SECONDS = _env_int("PRESENCE_HOT_READ_SECONDS", 5 if PRODUCTION else 0)
if not 0 <= PRESENCE_HOT_READ_SECONDS <= 300:
    raise ImproperlyConfigured("PRESENCE_HOT_READ_SECONDS must be 0 to 300 seconds")

# --- Raw pings ------------------------------------------------------------------------------
# Raw pings (phone and AVL) are kept this many days after their agency-local day, then removed
# once the day is rolled up (docs/data-retention.md); the ingest refuses older fixes. Visits,
# reports and the audit log are kept.
PRESENCE_PING_RETENTION_DAYS = _env_int("PRESENCE_PING_RETENTION_DAYS", 90)
if not 1 <= PRESENCE_PING_RETENTION_DAYS <= 36_500:
    raise ImproperlyConfigured("PRESENCE_PING_RETENTION_DAYS must be a number of days >= 1")
# PostgreSQL: how many days' pings partitions beat keeps made ahead of today.
PRESENCE_PING_PARTITIONS_AHEAD = _env_int("PRESENCE_PING_PARTITIONS_AHEAD", 7)
if not 1 <= PRESENCE_PING_PARTITIONS_AHEAD <= 366:
    raise ImproperlyConfigured("PRESENCE_PING_PARTITIONS_AHEAD must be in 1..366")

# --- Workload targets -------------------------------------------------------------------------
# What the workload pages flag: the 2006 staffing study's "Target 1" (tests/data/README.md), or
# "custom" with PRESENCE_WORKLOAD_TARGET_CUSTOM = comma-separated NAME=PERCENT among offpeak,
# peak, high, low, run, run_hours, own_min, own_max (unset names keep Target 1's values).
PRESENCE_WORKLOAD_TARGET = (_env("PRESENCE_WORKLOAD_TARGET", "1") or "1").strip().lower()
_WORKLOAD_TARGET_KEYS = {
    "offpeak": "offpeak_max_pct",
    "peak": "peak_max_pct",
    "high": "high_pct",
    "low": "low_pct",
    "run": "run_pct",
    "run_hours": "run_max_hours",
    "own_min": "own_min_pct",
    "own_max": "own_max_pct",
}
PRESENCE_WORKLOAD_TARGET_VALUES: dict[str, float] = {}
if PRESENCE_WORKLOAD_TARGET in {"2", "3"}:
    raise ImproperlyConfigured(
        f"PRESENCE_WORKLOAD_TARGET={PRESENCE_WORKLOAD_TARGET}: the study's Targets 2 and 3 are not "
        "in the data this project holds (only Target 1 is); set PRESENCE_WORKLOAD_TARGET=custom "
        "and give their values in PRESENCE_WORKLOAD_TARGET_CUSTOM"
    )
if PRESENCE_WORKLOAD_TARGET == "custom":
    for _item in filter(None, (_env("PRESENCE_WORKLOAD_TARGET_CUSTOM", "") or "").split(",")):
        _key, _sep, _value = _item.strip().partition("=")
        if not _sep or _key.strip() not in _WORKLOAD_TARGET_KEYS:
            raise ImproperlyConfigured(
                f"PRESENCE_WORKLOAD_TARGET_CUSTOM: '{_item}' is not NAME=NUMBER with NAME one of "
                + ", ".join(_WORKLOAD_TARGET_KEYS)
            )
        try:
            _number = float(_value)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"PRESENCE_WORKLOAD_TARGET_CUSTOM: '{_value}' is not a number"
            ) from exc
        if not 0 <= _number <= 1000:
            raise ImproperlyConfigured(f"PRESENCE_WORKLOAD_TARGET_CUSTOM: {_key} out of range")
        PRESENCE_WORKLOAD_TARGET_VALUES[_WORKLOAD_TARGET_KEYS[_key.strip()]] = _number
elif PRESENCE_WORKLOAD_TARGET != "1":
    raise ImproperlyConfigured("PRESENCE_WORKLOAD_TARGET must be 1 or custom")

# --- Maps -----------------------------------------------------------------------------------
# Every map (web pages, admin widgets, the phone app) is configured here, through django-leaflet's
# LEAFLET_CONFIG. Tiles default to OpenStreetMap's standard layer; "none" means no basemap. With
# no tiles, or tiles that fail to load, maps still draw hot spots and say streets are unavailable.
OSM_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
PRESENCE_TILE_URL = _env("PRESENCE_TILE_URL", OSM_TILE_URL) or ""
if PRESENCE_TILE_URL.lower() == "none":
    PRESENCE_TILE_URL = ""
PRESENCE_TILE_ATTRIBUTION = _env(
    "PRESENCE_TILE_ATTRIBUTION", OSM_ATTRIBUTION if PRESENCE_TILE_URL == OSM_TILE_URL else ""
)
PRESENCE_TILE_MAX_ZOOM = _env_int("PRESENCE_TILE_MAX_ZOOM", 19)
if not 1 <= PRESENCE_TILE_MAX_ZOOM <= 24:
    raise ImproperlyConfigured("PRESENCE_TILE_MAX_ZOOM must be in 1..24")
if PRESENCE_TILE_URL and not PRESENCE_TILE_URL.startswith(("https://", "http://", "/")):
    raise ImproperlyConfigured("PRESENCE_TILE_URL must be an http(s) URL, a /path, or 'none'")

# The agency area's bounding box (lon/lat degrees): the default extent of every map.
_half_lat = PRESENCE_AREA_RADIUS_KM / 111.32
_half_lon = _half_lat / max(math.cos(math.radians(PRESENCE_ORIGIN[0])), 0.01)
PRESENCE_AREA_EXTENT = (
    round(PRESENCE_ORIGIN[1] - _half_lon, 5),
    round(PRESENCE_ORIGIN[0] - _half_lat, 5),
    round(PRESENCE_ORIGIN[1] + _half_lon, 5),
    round(PRESENCE_ORIGIN[0] + _half_lat, 5),
)
LEAFLET_CONFIG: dict[str, Any] = {
    "TILES": [
        (
            "Streets",
            PRESENCE_TILE_URL,
            {
                "attribution": PRESENCE_TILE_ATTRIBUTION or "",
                "maxZoom": PRESENCE_TILE_MAX_ZOOM,
                # Tile servers (OpenStreetMap's among them) ask for a Referer naming the site.
                "referrerPolicy": "strict-origin",
            },
        )
    ]
    if PRESENCE_TILE_URL
    else [],
    "ATTRIBUTION_PREFIX": "Presence",
    "DEFAULT_CENTER": PRESENCE_ORIGIN,
    "DEFAULT_ZOOM": 11,
    "MIN_ZOOM": 3,
    "MAX_ZOOM": PRESENCE_TILE_MAX_ZOOM,
    "SPATIAL_EXTENT": PRESENCE_AREA_EXTENT,
    "RESET_VIEW": False,
    "NO_GLOBALS": True,
    "SCALE": "metric",
}

# GeoDjango's GDAL and GEOS (imported by django-leaflet's widgets): the environment's path, else
# a system library, else the copy a pinned wheel ships (backend/config/geolibs.py).
GDAL_LIBRARY_PATH = _env("GDAL_LIBRARY_PATH") or gdal_library_path()
GEOS_LIBRARY_PATH = _env("GEOS_LIBRARY_PATH") or geos_library_path()

# Impact: width of the catchment (buffer) ring around hot spots for displacement, in metres.
try:
    PRESENCE_CATCHMENT_M = float(_env("PRESENCE_CATCHMENT_M", "150") or "150")
except ValueError as exc:
    raise ImproperlyConfigured("PRESENCE_CATCHMENT_M must be a number of metres") from exc
if not 0 < PRESENCE_CATCHMENT_M <= 2000:
    raise ImproperlyConfigured("PRESENCE_CATCHMENT_M must be in (0, 2000] metres")

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Leaflet is served from django-leaflet's static files (/static/leaflet/): one copy for the web
# pages, the admin's widgets and the phone app.
STATICFILES_DIRS = [
    BASE_DIR / "backend" / "static",
    ("app", BASE_DIR / "mobile_web"),  # the phone app's scripts and styles: /static/app/
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes hashed names and .gz/.br copies; WhiteNoise serves them with
    # far-future caching. Without a collectstatic (tests, a bare runserver) WhiteNoise serves
    # the finders' files (WHITENOISE_USE_FINDERS) and GZipMiddleware compresses them.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
# Uploaded incident files wait here for their import task; never served over HTTP (no MEDIA_URL).
# Workers on other machines read the same files: point every machine at one shared folder.
MEDIA_ROOT = Path(_env("PRESENCE_UPLOADS_DIR") or VAR_DIR / "uploads")

# --- Auth and security ----------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {  # ASVS 2.1.1: at least 12 characters
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = 5
# Locked until an administrator unlocks (User admin: "Unlock"); failures more than
# PRESENCE_FAILED_LOGIN_WINDOW apart never add up to a lock (accounts.forget_stale_failures).
AXES_COOLOFF_TIME = None
PRESENCE_FAILED_LOGIN_WINDOW = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
# Lock by username as DESIGN.md asks: officers sign in from shared station networks, so an
# IP-based lock would lock a whole station out because of one mistyped password.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# The web sign-in pages (the app's and the admin's, and the code page) per client address:
# past this many failures within the window they answer 429 with Retry-After, whatever the
# username, so one address cannot lock account after account (the API has its own limit).
# Stations share an address: 20 in 15 minutes is far above the typos of one station's shift.
PRESENCE_SIGNIN_ADDRESS_FAILURES = _env_int("PRESENCE_SIGNIN_ADDRESS_FAILURES", 20)
PRESENCE_SIGNIN_ADDRESS_WINDOW = timedelta(minutes=15)

# Second factor (backend/accounts/factor.py): TOTP (RFC 6238, 6 digits, 30 s) with recovery
# codes, required for sergeants, supervisors, analysts and admins; officers too if set.
PRESENCE_OTP_REQUIRED_FOR_OFFICERS = _env_bool("PRESENCE_OTP_REQUIRED_FOR_OFFICERS", False)
PRESENCE_RECOVERY_CODES = 10
OTP_TOTP_ISSUER = "Presence"
# A wrong code makes the device wait 1 s, then 2, 4, 8... before it checks another (django-otp),
# until a right code; signing in again with the password does not reset the wait.
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1

SESSION_COOKIE_AGE = 30 * 60  # idle timeout: the cookie is refreshed on every request
SESSION_SAVE_EVERY_REQUEST = True
PRESENCE_SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Health probes (a load balancer, compose, systemd) may ask over plain HTTP, inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 31536000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
# Reverse proxies in front of Django (deploy/: nginx, so 1 in production): the audit log takes
# the client's address from X-Forwarded-For as the nearest of them saw it.
PRESENCE_TRUSTED_PROXIES = _env_int("PRESENCE_TRUSTED_PROXIES", 1 if PRODUCTION else 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

_tile_origin = ""
if PRESENCE_TILE_URL.startswith("http"):
    _tile_origin = "/".join(PRESENCE_TILE_URL.split("/")[:3]).replace("{s}.", "*.")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"] + ([_tile_origin] if _tile_origin else []),
        # NONCE: the admin's map widgets (django-leaflet) carry a nonced inline script.
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],  # Leaflet sets inline styles on markers
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- API ------------------------------------------------------------------------------------
PRESENCE_THROTTLE_PREFIX = "presence:"  # cache keys of the rate limits (tests isolate them)
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "backend.accounts.tokens.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["backend.accounts.permissions.IsPerson"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "backend.config.schema.PresenceAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["backend.config.throttling.PresenceRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "login": "10/min",
        "draw": "20/min",
        "ingest": "240/min",
        "avl": "6000/min",
        "export": "30/min",
        "reports": "120/min",
    },
    # The client address for anonymous limits is read like the audit's (PRESENCE_TRUSTED_PROXIES).
    "NUM_PROXIES": PRESENCE_TRUSTED_PROXIES or None,
    "DEFAULT_PARSER_CLASSES": [
        "backend.config.api.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Presence API",
    "DESCRIPTION": "Hot spot patrol: hot spots, missions, patrol tracking, reports.",
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Production smoke test (python manage.py smoke_production) ------------------------------
# The officer account the smoke test signs in as; its flags override these.
PRESENCE_SMOKE_USERNAME = _env("PRESENCE_SMOKE_USERNAME", "smoke-officer")
PRESENCE_SMOKE_PASSWORD = _env("PRESENCE_SMOKE_PASSWORD")

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _env("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
