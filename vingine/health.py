"""GET /health: is every part needed to run jobs on time up? 200 if so, 503 naming what is down."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

from . import heartbeat
from .celery import app

logger = logging.getLogger(__name__)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "up"


def health(request):
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": f'Method "{request.method}" not allowed; use GET'}, status=405)
    checks: dict[str, str] = {}
    try:
        checks["database"] = _database()
    except Exception as exc:
        checks["database"] = f"down: {exc.__class__.__name__}"

    redis = heartbeat.client()
    try:
        redis.ping()
        checks["broker"] = "up"
    except Exception as exc:
        checks["broker"] = f"down: {exc.__class__.__name__}"

    if checks["broker"] == "up":
        age = heartbeat.age_seconds(redis)
        if age is None:
            checks["beat"] = "down: no heartbeat"
        elif age > settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS:
            checks["beat"] = f"down: last heartbeat {age:.0f}s ago"
        else:
            checks["beat"] = "up"
        try:
            # limit=1 returns on the first reply instead of waiting out the timeout.
            replies = app.control.ping(timeout=1.0, limit=1)
            checks["worker"] = "up" if replies else "down: no worker answered"
        except Exception as exc:
            checks["worker"] = f"down: {exc.__class__.__name__}"
    else:
        checks["beat"] = checks["worker"] = "unknown: broker is down"

    down = [name for name, state in checks.items() if state != "up"]
    body = {
        "status": "healthy" if not down else "unhealthy",
        "scheduler_running": checks["beat"] == "up",
        **checks,
    }
    if down:
        body["detail"] = f"Down: {', '.join(down)}"
        logger.warning("health check failed: %s", body)
    return JsonResponse(body, status=200 if not down else 503)
