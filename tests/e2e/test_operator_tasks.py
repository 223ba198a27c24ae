"""An operator's own periodic task (added as in the admin, no job behind it) on real ``celery beat``
and ``celery worker`` processes: it runs, each due time once with two beats, and stops on the tick
after it is disabled. The task counts its executions in Redis (``tests.e2e.tasks.count``)."""

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from vingine import heartbeat

from .conftest import START_TIMEOUT, CeleryProcess, start_worker, wait_until

pytestmark = pytest.mark.e2e

RUN_FOR = 8.0  # seconds the every-second task is left to run


@pytest.fixture(scope="module")
def counting_worker(celery_env, tmp_path_factory) -> Iterator[CeleryProcess]:
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"), include=("tests.e2e.tasks",))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def counter() -> Iterator[tuple[redis.Redis, str]]:
    client, key = redis.Redis.from_url(settings.REDIS_URL), f"e2e-operator-task-{uuid.uuid4().hex[:8]}"
    yield client, key
    client.delete(key)


def test_an_operators_task_runs_once_per_due_time_with_two_beats_and_stops_when_disabled(
    counting_worker, start_beat, counter
):
    client, key = counter
    beats = (start_beat(), start_beat())
    wait_until(
        lambda: heartbeat.age_seconds(heartbeat.client()) is not None,
        timeout=START_TIMEOUT,
        what="beat's first heartbeat",
        watch=beats,
    )

    def executions() -> int:
        return int(client.get(key) or 0)

    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    task = PeriodicTask(name=key, task="tests.e2e.count", args=json.dumps([key]), interval=every_second)
    task.save()
    created = timezone.now()

    wait_until(lambda: executions() >= 3, timeout=20, what="three executions", watch=(counting_worker, *beats))
    time.sleep(max(0.0, RUN_FOR - (timezone.now() - created).total_seconds()))
    PeriodicTask.objects.filter(pk=task.pk).update(enabled=False)
    disabled = timezone.now()
    time.sleep(2)  # the tick under way, and the worker running what was sent before it
    task.refresh_from_db()
    ran = executions()

    # Every due time claimed was sent and ran once; two beats did not double it: about one a second.
    assert ran == task.total_run_count
    assert RUN_FOR - 3 <= ran <= (disabled - created).total_seconds() + 1
    time.sleep(3)
    assert executions() == ran  # disabled: not sent again
