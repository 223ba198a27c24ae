"""Fixtures for the /api/cron tests: jobs created through the API, other users' clients, the broker."""

import json

import pytest
import redis
from django.conf import settings

from cronjobs.models import CronJob
from tests.broker_messages import sent_run_ids

from .helpers import post_cron, post_interval


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The users' passwords are never checked here; the default hasher costs ~0.2 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def stock_scheduler(settings):
    """Beat runs django-celery-beat's DatabaseScheduler (BEAT_SCHEDULER), which reloads on its
    change marker."""
    settings.CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.fixture
def bob_api(client_for, bob):
    return client_for(bob)


@pytest.fixture
def operator_api(client_for, operator):
    return client_for(operator)


@pytest.fixture
def bob_workflow(make_workflow, bob):
    return make_workflow(bob, "bob-workflow")


@pytest.fixture
def cron_job(api, workflow) -> CronJob:
    """Alice's "daily-video-generation" job, created with the spec's example body."""
    response = post_cron(api)
    assert response.status_code == 200, response.json()
    return CronJob.objects.select_related("periodic_task").get(job_id="daily-video-generation")


@pytest.fixture
def interval_job(api, workflow) -> CronJob:
    """Alice's "hourly-video-check" job, every 1h 30m, created with the spec's example body."""
    response = post_interval(api)
    assert response.status_code == 200, response.json()
    return CronJob.objects.select_related("periodic_task").get(job_id="hourly-video-check")


class Broker:
    """The Redis list workers consume from (Celery's default queue on the Redis transport)."""

    queue = "celery"

    def __init__(self):
        self.redis = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def clear(self) -> None:
        self.redis.delete(self.queue)

    def messages(self) -> list[dict]:
        return [json.loads(raw) for raw in self.redis.lrange(self.queue, 0, -1)]

    def run_ids(self) -> list[str]:
        """The runs the waiting messages hand over, in the order they were sent."""
        return sent_run_ids(self.messages())


@pytest.fixture
def broker():
    broker = Broker()
    broker.clear()
    yield broker
    broker.clear()
