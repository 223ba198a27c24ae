"""Beat's liveness signal: beat writes a timestamp to Redis on every tick; /health reads it."""

import time

import redis
from django.conf import settings

KEY = "vingine:beat:heartbeat"


def client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def beat(connection: redis.Redis) -> None:
    connection.set(KEY, f"{time.time():.3f}", ex=settings.BEAT_HEARTBEAT_MAX_AGE_SECONDS * 4)


def age_seconds(connection: redis.Redis) -> float | None:
    value = connection.get(KEY)
    return None if value is None else max(0.0, time.time() - float(value))
