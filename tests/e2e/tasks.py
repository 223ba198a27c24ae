"""Tasks for e2e tests only, loaded by the workers the tests start with ``include=("tests.e2e.tasks",)``
(deployed workers never load them)."""

import redis
from celery import shared_task
from django.conf import settings


@shared_task(name="tests.e2e.count", ignore_result=True)
def count(key: str) -> None:
    """Counts its executions in Redis, under ``key``."""
    redis.Redis.from_url(settings.REDIS_URL).incr(key)
