"""Settings of the school hub, read from the environment.

Zero configuration gives the embedded default: SQLite under ``var/``, one
process handing events to its sockets in memory. ``DATABASE_URL`` switches to
PostgreSQL, ``REDIS_URL`` to Redis pub/sub between processes. Defaults are
safe for production (DEBUG off, no hosts allowed, no secret key);
``manage.py run_demo`` sets what a local demo needs. Every variable is listed
in the README.
"""

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from core.env import (
    MAILBOX_PORT_OFFSET,
    env_bool,
    env_list,
    env_port,
    env_str,
    local_secret_key,
    local_site_url,
)
from core.security import admin_inline_style_hashes, websocket_origins

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
    # A random key made once in VAR_DIR (never a well-known one).
    SECRET_KEY = local_secret_key(VAR_DIR)
# The fixed key earlier DEBUG runs signed with: published in this repository's
# history, so it may never sign anything outside DEBUG.
if not DEBUG and SECRET_KEY in {
    "insecure-local-development-key-do-not-use-in-production",
    (VAR_DIR / "secret-key").read_text().strip()
    if (VAR_DIR / "secret-key").exists()
    else "",
}:
    raise ImproperlyConfigured(
        "SECRET_KEY is a local development key: set a secret one of your own."
    )
# Older signing keys, still accepted after a rotation of SECRET_KEY: sessions
# (pages and sockets, hub/realtime/app.py), password reset links, signed cookies.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The client's address (core/audit/ip.py: audit log, throttles, socket caps).
# X-Forwarded-For is read only as far as our own reverse proxies wrote it:
# TRUSTED_PROXY_COUNT of them each append the address they saw (nginx's
# $proxy_add_x_forwarded_for); 0 ignores the header (the socket's peer is the
# client). TRUSTED_PROXIES (addresses or networks), when set, reads the header
# only from those peers.
TRUSTED_PROXY_COUNT = int(env_str("TRUSTED_PROXY_COUNT", "0"))
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "django_tasks",
    "django_tasks_db",
    # Login lockout (core/accounts/lockout.py); before core.accounts, whose
    # audit receiver reads what axes' receiver marked on the request.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "hub",
    # core's own observability wiring (core/apps.py): after the event log,
    # whose ready() it used to share.
    "core",
    "hub.realtime",
    "hub.delivery",
    "core.roster",
    "core.timetable",
    "core.attendance",
    "core.homework",
    "core.messaging",
    "core.audit",
    "core.accounts",
    "core.privacy",
    "core.twofactor",
    "core.demo",
    "core.scheduler",
    "core.documents",
    "core.grades",
    "core.schoollife",
    "core.reportcards",
    "core.agenda",
    # The API for apps (docs/api.md); "ninja" serves Swagger UI's files
    # from this server (the CSP allows no CDN).
    "core.api",
    "ninja",
    "frontend",
]

