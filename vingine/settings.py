"""Django settings for vingine. Everything a deployment changes is read from the environment here."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_bool, env_int, env_list, env_str, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = secret_key("SECRET_KEY", BASE_DIR / ".secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
PORT = env_int("PORT", 8000, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_celery_beat",
    "vingine",
    "workflows",
    "cronjobs",
]

MIDDLEWARE = [
    "vingine.middleware.BodySizeLimitMiddleware",
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
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
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

# --- Product limits --------------------------------------------------------------------------

CRON_MIN_INTERVAL_SECONDS = env_int("CRON_MIN_INTERVAL_SECONDS", 10, minimum=1)
CRON_MAX_JOBS_PER_USER = env_int("CRON_MAX_JOBS_PER_USER", 100, minimum=1)
CRON_MAX_INPUT_BYTES = 64 * 1024
RUNS_PAGE_MAX = 500  # most runs one GET /api/cron/jobs/{id}/runs returns

# --- Celery ----------------------------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://localhost:6379/0")
if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"REDIS_URL must start with redis://, rediss:// or unix://, got {REDIS_URL!r}")

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Ours by default; "django_celery_beat.schedulers:DatabaseScheduler" runs the stock one (for comparison).
CELERY_BEAT_SCHEDULER = env_str("BEAT_SCHEDULER", "cronjobs.scheduler:JobScheduler")
# Beat notices schedule changes within this many seconds.
CELERY_BEAT_MAX_LOOP_INTERVAL = env_int("BEAT_MAX_LOOP_INTERVAL", 1, minimum=1)
DJANGO_CELERY_BEAT_TZ_AWARE = True

# How stale a beat heartbeat may be before /health reports beat as down.
BEAT_HEARTBEAT_MAX_AGE_SECONDS = env_int("BEAT_HEARTBEAT_MAX_AGE_SECONDS", 30, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
