"""Django settings for vingine. Everything a deployment changes is read from the environment here."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .concurrency import gevent_patched
from .env import env_bool, env_hosts, env_int, env_list, env_str, fernet_key, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key("SECRET_KEY", BASE_DIR / ".secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1)

# --- HTTPS (docs/operations.md, "Production settings") -----------------------------------------

# Off by default so `make run` and the tests work over plain HTTP on localhost. On for a site
# served only over HTTPS: plain HTTP is redirected, cookies are sent only over TLS, and browsers
# are told (HSTS) never to try plain HTTP again.
SECURE_SSL = env_bool("SECURE_SSL", False)
SECURE_SSL_REDIRECT = SECURE_SSL
# Probes and scrapers inside the network call these over plain HTTP; a redirect would fail them and
# protect nothing, as their request has already been sent.
SECURE_REDIRECT_EXEMPT = [r"^health/?$", r"^metrics/?$"]
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
# Browsers remember HSTS for this long, so it is only sent once HTTPS is meant to stay.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_SSL)
# Preloading is hard to undo (browsers ship the list), so it is asked for explicitly.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a proxy that ends TLS, a request reaches us over plain HTTP: the proxy's X-Forwarded-Proto
# says whether the client used HTTPS. Only behind a proxy that sets it (and strips the client's own).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: no CDN
    "django_celery_beat",
    "vingine",
    "workflows",
    "cronjobs",
    "audit",
    "streams",
]

MIDDLEWARE = [
    "vingine.middleware.BodySizeLimitMiddleware",
    "vingine.middleware.DatabaseWaitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vingine.urls"
WSGI_APPLICATION = "vingine.wsgi.application"
APPEND_SLASH = False

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
            ],
        },
    },
]

try:
    DATABASES = {
        "default": dj_database_url.parse(
            env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
            # A kept connection is checked before reuse: after a database restart the next request
            # or task reconnects instead of failing on the dead one.
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
# A worker on the gevent pool runs many runs at once, each greenlet with its own Django connection:
# they share a pool of this many connections (PostgreSQL only) instead of opening one each. A run
# holds one only for its claim and its result, so a few serve a hundred runs in flight. 0: no pool.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 10 if gevent_patched() else 0)
if DATABASE_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=False)
    # No check on each checkout (a round trip per statement a run makes): a connection that died
    # with a database restart fails its statement, which the run's writes retry on a new one.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 30,
    }
# How long a request waits for an unreachable database (a restart, a failover) before a 503.
DATABASE_WAIT_SECONDS = env_int("DATABASE_WAIT_SECONDS", 10, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share the file: wait for a lock instead of failing at once, and take the
    # write lock when a transaction begins (a read lock upgraded later fails at once when contended).
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["vingine.auth.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["vingine.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "vingine.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["vingine.throttling.UserRateThrottle"],
}

# OpenAPI schema at /api/schema, Swagger UI at /api/docs; both open, like the spec they publish.
SPECTACULAR_SETTINGS = {
    "TITLE": "vingine API",
    "DESCRIPTION": (
        "Schedule workflows (cron or interval) for signed-in users, run them, read their runs. "
        'Every error is {"detail": "<what is wrong and what to do>"}. Trailing slashes are optional.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["vingine.schema.paths_without_optional_slash"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "vingine.schema.path_parameter_schemas",
        "vingine.schema.throttled_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RunStatus": "workflows.serializers.RUN_STATUSES",
        "Success": ["success"],
        "NotificationEvent": "cronjobs.serializers.NOTIFICATION_EVENTS",
    },
}

# Requests above this are refused before any parsing (the input itself is capped at 64 KiB).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

JWT_ALGORITHM = env_str("JWT_ALGORITHM", "HS256")
if not JWT_ALGORITHM.startswith("HS"):
    raise ImproperlyConfigured(f"JWT_ALGORITHM must be one of HS256, HS384, HS512, got {JWT_ALGORITHM!r}")

SIMPLE_JWT = {
    "ALGORITHM": JWT_ALGORITHM,
    "SIGNING_KEY": env_str("JWT_SECRET", SECRET_KEY),
    # Supabase-style tokens carry aud="authenticated"; tokens we issue carry the same audience,
    # so one verifier accepts both.
    "AUDIENCE": env_str("JWT_AUDIENCE", "authenticated"),
    "ISSUER": env_str("JWT_ISSUER"),
    "USER_ID_FIELD": "username",
    "USER_ID_CLAIM": "sub",
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 60, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "AUTH_TOKEN_CLASSES": ("vingine.auth.BearerToken",),
    "TOKEN_REFRESH_SERIALIZER": "vingine.auth.TokenRefreshSerializer",
    "UPDATE_LAST_LOGIN": False,
}
# An identity provider's public keys (RS256, ES256, ...), e.g. Supabase's
# https://<project>.supabase.co/auth/v1/.well-known/jwks.json. Unset: only HS tokens (JWT_SECRET).
JWT_JWKS_URL = env_str("JWT_JWKS_URL")
if JWT_JWKS_URL and not JWT_JWKS_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"JWT_JWKS_URL must be an http(s) URL, got {JWT_JWKS_URL!r}")
# Keys are fetched again after this many seconds; a token naming a key not yet seen (a rotation)
# fetches them at once, but at most once per JWT_JWKS_REFETCH_SECONDS, so that made-up key ids
# cannot make us hammer the provider.
JWT_JWKS_CACHE_SECONDS = env_int("JWT_JWKS_CACHE_SECONDS", 600, minimum=1)
JWT_JWKS_REFETCH_SECONDS = env_int("JWT_JWKS_REFETCH_SECONDS", 30, minimum=1)
JWT_JWKS_TIMEOUT_SECONDS = 3

# --- Throttling ------------------------------------------------------------------------------

# Failed sign-ins (POST /api/auth/token and the admin's login) counted per username and per client
# address over a window; past either limit, further attempts are refused (429) before the password
# is checked, until the window that began with the first failure ends.
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)
LOGIN_MAX_FAILURES_PER_USERNAME = env_int("LOGIN_MAX_FAILURES_PER_USERNAME", 10, minimum=1)
LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("LOGIN_MAX_FAILURES_PER_ADDRESS", 50, minimum=1)
# Requests per minute of one signed-in user (0: no limit); operators set a user's own in the admin
# (API rate limits).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=0)
# How many reverse proxies stand in front of the web server, each appending to X-Forwarded-For.
# 0: the client is the connection's address and X-Forwarded-For, which anyone can write, is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Product limits --------------------------------------------------------------------------

CRON_MIN_INTERVAL_SECONDS = env_int("CRON_MIN_INTERVAL_SECONDS", 10, minimum=1)
CRON_MAX_JOBS_PER_USER = env_int("CRON_MAX_JOBS_PER_USER", 100, minimum=1)
CRON_MAX_INPUT_BYTES = 64 * 1024
RUNS_PAGE_DEFAULT = 50  # runs a run list (GET /api/runs, /api/cron/jobs/{id}/runs) returns unless asked
RUNS_PAGE_MAX = 500  # most runs one run list returns
# Changes one GET /api/cron/jobs/{id}/history returns by default, and at most.
HISTORY_PAGE_DEFAULT = 50
HISTORY_PAGE_MAX = 500
# Newest runs kept per job (and per workflow, for runs started from the workflow itself).
RUN_HISTORY_LIMIT = env_int("RUN_HISTORY_LIMIT", 100, minimum=1)
# At most this many of one user's runs are handed to workers (queued for a worker or running) at
# once; the rest wait, queued, and are handed over as those end. Operators set a user's own limit
# in the admin (Run limits). The default lets a user's whole job quota (CRON_MAX_JOBS_PER_USER)
# start at one slot, and leaves half of `make run`'s 200 run slots (two worker processes of 100
# runs each) to everyone else.
RUN_MAX_CONCURRENT_PER_USER = env_int("RUN_MAX_CONCURRENT_PER_USER", 100, minimum=1)
# A backfill (POST /api/cron/jobs/{id}/backfill) covers at most this many slots, and runs them
# oldest first: one at a time for a job whose overlap policy is skip, at most
# BACKFILL_MAX_CONCURRENT at a time under allow (always within the user's limit above).
BACKFILL_MAX_SLOTS = 1000
BACKFILL_MAX_CONCURRENT = env_int("BACKFILL_MAX_CONCURRENT", 5, minimum=1)
# How long an Idempotency-Key is remembered: a request repeated with it within this time gets the
# first answer and starts nothing new.
IDEMPOTENCY_KEY_HOURS = 24
# The key (Fernet: 32 bytes, url-safe base64) that encrypts stored secrets (users' signing
# secrets). Derived from SECRET_KEY when unset; set it of its own in production, and keep it: a new
# key makes stored secrets unreadable (their owners rotate them then).
SECRETS_ENCRYPTION_KEY = fernet_key("SECRETS_ENCRYPTION_KEY", SECRET_KEY)
# After a user rotates their signing secret, the previous one still signs for this long.
SIGNING_SECRET_OVERLAP_HOURS = 24
# Where people reach this API: notifications link to runs and jobs under it.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000")

# --- E-mail (job notifications) ------------------------------------------------------------------
# SMTP when EMAIL_HOST is set; else every e-mail is printed by the process that sends it (a worker).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "vingine <noreply@localhost>")

# --- Workflow runs ---------------------------------------------------------------------------

# Seconds one run may take. Past it the run is stopped and ends failed (reason "timeout").
WORKFLOW_RUN_TIME_LIMIT = env_int("WORKFLOW_RUN_TIME_LIMIT", 15 * 60, minimum=1)
# A run that ignores the soft limit (stuck in C code) is killed this much later.
WORKFLOW_RUN_KILL_GRACE = 30
# A run still "running" this long after its hard limit has lost its worker: the reaper fails it.
WORKFLOW_RUN_LOST_GRACE = 60
# A worker that wrote no heartbeat for this long is gone (vingine.heartbeat): the reaper fails its
# running runs (reason "lost") instead of waiting for the time limit.
WORKER_LOST_AFTER_SECONDS = env_int("WORKER_LOST_AFTER_SECONDS", 20, minimum=10)
# Hosts an http step may reach even when they resolve to a loopback or private address:
# "host" (any port) or "host:port", comma-separated, e.g. "localhost:3000,video.internal".
WORKFLOW_HTTP_ALLOWED_HOSTS = env_hosts("WORKFLOW_HTTP_ALLOWED_HOSTS")
# Pages of the other lists (?limit=&offset=). A user's own jobs come back whole by default, as
# clients of the original API expect; the operators' list of everyone's jobs is paged.
LIST_PAGE_MAX = 1000
ALL_JOBS_PAGE_DEFAULT = 100
WORKFLOWS_PAGE_DEFAULT = 100

# --- Live run stream (streams) ----------------------------------------------------------------

# Run events Redis keeps for reconnecting streams (Last-Event-ID) to catch up from: about 150 bytes
# each. A stream that was away longer is told to read its runs again (event "reset").
RUN_EVENTS_KEPT = env_int("RUN_EVENTS_KEPT", 100_000, minimum=1000)
# A stream token opens a stream for this long; an open stream stays open.
STREAM_TOKEN_SECONDS = 300
# Where browsers reach the stream server (uvicorn streams.asgi:application), e.g.
# https://stream.example.com; unset: the host the API was asked on, at STREAM_PORT.
STREAM_PUBLIC_URL = env_str("STREAM_PUBLIC_URL", "")
STREAM_PORT = env_int("STREAM_PORT", 8001, minimum=1)
# A comment line this often keeps idle streams open through proxies.
STREAM_PING_SECONDS = env_int("STREAM_PING_SECONDS", 15, minimum=1)
# Events waiting to be sent to one slow subscriber before its stream is closed (it reconnects and
# catches up from Redis).
STREAM_QUEUE_MAX = 1000

# --- Metrics ---------------------------------------------------------------------------------

# GET /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, it is a 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# The run metrics (counts by status, fire lag, durations, webhook failures) cover this many seconds.
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 3600, minimum=60)

# --- Celery ----------------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://localhost:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# No task's result is stored, yet celery looks up its result backend (the disabled one) at the end of
# every task, and builds it anew in each thread unless it is marked thread-safe: in each greenlet,
# so for every run, under gevent (about a quarter of a millisecond of the worker's CPU per run).
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_TIMEZONE = "UTC"
# Under prefork a process takes one message at a time. Under gevent a worker takes up to twice its
# concurrency: one more message waits in the consumer while every greenlet is busy, and the consumer
# keeps listening. With exactly its concurrency, a busy worker stops listening and notices a free
# greenlet only at its next 2 s poll (celery's loop for non-async transports), which stalls bursts.
CELERY_WORKER_PREFETCH_MULTIPLIER = 2 if gevent_patched() else 1
# Ours by default; "django_celery_beat.schedulers:DatabaseScheduler" runs the stock one (for comparison).
CELERY_BEAT_SCHEDULER = env_str("BEAT_SCHEDULER", "cronjobs.beat:JobScheduler")
# Beat notices schedule changes within this many seconds.
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("BEAT_MAX_LOOP_INTERVAL", 1, minimum=1)
DJANGO_CELERY_BEAT_TZ_AWARE = True
# A run's message is acknowledged only once the run is over (workflows.tasks.execute_run; a message
# of runs sent together, once all of them are), and Redis hands an unacknowledged message to another
# worker after this long. Above the hard run limit, so a run still going is never handed out again
# while it runs; a run of a message handed out again that has started meanwhile is not run again (its
# claim finds it taken).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": WORKFLOW_RUN_TIME_LIMIT + WORKFLOW_RUN_KILL_GRACE + WORKFLOW_RUN_LOST_GRACE,
    # Redis connections per process. A gevent worker acknowledges many runs at once, each on a
    # connection of its own: with kombu's default of 10, acknowledgements fail ("Too many
    # connections") and those runs' messages come back later to find the runs done.
    "max_connections": 300,
}
# Maintenance that beat sends whatever the scheduler class; each task is safe to run twice and
# from several beats at once.
CELERY_BEAT_SCHEDULE = {
    "workflows-reap-lost-runs": {"task": "workflows.tasks.reap_lost_runs", "schedule": 10.0},
    "workflows-trim-run-history": {"task": "workflows.tasks.trim_run_history", "schedule": 15 * 60.0},
}

# How stale a beat heartbeat may be before /health reports beat as down.
BEAT_HEARTBEAT_MAX_AGE_SECONDS = env_int("BEAT_HEARTBEAT_MAX_AGE_SECONDS", 30, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # httpx logs every request's URL at INFO; a user's URL may carry a token in its query.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A line per run received and done: each run is recorded in the database already, and at
        # hundreds of runs a second the lines cost more than the runs' own database work.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}