MIDDLEWARE = [
    # First: answers /healthz and /readyz before the Host header is read
    # (core/health.py), so the containers' probes pass whatever ALLOWED_HOSTS.
    "core.health.HealthMiddleware",
    # Then: the request id of every log line and of the response (core/logs.py).
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.audit.middleware.AuditMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Around every response below, the second step's redirects included.
    "core.security.NoStoreForUsersMiddleware",
    "csp.middleware.CSPMiddleware",
    # The second factor (core/twofactor): django-otp marks a verified session,
    # then staff without one go to the second step or to enrolment.
    "django_otp.middleware.OTPMiddleware",
    "core.twofactor.middleware.SecondFactorMiddleware",
    # Each logged-in session's row (device, last activity) for "Mes appareils".
    "core.accounts.middleware.SessionsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

# Axes' backend first: it refuses a locked login or address before Django's
# checks the password (core/accounts/lockout.py).
AUTHENTICATION_BACKENDS = [
    # First, as axes asks: a locked login or address is refused before any check.
    "core.accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A passkey without a password (core/twofactor/passkeys.py).
    "django_otp_webauthn.backends.WebAuthnBackend",
]

ROOT_URLCONF = "core.urls"
ASGI_APPLICATION = "core.asgi.application"
AUTH_USER_MODEL = "roster.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
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
# A pooler between the processes and PostgreSQL (docs/scaling.md, "PostgreSQL
# and PgBouncer"): "pgbouncer" in transaction pooling mode hands a server
# connection to a client for one transaction only, so nothing may outlive a
# transaction on it. Django's server-side cursors (``.iterator()`` outside a
# transaction declares a cursor WITH HOLD, fetched in later transactions) are
# turned off, and prepared statements stay off (Debian's PgBouncer 1.18 does
# not carry them; Django's default, pinned here).
DATABASE_POOLER = env_str("DATABASE_POOLER")
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(
        f"DATABASE_POOLER={DATABASE_POOLER!r}: use pgbouncer, or leave it unset"
    )
if DATABASE_POOLER:
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_POOLER needs a postgres DATABASE_URL")
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a command (import_ical) writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# Redis carries events and control messages between processes (pub/sub,
# hub/realtime/publish.py); without it, one process hands them over in memory. The
# sockets use no Channels channel layer (decision 0005).
REDIS_URL = env_str("REDIS_URL")
# Prefix of the hub's Redis channels: pub/sub ignores database numbers, so two
# hubs on one Redis need their own.
HUB_CHANNEL_PREFIX = env_str("HUB_CHANNEL_PREFIX", "hub")
# A region past one Redis (docs/scaling.md, "Redis Cluster"): the fan-out's
# pub/sub goes to this Redis Cluster, sharded (SPUBLISH/SSUBSCRIBE, Redis 7),
# a seed node's URL. The throttle cache stays on REDIS_URL's standalone Redis
# (Django's RedisCache does not speak cluster), so that one is needed too.
REDIS_CLUSTER_URL = env_str("REDIS_CLUSTER_URL")
if REDIS_CLUSTER_URL:
    if urlsplit(REDIS_CLUSTER_URL).scheme not in ("redis", "rediss"):
        raise ImproperlyConfigured(
            "REDIS_CLUSTER_URL must be a redis:// or rediss:// URL of one node "
            "of the cluster."
        )
    if not REDIS_URL:
        raise ImproperlyConfigured(
            "REDIS_CLUSTER_URL needs REDIS_URL too: the throttle counters stay "
            "on a standalone Redis (docs/scaling.md, Redis Cluster)."
        )

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
# Request bodies, bounded before Django reads them (core/body_limits.py): a
# request without a valid session, and a logged-in user's (the URLs taking
# files have their own limits there: messages' attachments, roster uploads).
HTTP_MAX_BODY_BYTES_ANONYMOUS = int(
    env_str("HTTP_MAX_BODY_BYTES_ANONYMOUS", str(64 * 1024))
)
HTTP_MAX_BODY_BYTES = int(env_str("HTTP_MAX_BODY_BYTES", str(7 * 1024 * 1024)))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HTTPS (README, "Production"). compose.yaml turns all of it on; a run without a
# TLS proxy in front (make run, scripts/topology.py, the tests) leaves the
# redirect off. HSTS is sent only over HTTPS, so its default costs nothing
# on plain HTTP.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = int(env_str("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Preloading commits the whole registered domain (often an académie's or a
# town's, shared with other services) to HTTPS in every browser for good;
# only that domain's owner can make the commitment, so it stays opt-in
# (SECURE_HSTS_PRELOAD=1) and check --deploy's reminder about it (W021) is
# silenced while it is off. Nothing else is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# The header a TLS-terminating proxy sets (e.g. X-Forwarded-Proto): requests
# carrying "https" in it count as secure. Only when the proxy always sets it.
_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _SSL_HEADER.upper().replace("-", "_"), "https") if _SSL_HEADER else None
)

