"""One tick of our scheduler: it fires what is due, sleeps no longer than until the next slot, and still
runs the static CELERY_BEAT_SCHEDULE entries as celery's own Scheduler does."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules
from cronjobs.beat import JobScheduler
from cronjobs.models import CronJob
from vingine.celery import app
from workflows.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def static_entry():
    before = app.conf.beat_schedule
    app.conf.beat_schedule = {"maintenance": {"task": "vingine.tests.maintenance", "schedule": 0.2}}
    yield
    app.conf.beat_schedule = before


def test_it_sends_a_static_entry_when_due(static_entry, broker):
    scheduler = JobScheduler(app=app)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not broker.messages():
        time.sleep(min(scheduler.tick(), 0.1))

    tasks = [message["headers"]["task"] for message in broker.messages()]
    assert "vingine.tests.maintenance" in tasks


def test_it_sleeps_until_the_nearest_slot_at_most(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    scheduler = JobScheduler(app=app)
    assert scheduler.tick() == scheduler.max_interval  # nothing due within a second

    soon = timezone.now() + timedelta(milliseconds=300)
    CronJob.objects.filter(pk=job.pk).update(next_fire_at=soon)  # what a change written by the API does

    assert 0 < scheduler.tick() <= 0.3


def test_a_tick_publishes_the_due_runs(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    CronJob.objects.filter(pk=job.pk).update(next_fire_at=timezone.now())
    scheduler = JobScheduler(app=app)

    scheduler.tick()

    run = Run.objects.get(job=job)
    assert run.published_at is not None
    assert broker.run_ids() == [str(run.id)]
