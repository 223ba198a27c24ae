"""Claiming ahead: a job is claimed up to LOOKAHEAD before its slot, its run committed then, and its
message sent when the slot comes; a pause or replace in between leaves nothing to execute.

Claims take the "now" each test is about; the tests of the beat itself run real ticks against the
real clock and only ever assert an order (never sent before the slot), never a duration.
"""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from cronjobs import schedules, services
from cronjobs.beat import JobScheduler
from cronjobs.claims import LOOKAHEAD, claim_due_jobs
from cronjobs.models import CronJob
from tests.cronjobs.helpers import fire_due_jobs
from vingine.celery import app
from workflows.models import Run
from workflows.runs import run_execute

pytestmark = pytest.mark.django_db


def test_a_job_is_claimed_ahead_with_its_run_committed_and_its_slot_still_shown_next(api, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    slot = job.next_fire_at
    now = slot - timedelta(seconds=3)

    claimed, runs = claim_due_jobs(now, now + LOOKAHEAD)

    [run] = Run.objects.filter(job=job)
    assert (claimed, runs) == (1, [(slot, run.id)])
    # Handed over for its slot (its owner's limit had room): beat sends it then, and nothing before.
    assert (run.status, run.scheduled_for, run.published_at) == (Run.Status.QUEUED, slot, slot)
    job.refresh_from_db()
    assert job.next_fire_at == slot + timedelta(seconds=60)  # no other beat can claim that slot again
    # The API still answers the prepared slot until it has come.
    assert job.next_run_time() == slot
    assert api.get(f"/api/cron/jobs/{job.job_id}").json()["job"]["next_run_time"] == slot.isoformat()
    # One prepared slot per job: the following slot is not claimed while this one is still to come.
    assert claim_due_jobs(now, slot + timedelta(seconds=61)) == (0, [])


def slot_soon(job: CronJob):
    """Give the job a slot half a second from now (as if created just under an interval ago)."""
    slot = timezone.now() + timedelta(milliseconds=500)
    CronJob.objects.filter(pk=job.pk).update(next_fire_at=slot)
    return slot


def wait_past(moment) -> None:
    deadline = time.monotonic() + 10
    while timezone.now() <= moment and time.monotonic() < deadline:
        time.sleep(0.05)


def test_after_its_slot_the_api_shows_the_following_one(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    slot = slot_soon(job)
    claim_due_jobs(timezone.now(), slot)
    job.refresh_from_db()
    assert job.next_run_time() == slot

    wait_past(slot)

    assert job.next_run_time() == job.next_fire_at > slot  # the next slot on its grid


def test_a_skip_job_whose_previous_run_is_unfinished_is_claimed_at_its_slot_not_ahead(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))  # overlap: skip
    first = job.next_fire_at
    fire_due_jobs(first)  # its run stays queued: no worker here
    second = first + timedelta(seconds=10)

    assert claim_due_jobs(second - timedelta(seconds=3), second) == (0, [])

    # At its slot the policy is applied as it always was.
    _, runs = claim_due_jobs(second, second + LOOKAHEAD)
    assert runs == []
    skipped = Run.objects.get(job=job, scheduled_for=second)
    assert (skipped.status, skipped.reason) == (Run.Status.SKIPPED, Run.Reason.OVERLAP)


def test_a_paused_job_never_claimed_ahead(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    slot = job.next_fire_at
    services.job_pause(user=alice, job_id=job.job_id)

    assert claim_due_jobs(slot - timedelta(seconds=1), slot) == (0, [])


@pytest.mark.parametrize("change", ["pause", "replace", "delete"])
def test_a_change_between_the_claim_and_the_slot_leaves_nothing_to_run(alice, workflow, make_job, change):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    slot = job.next_fire_at
    _, [(_, run_id)] = claim_due_jobs(slot - timedelta(seconds=3), slot)

    if change == "pause":
        services.job_pause(user=alice, job_id=job.job_id)
    elif change == "replace":
        make_job(workflow, schedules.interval_spec(seconds=30))  # same job id: a new schedule
    else:
        services.job_delete(user=alice, job_id=job.job_id)

    assert not Run.objects.filter(id=run_id).exists()
    # The beat holding the message still sends it at the slot: the worker finds nothing to run.
    assert run_execute(run_id=run_id) is None
    job = CronJob.objects.filter(pk=job.pk).first()
    if change == "replace":
        assert job.next_fire_at > timezone.now() and job.next_run_time() == job.next_fire_at
    if change == "pause":
        assert job.next_run_time() is None and job.prepared_for is None


def test_a_run_whose_slot_has_come_is_not_taken_back_by_a_pause(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    slot = slot_soon(job)
    _, [(_, run_id)] = claim_due_jobs(timezone.now(), slot)
    wait_past(slot)

    services.job_pause(user=alice, job_id=job.job_id)

    assert Run.objects.get(id=run_id).status == Run.Status.QUEUED  # it has fired: it runs


def test_the_beat_sends_a_prepared_run_at_its_slot_not_before(workflow, make_job, broker):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    slot = timezone.now() + LOOKAHEAD / 2
    CronJob.objects.filter(pk=job.pk).update(next_fire_at=slot)
    scheduler = JobScheduler(app=app)

    delay = scheduler.tick()

    run = Run.objects.get(job=job)  # committed ahead of its slot, handed over for it
    assert run.published_at == slot
    if timezone.now() < slot:  # (always, unless this machine stalled for seconds)
        assert broker.messages() == []
        assert 0 < delay <= (slot - timezone.now()).total_seconds() + 0.01
    deadline = time.monotonic() + 30
    while not broker.messages() and time.monotonic() < deadline:
        time.sleep(min(scheduler.tick(), 0.2))

    assert broker.run_ids() == [str(run.id)]
    assert timezone.now() >= slot