# Content-Security-Policy on every response (django-csp): scripts and styles
# from our own origin only, never inline (templates pass data with
# json_script, which does not run). One exception, by hash: the <style>
# block Django's admin change list prints when a list has no actions.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", *admin_inline_style_hashes()],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'", *websocket_origins(env_str("SITE_URL", ""))],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# The hub (see docs/protocol.md).
HUB_MAX_FRAME_BYTES = 64 * 1024
# The largest WebSocket message the server itself reads into memory: uvicorn's
# --ws-max-size (compose.yaml, Dockerfile, scripts/topology.py's
# UVICORN_OPTIONS: tests/test_deploy.py checks they say this), which
# hub/realtime/uvicorn.py also holds to whatever the command line says, and Daphne's
# maximum message and frame size (`make run`, the topology's Daphne). Twice
# HUB_MAX_FRAME_BYTES: a frame a little over the hub's limit still gets the
# protocol's frame_too_big and 4413; anything bigger is refused by the server
# (close 1009) from its header, before its payload is buffered.
HUB_WS_MAX_BYTES = 2 * HUB_MAX_FRAME_BYTES
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = HUB_WS_MAX_BYTES
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = HUB_WS_MAX_BYTES
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
# Open sockets per user and per client address on one server process; one
# more is closed with 4409 (docs/protocol.md). 0: no cap.
HUB_MAX_SOCKETS_PER_USER = int(env_str("HUB_MAX_SOCKETS_PER_USER", "20"))
HUB_MAX_SOCKETS_PER_IP = int(env_str("HUB_MAX_SOCKETS_PER_IP", "200"))
# Threads running the sockets' database work with PostgreSQL (hub/realtime/threads.py).
HUB_DB_THREADS = int(env_str("HUB_DB_THREADS", "4"))
# Garbage collections at least this long are logged (hub/realtime/gcwatch.py); 0: off.
HUB_GC_LOG_MS = float(env_str("HUB_GC_LOG_MS", "100"))
# Allocations between two collections of generation 0 (hub/realtime/gcwatch.py;
# CPython's default is 700); 0 keeps the default.
HUB_GC_THRESHOLD = int(env_str("HUB_GC_THRESHOLD", "50000"))
HUB_RETENTION_DAYS = int(env_str("HUB_RETENTION_DAYS", "30"))

# The week the timetable opens on when none is asked for (ISO date; "" = today).
TIMETABLE_DEFAULT_WEEK = env_str("TIMETABLE_DEFAULT_WEEK", "")

# Course documents (core/documents): their own storage, so they can live in
# an S3-compatible store (compose.yaml) while the rest stays on disk. With
# DOCUMENTS_S3_BUCKET set, django-storages' S3 backend (private objects,
# downloads always through the hub's access-checked view, never a public
# URL); otherwise MEDIA_ROOT/documents/.
DOCUMENTS_S3_BUCKET = env_str("DOCUMENTS_S3_BUCKET", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "documents": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": DOCUMENTS_S3_BUCKET,
                "endpoint_url": env_str("DOCUMENTS_S3_ENDPOINT_URL", "") or None,
                "access_key": env_str("DOCUMENTS_S3_ACCESS_KEY", "") or None,
                "secret_key": env_str("DOCUMENTS_S3_SECRET_KEY", "") or None,
                "region_name": env_str("DOCUMENTS_S3_REGION", "") or None,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
                "addressing_style": env_str("DOCUMENTS_S3_ADDRESSING", "path"),
            },
        }
        if DOCUMENTS_S3_BUCKET
        # MEDIA_ROOT (followed when tests change it); names start "documents/".
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
}
# Bytes per file, and bytes a teacher may have uploaded in all (every version
# counts, until deleted).
DOCUMENTS_MAX_FILE_BYTES = int(
    env_str("DOCUMENTS_MAX_FILE_BYTES", str(50 * 1024 * 1024))
)
DOCUMENTS_QUOTA_BYTES = int(env_str("DOCUMENTS_QUOTA_BYTES", str(500 * 1024 * 1024)))

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

