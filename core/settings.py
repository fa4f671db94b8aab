"""Settings of the school hub, read from the environment.

Zero configuration gives the embedded default: SQLite under ``var/``, one
process handing events to its sockets in memory. ``DATABASE_URL`` switches to
PostgreSQL, ``REDIS_URL`` to Redis pub/sub between processes. Defaults are
safe for production (DEBUG off, no hosts allowed, no secret key);
``manage.py run_demo`` sets what a local demo needs. Every variable is listed
in the README.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it, or DEBUG=1 for a local run "
            "(make run does this for you)."
        )
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "hub",
    "hub.delivery",
    "core.roster",
    "core.timetable",
    "core.attendance",
    "core.messaging",
    "core.audit",
    "core.accounts",
    "core.twofactor",
    "core.demo",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The second factor (core/twofactor): django-otp marks a verified session,
    # then staff without one go to the second step or to enrolment.
    "django_otp.middleware.OTPMiddleware",
    "core.twofactor.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "core.urls"
ASGI_APPLICATION = "core.asgi.application"
AUTH_USER_MODEL = "roster.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    # A passkey without a password (core/twofactor/passkeys.py).
    "django_otp_webauthn.backends.WebAuthnBackend",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "frontend.context_processors.hub",
                "core.twofactor.context_processors.second_factor",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'hub.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI each request runs in a thread of its own, so persistent
    # connections would pile up one per request; a pool (psycopg_pool, Django
    # 5.1+) hands connections back after each request and keeps a few open
    # for socket handshakes and reconnect storms.
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 2,
            "max_size": int(env_str("DB_POOL_SIZE", "20")),
            "timeout": 10,
        }
    }
    # The pool checks a connection before lending it: one broken while idle
    # (failover, network cut) is replaced before a request gets it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a command (import_ical) writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# Redis carries events and control messages between processes (pub/sub,
# hub/broadcast.py); without it, one process hands them over in memory. The
# sockets use no Channels channel layer (decision 0005).
REDIS_URL = env_str("REDIS_URL")
# Prefix of the hub's Redis channels: pub/sub ignores database numbers, so two
# hubs on one Redis need their own.
HUB_CHANNEL_PREFIX = env_str("HUB_CHANNEL_PREFIX", "hub")

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "frontend" / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# The hub (see docs/protocol.md).
HUB_MAX_FRAME_BYTES = 64 * 1024
HUB_HEARTBEAT_SECONDS = 25
# With the in-memory layer (one process), sockets also read the log every
# few seconds, so events written by another process (a command) still arrive.
HUB_POLL_SECONDS = float(env_str("HUB_POLL_SECONDS", "0" if REDIS_URL else "2"))
HUB_REPLAY_LIMIT = 500
# On SIGTERM a server process closes its sockets with 4503 (reconnect
# elsewhere) and waits this long for them to go before exiting (0: no drain).
HUB_DRAIN_SECONDS = float(env_str("HUB_DRAIN_SECONDS", "10"))
# A socket whose unsent bytes pass this is closed with 4408 (it resumes).
HUB_SEND_BUFFER_BYTES = int(env_str("HUB_SEND_BUFFER_BYTES", str(1024 * 1024)))
# Threads running the sockets' database work with PostgreSQL (hub/db.py).
HUB_DB_THREADS = int(env_str("HUB_DB_THREADS", "4"))
# Garbage collections at least this long are logged (hub/gcwatch.py); 0: off.
HUB_GC_LOG_MS = float(env_str("HUB_GC_LOG_MS", "100"))
# Allocations between two collections of generation 0 (hub/gcwatch.py;
# CPython's default is 700); 0 keeps the default.
HUB_GC_THRESHOLD = int(env_str("HUB_GC_THRESHOLD", "50000"))
HUB_RETENTION_DAYS = int(env_str("HUB_RETENTION_DAYS", "30"))

# The week the timetable opens on when none is asked for (ISO date; "" = today).
TIMETABLE_DEFAULT_WEEK = env_str("TIMETABLE_DEFAULT_WEEK", "")

# Messaging: Fernet keys for encryption at rest (first encrypts, all decrypt).
MESSAGE_KEYS = env_list("MESSAGE_KEYS", [])

# Background work (django-tasks, database backend: `manage.py db_worker`).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Roster files uploaded in the admin (core/roster/uploads.py): bytes per file,
# bytes per import, files per import.
ROSTER_UPLOAD_MAX_BYTES = int(env_str("ROSTER_UPLOAD_MAX_BYTES", str(512 * 1024**2)))
ROSTER_UPLOAD_MAX_TOTAL_BYTES = int(
    env_str("ROSTER_UPLOAD_MAX_TOTAL_BYTES", str(1024**3))
)
ROSTER_UPLOAD_MAX_FILES = int(env_str("ROSTER_UPLOAD_MAX_FILES", "40"))
# Days an activation code works (core/accounts): printed letters, e-mails.
ACCOUNTS_LETTER_CODE_DAYS = int(env_str("ACCOUNTS_LETTER_CODE_DAYS", "30"))
ACCOUNTS_EMAIL_CODE_DAYS = int(env_str("ACCOUNTS_EMAIL_CODE_DAYS", "3"))

# Delivery outside the app (hub/delivery, docs/delivery.md).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(env_str("EMAIL_PORT", "8025"))
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_str("EMAIL_USE_TLS", "") == "1"  # implicit TLS (465)
EMAIL_START_TLS = env_str("EMAIL_START_TLS", "") == "1"  # STARTTLS (587)
EMAIL_TIMEOUT = float(env_str("EMAIL_TIMEOUT", "30"))
EMAIL_CONNECTIONS = int(env_str("EMAIL_CONNECTIONS", "8"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Hub ENT <notifications@localhost>")
# RFC 8292 "sub": how a push service reaches the operator.
VAPID_CONTACT = env_str("VAPID_CONTACT", "mailto:admin@localhost")
# Push endpoints are URLs a browser hands us: only these hosts (and their
# subdomains) are accepted, so a subscription cannot aim the worker at an
# internal address. http:// endpoints only with PUSH_ALLOW_HTTP=1 (tests).
PUSH_ALLOWED_HOSTS = env_list(
    "PUSH_ALLOWED_HOSTS",
    [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
)
PUSH_ALLOW_HTTP = env_str("PUSH_ALLOW_HTTP", "") == "1"
PUSH_TIMEOUT = float(env_str("PUSH_TIMEOUT", "10"))
# A push waits this long for an open tab to report the item as seen.
DELIVERY_SEEN_GRACE = float(env_str("DELIVERY_SEEN_GRACE", "5"))

# Two-factor authentication (core/twofactor, docs/accounts.md): mandatory for
# teachers, school staff and anyone with admin access; TOTP codes of an
# authenticator app, passkeys (WebAuthn), recovery codes. Wrong codes slow
# down: django-otp's delay doubles after each failure (1 s, 2 s, 4 s…).
OTP_TOTP_ISSUER = "Hub ENT"
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
# The admin lists devices (to remove a lost phone's) but never shows their
# secrets or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
OTP_WEBAUTHN_RP_NAME = "Hub ENT"
# The site's own name and origin; core.twofactor.passkeys.PasskeyHelper uses
# the host each page was served from (one of ALLOWED_HOSTS) and that page's
# origin, so every allowed host name works.
OTP_WEBAUTHN_RP_ID = urlsplit(SITE_URL).hostname or "localhost"
# (Browsers accept passkeys on https:// and on http://localhost only: a local
# run is opened as http://localhost:8000 for them.)
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    SITE_URL if SITE_URL.startswith("https://") else "http://localhost"
]
OTP_WEBAUTHN_HELPER_CLASS = "core.twofactor.passkeys.PasskeyHelper"
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = "core.twofactor.passkeys"
# Changing one's second factors asks for the password again after this long.
TWOFACTOR_REAUTH_SECONDS = int(env_str("TWOFACTOR_REAUTH_SECONDS", "600"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # uvicorn's "connection open/closed", one line per socket
        # (hub/uvicorn_ws.py): INFO shows them.
        "hub.connections": {"level": "WARNING"},
        # fpdf2's font subsetting (activation letters) logs each glyph at INFO.
        "fontTools": {"level": "WARNING"},
        # Django adds its own console handler in DEBUG: one line, not two.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
