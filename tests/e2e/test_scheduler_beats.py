"""Our scheduler in real ``celery beat`` processes: several at once, and one killed mid-batch.

No worker runs here: every run of these jobs stays queued, which is what lets the tests see each
run's publish (``published_at`` and the message in Redis). Jobs allow overlap, so each slot that
is due on time gets a queued run rather than a skipped one.
"""

import json
import os
import signal
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.conf import settings

from cronjobs import schedules
from cronjobs import services as cron
from cronjobs.claims import LOOKAHEAD
from cronjobs.models import CronJob
from tests.broker_messages import sent_run_ids
from workflows.dispatch import SWEEP_AFTER
from workflows.models import Run

from .conftest import wait_until

pytestmark = pytest.mark.e2e

# No worker runs here: every run handed over stays queued, so no concurrency limit may hold any back.
UNLIMITED = {"RUN_MAX_CONCURRENT_PER_USER": "1000000"}


@pytest.fixture
def queue():
    """The Redis list the runs' messages go to; emptied before and after."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("celery")
    yield client
    client.delete("celery")


def published_run_ids(queue) -> Counter:
    """Ids of the runs sent, from the messages that hand runs over (beat's maintenance tasks share the
    queue)."""
    return Counter(sent_run_ids([json.loads(raw) for raw in queue.lrange("celery", 0, -1)]))


def make_jobs(owner, workflow, count: int) -> list:
    return [
        cron.job_upsert(
            caller=owner,
            job_id=f"beats-{uuid.uuid4().hex[:10]}",
            workflow_id=workflow.workflow_id,
            user_id=None,
            input_text="",
            spec=schedules.interval_spec(seconds=1),
            overlap="allow",
        )
        for _ in range(count)
    ]


def stop_firing_and_drain(jobs, beats, queue) -> None:
    """Pause the jobs (what a pause writes), then wait until every queued run has been sent: a run
    claimed ahead is sent at its slot (up to LOOKAHEAD later), and a beat stopped right after a
    commit leaves its last runs to the sweeper."""
    CronJob.objects.filter(pk__in=[job.pk for job in jobs]).update(paused=True, next_fire_at=None)
    queued = Run.objects.filter(job__in=jobs, status=Run.Status.QUEUED)
    wait_until(
        lambda: {str(run_id) for run_id in queued.values_list("id", flat=True)} <= set(published_run_ids(queue)),
        timeout=(LOOKAHEAD + SWEEP_AFTER).total_seconds() + 30,
        what="every queued run to be sent",
        watch=beats,
        interval=0.5,
    )
    for beat in beats:
        beat.stop()


def assert_each_slot_recorded_once(jobs) -> int:
    """Every job has one run per slot from its first slot to its last, none missing; returns the count."""
    total = 0
    for job in jobs:
        slots = list(
            Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE)
            .order_by("scheduled_for")
            .values_list("scheduled_for", flat=True)
        )
        assert slots, f"job {job.job_id} never fired"
        assert slots[0] == job.anchor + timedelta(seconds=1), (job.job_id, slots[0], job.anchor)
        expected = [slots[0] + timedelta(seconds=k) for k in range(len(slots))]
        assert slots == expected, f"job {job.job_id}: slots missing or repeated"
        total += len(slots)
    return total


def assert_every_queued_run_published_once(jobs, queue) -> None:
    queued = set(
        str(run_id)
        for run_id in Run.objects.filter(job__in=jobs, status=Run.Status.QUEUED).values_list("id", flat=True)
    )
    published = published_run_ids(queue)
    assert queued <= set(published), f"{len(queued - set(published))} queued runs were never published"
    # Messages for ids that are no run would mean a beat published a slot another beat had taken.
    assert set(published) <= queued
    assert not Run.objects.filter(job__in=jobs, status=Run.Status.QUEUED, published_at__isnull=True).exists()


def test_two_beats_fire_each_slot_once(transactional_db, start_beat, alice, workflow, queue):
    first, second = start_beat(**UNLIMITED), start_beat(**UNLIMITED)
    jobs = make_jobs(alice, workflow, 10)

    time.sleep(25)
    stop_firing_and_drain(jobs, (first, second), queue)

    total = assert_each_slot_recorded_once(jobs)
    assert total >= 10 * 15, total  # both beats stalled for ten seconds would show here
    assert_every_queued_run_published_once(jobs, queue)
    published = published_run_ids(queue)
    assert max(published.values()) == 1, "a run was published twice"


def test_a_beat_killed_mid_batch_loses_and_repeats_no_slot(
    transactional_db, start_beat, alice, workflow, queue, settings
):
    # Enough one-second jobs that beat is inside a claim or a publish most of the time.
    settings.CRON_MAX_JOBS_PER_USER = 200
    jobs = make_jobs(alice, workflow, 200)
    beat = start_beat(**UNLIMITED)
    wait_until(
        lambda: Run.objects.filter(job__in=jobs).count() >= 600,
        timeout=90,
        what="three seconds' worth of runs",
        watch=(beat,),
    )

    os.killpg(beat.popen.pid, signal.SIGKILL)
    beat.popen.wait()
    killed_at = time.monotonic()
    restarted = start_beat(**UNLIMITED)
    wait_until(lambda: time.monotonic() - killed_at > 5, timeout=10, what="a few seconds", watch=(restarted,))
    # Runs the killed beat committed but had not published are the sweeper's to publish.
    stop_firing_and_drain(jobs, (restarted,), queue)

    assert_each_slot_recorded_once(jobs)
    assert_every_queued_run_published_once(jobs, queue)