# Login lockout (django-axes, core/accounts/lockout.py): wrong passwords per
# login (from any address) and per client address (any logins) within the
# cool-off; attempts live in the database, shared by every server process.
AXES_HANDLER = "core.accounts.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = int(env_str("AXES_FAILURE_LIMIT", "5"))
ACCOUNTS_LOGIN_IP_FAILURE_LIMIT = int(env_str("ACCOUNTS_LOGIN_IP_FAILURE_LIMIT", "50"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(env_str("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "core.accounts.lockout.lockout_response"
# Successful logins are in the sessions table and the audit log already.
AXES_DISABLE_ACCESS_LOG = True
# The client address: the one definition (core/audit/ip.py, trusted hops
# only, TRUSTED_PROXY_COUNT above), so the lockout, the throttles and the
# audit log count the same address.
AXES_CLIENT_IP_CALLABLE = "core.audit.ip.client_ip"

# Caches. "throttle" holds the accounts' other counters (activation-code
# guesses, password-reset e-mails: core/accounts/throttle.py); with REDIS_URL
# it is Redis (REDIS_URL's own database), shared by every server process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": HUB_CHANNEL_PREFIX,
        }
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "throttle",
        }
    ),
}
# Privacy (core/privacy, docs/privacy.md). Days each kind is kept, counted
# from the date named in docs/privacy.md; 0 keeps it until erased by hand.
# Each is overridden by RETENTION_<KIND>_DAYS, e.g. RETENTION_MESSAGES_DAYS.
PRIVACY_RETENTION_DEFAULTS = {
    "messages": 365,  # after the conversation's last message
    "attendance": 730,  # absences and excuses, after the lesson
    "documents": 365,  # excuse documents and attachments, after upload
    "delivery_log": 90,  # notifications, deliveries, e-mail ledger
    "audit": 365,  # audit entries
    "ended_memberships": 730,  # history of ended enrollments and links
    "task_results": 30,  # finished background tasks' results
}
PRIVACY_RETENTION_DAYS = {
    kind: int(env_str(f"RETENTION_{kind.upper()}_DAYS", str(days)))
    for kind, days in PRIVACY_RETENTION_DEFAULTS.items()
}
# Days a data export's link works; the zip is deleted afterwards.
PRIVACY_EXPORT_DAYS = int(env_str("PRIVACY_EXPORT_DAYS", "7"))

# Delivery outside the app (hub/delivery, docs/delivery.md).
# A local run (`make run`) serves on HOST:PORT and its mailbox listens on
# PORT + 25: links and mails follow PORT unless SITE_URL / EMAIL_PORT are set,
# in every process (server, task worker, `make demo-after`, commands).
LOCAL_PORT = env_port("PORT", 8000)
SITE_URL = env_str(
    "SITE_URL", local_site_url(env_str("HOST", "127.0.0.1"), LOCAL_PORT)
).rstrip("/")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_port("EMAIL_PORT", LOCAL_PORT + MAILBOX_PORT_OFFSET)
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

# Observability (docs/operations.md). Log lines: JSON (one object per line)
# in production, a readable line on the terminal with DEBUG (make run);
# LOG_FORMAT=json or text chooses (core/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or text")
# Prometheus metrics (core/metrics.py): GET /metrics needs this bearer token
# and/or a client address in these networks (CIDR, comma-separated); with
# neither it answers 404. Task workers and the scheduler serve theirs on
# METRICS_PORT (0: not served).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", [])
METRICS_PORT = int(env_str("METRICS_PORT", "0"))
# Errors to Sentry (core/sentry.py) when SENTRY_DSN is set.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    from core.sentry import init_sentry

    init_sentry(SENTRY_DSN, env_str("SENTRY_ENVIRONMENT", "production"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "console": {"class": "core.logs.ConsoleHandler", "log_format": LOG_FORMAT}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # uvicorn's "connection open/closed", one line per socket
        # (hub/realtime/uvicorn.py): INFO shows them.
        "hub.connections": {"level": "WARNING"},
        # fpdf2's font subsetting (activation letters) logs each glyph at INFO.
        "fontTools": {"level": "WARNING"},
        # django-axes: one line per failed login and lockout (WARNING), not
        # its INFO chatter on every login.
        "axes": {"level": "WARNING"},
        # Django adds its own console handler in DEBUG: one line, not two.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
